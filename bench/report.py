"""The Markdown report (bench/REPORT.md) of a run's JSON document."""

from __future__ import annotations

from typing import Any


def number(value: float | None, unit: str = "") -> str:
    if value is None:
        return "—"
    if unit in ("ms", "% of a core") or abs(value) < 100:
        text = f"{value:,.1f}" if abs(value) >= 1 or value == 0 else f"{value:.3f}"
    else:
        text = f"{value:,.0f}"
    return f"{text} {unit}".strip()


def verdict(meets: bool | None) -> str:
    return {True: "yes", False: "**no**", None: "—"}[meets]


def markdown(doc: dict[str, Any]) -> str:
    m = doc["machine"]
    raws = {r["key"]: r for r in doc["raw_limits"]}
    lines = [
        "# hallwatch benchmark report",
        "",
        f"Produced by `{doc['command']}` ({'quick smoke run' if doc['quick'] else 'full run'}"
        f"), finished {doc['finished']} in {doc['seconds']:.0f} s.",
        "",
        f"Machine: {m['cpus']} CPUs ({m['cpu_model'] or 'unknown model'}), "
        f"{m['memory_mb']:,} MB, Python {m['python']}, {m['platform']}. "
        f"**Load average at start {', '.join(map(str, m['load_average_at_start']))}; at end "
        f"{', '.join(map(str, m.get('load_average_at_end', [])))}** (the machine is shared: "
        "figures are lower than on an idle box; ratios to raw limits measured in the same "
        "run are the comparable numbers).",
        "",
        "Packages: " + ", ".join(f"{k} {v}" for k, v in m["packages"].items()) + ".",
        "",
        "## Raw limits (this machine, this run)",
        "",
        "| raw limit | figure | note |",
        "|---|---:|---|",
    ]
    for r in doc["raw_limits"]:
        lines.append(f"| {r['what']} | {number(r['value'], r['unit'])} | {r['note']} |")
    titles = {
        "embedded": "Embedded mode (SQLite + chDB + notification log, one `hallwatch serve`)",
        "production": "Production mode (PostgreSQL + Kafka; intake, relay, supervision and "
                      "projections as separate processes)",
        "probe": "Probes run on their own (too long for this run; committed under "
                 "`bench/probes/`, each with its command and date)"}
    for mode, title in titles.items():
        rows = [f for f in doc["figures"] if f["key"].startswith(mode + ".")]
        if not rows:
            continue
        lines += ["", f"## {title}", "",
                  "| stage | figure | raw limit | ratio | target | meets | notes |",
                  "|---|---:|---:|---:|---|---|---|"]
        for f in rows:
            raw = raws.get(f["raw"])
            limit = (f"{number(f['raw_value'], raw['unit'] if raw else '')}"
                     if f["raw_value"] is not None else "—")
            ratio = f"{f['ratio']:.3f}" if f["ratio"] is not None else "—"
            lines.append(f"| {f['what']} | {number(f['value'], f['unit'])} | {limit} | {ratio} "
                         f"| {f['target']} | {verdict(f['meets'])} | {f['note']} |")
    if doc.get("sizing"):
        lines += ["", "## Sizing derived from this run", "",
                  "Each stage planned at half of its measured production rate (the "
                  "projections at half of the embedded sink rate, the one measured in "
                  "process); ClickHouse shards at a quarter of chDB's raw 10k-row insert "
                  "rate each. See docs/performance.md for the reasoning.", "",
                  "| scale | peak events/s | intake | relay | supervision | projections | "
                  "partitions | ClickHouse shards |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
        for s in doc["sizing"]:
            p = s["processes"]
            lines.append(f"| {s['scale']} | {s['peak_events_per_s']:,} | {p['intake']} | "
                         f"{p['relay']} | {p['supervision']} | {p['projections']} | "
                         f"{s['partitions']} | {s['clickhouse_shards']} |")
    if doc.get("notes"):
        lines += ["", "## Notes", ""] + [f"- {n}" for n in doc["notes"]]
    for name, text in (doc.get("profiles") or {}).items():
        lines += ["", f"## Profile: {name} (cProfile, by own time)", "", "```",
                  text.strip(), "```"]
    return "\n".join(lines) + "\n"
