"""The scale-out ClickHouse variant is the single-node DDL with only its engines changed,
parses in ClickHouse (chDB), and matches its deploy/ configuration."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from services.common.clickhouse import DATABASE, connect
from services.projections import cluster
from services.projections.views import TABLES, schema_files, statements

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy" / "clickhouse" / "cluster"


@pytest.fixture(scope="module")
def clickhouse(tmp_path_factory):
    client = connect(f"chdb://{tmp_path_factory.mktemp('chdb')}")
    yield client
    client.close()


def formatted(client, sql: str) -> str:
    """The statement as ClickHouse's parser understands it (raises on a syntax error)."""
    return str(client.query("SELECT formatQuery({q:String})",
                            parameters={"q": sql}).result_rows[0][0])


def cluster_statements(file: Path) -> list[str]:
    return statements(cluster.CLUSTER_DIR / file.name)


def cluster_tables(file: Path) -> list[str]:
    return [s for s in cluster_statements(file) if s.startswith("CREATE TABLE")]


def tables(file: Path) -> list[str]:
    return [s for s in statements(file) if s.startswith("CREATE TABLE")]


def test_the_committed_variant_is_what_the_generator_writes_from_every_schema_file():
    assert sorted(p.name for p in cluster.CLUSTER_DIR.glob("*.sql")) == \
        sorted(p.name for p in schema_files())
    for file in schema_files():
        assert (cluster.CLUSTER_DIR / file.name).read_text() == cluster.render(file)


def test_every_statement_of_the_variant_parses_in_clickhouse(clickhouse):
    for file in schema_files():
        for sql in cluster_statements(file):
            assert formatted(clickhouse, sql).startswith(("CREATE ", "INSERT INTO ",
                                                          "ALTER TABLE "))


def test_only_the_engine_clauses_differ_from_the_single_node_tables(clickhouse):
    for file in schema_files():
        local = {}
        distributed = {}
        for sql in cluster_tables(file):
            text = formatted(clickhouse, sql)
            name = re.search(rf"CREATE TABLE IF NOT EXISTS {DATABASE}\.(\w+)", text)[1]
            (distributed if "ENGINE = Distributed(" in text else local)[name] = text
        for sql in tables(file):
            single = formatted(clickhouse, sql)
            name = re.search(rf"CREATE TABLE IF NOT EXISTS {DATABASE}\.(\w+)", single)[1]
            twin = local[f"{name}_local" if name in TABLES else name]
            # Undo exactly the variant's changes: the name, ON CLUSTER, the replication.
            undone = twin.replace(f"{name}_local", name)
            undone = undone.replace(" ON CLUSTER `{cluster}`", "")
            undone = re.sub(r"ENGINE = Replicated(\w+)\('/clickhouse/tables/[^']+', "
                            r"'\{replica\}'(?:, )?", r"ENGINE = \1(", undone)
            undone = undone.replace("MergeTree()", "MergeTree")
            assert undone == single
            if name in TABLES:
                assert f"/clickhouse/tables/{{shard}}/{DATABASE}/{name}'" in twin
                assert distributed[name].endswith(
                    f"ENGINE = Distributed('{{cluster}}', {DATABASE}, {name}_local, "
                    f"{cluster.SHARDED[name]})")
            else:
                assert f"/clickhouse/tables/all/{DATABASE}/{name}'" in twin


def test_the_views_the_services_read_are_sharded_by_hall_and_the_alert_index_by_case():
    assert set(cluster.SHARDED) == set(TABLES)  # every view a rebuild replaces, only those
    assert {cluster.SHARDED[t] for t in ("events", "cases", "alerts")} == \
        {"cityHash64(hall_id)"}
    assert cluster.SHARDED["alerts_by_case"] == "cityHash64(case_no)"


def test_a_backfill_statement_runs_through_the_distributed_tables_unchanged():
    for file in schema_files():
        inserts = [s for s in statements(file) if s.startswith("INSERT INTO")]
        assert [s for s in cluster_statements(file) if s.startswith("INSERT INTO")] == inserts


def test_the_deploy_configuration_defines_the_cluster_and_macros_the_schema_names():
    config = ET.parse(DEPLOY / "config.xml").getroot()
    shards = config.findall("./remote_servers/hallwatch/shard")
    assert len(shards) == 2 and all(len(s.findall("replica")) == 2 for s in shards)
    assert all(s.findtext("internal_replication") == "true" for s in shards)
    assert len(config.findall("./zookeeper/node")) == 3
    macros = ET.parse(DEPLOY / "macros.ch-s1-r1.xml").getroot().find("macros")
    assert macros is not None and macros.findtext("cluster") == "hallwatch"
    hosts = [r.findtext("host") for s in shards for r in s.findall("replica")]
    assert macros.findtext("replica") in hosts


def test_the_cluster_profile_sets_only_settings_clickhouse_knows(clickhouse):
    users = ET.parse(DEPLOY / "users.xml").getroot()
    profile = {e.tag: e.text for e in users.find("./profiles/hallwatch")}
    assert profile["distributed_product_mode"] == "local"
    known = {r[0] for r in clickhouse.query(
        "SELECT name FROM system.settings WHERE name IN {names:Array(String)}",
        parameters={"names": list(profile)}).result_rows}
    assert known == set(profile)



def test_a_column_added_is_added_to_the_local_tables_and_the_distributed_one():
    for file in schema_files():
        expected = []
        for sql in statements(file):
            if not sql.startswith("ALTER TABLE"):
                continue
            name = re.match(rf"ALTER TABLE {DATABASE}\.(\w+) ", sql)[1]
            change = sql.split(f"{DATABASE}.{name} ", 1)[1]
            targets = [f"{name}_local", name] if name in TABLES else [name]
            expected += [f"ALTER TABLE {DATABASE}.{t} ON CLUSTER '{{cluster}}' {change}"
                         for t in targets]
        assert [s for s in cluster_statements(file) if s.startswith("ALTER TABLE")] == \
            expected
