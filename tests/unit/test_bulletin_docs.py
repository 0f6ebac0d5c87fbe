"""docs/bulletins.md, the figure definitions and the SQL describe the same figures."""

from __future__ import annotations

import re
from pathlib import Path

from services.projections import figures, figures_sql

DOC = (Path(__file__).resolve().parents[2] / "docs" / "bulletins.md").read_text()
DERIVED = {"extensions_unapproved"}  # computed from two counts, not by a query


def test_the_docs_hold_the_generated_figures_table():
    assert figures.as_markdown() in DOC


def test_every_documented_count_is_computed_by_exactly_one_query():
    computed: list[str] = []
    for view in figures_sql.QUERIES:
        sql = figures_sql.query(view, "hall")
        computed += re.findall(r"\bAS ([a-z_]+)\s*(?:,|\n\s*FROM)", sql)
    # every query also says which period a row is of
    assert computed.count("period_no") == len(figures_sql.QUERIES)
    computed = [name for name in computed if name != "period_no"]
    assert sorted(computed) == sorted(set(figures.COUNT_KEYS) - DERIVED)


def test_every_rate_is_documented_with_its_parts():
    assert set(figures.RATE_PARTS) == {f.key for f in figures.RATES}
    for rate, (part, whole) in figures.RATE_PARTS.items():
        assert f"{part} / {whole}" == figures.FIGURES[rate].formula
        assert {part, whole} <= set(figures.COUNT_KEYS)


def test_a_rate_with_nothing_to_divide_is_absent_not_zero():
    counts = dict.fromkeys(figures.COUNT_KEYS, 0)
    assert set(figures.derive(counts).values()) == {None}
    counts.update(on_time=2, on_time_base=3)
    assert figures.derive(counts)["on_time_rate"] == 0.6667
