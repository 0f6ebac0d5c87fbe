"""deploy/ checked with the real tools: docker-compose, promtool, haproxy, shellcheck,
kubectl's kustomize and the Kubernetes OpenAPI schemas; the dashboards' queries run on
the real views (chDB) and parse as PromQL."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from fastapi import FastAPI
from fastapi.routing import APIRoute

from services.cli import parser
from services.common.clickhouse import connect
from services.projections.views import Views
from tests.tools import tool
from tests.world import World

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
SECRETS = {
    "POSTGRES_PASSWORD": "pg-secret-000000001",
    "CLICKHOUSE_PASSWORD": "ch-secret-000000001",
    "GRAFANA_ADMIN_PASSWORD": "gf-secret-000000001",
    "HALLWATCH_KEYS": "hall:H1:hall-h1-secret-000001,monitor:prometheus:monitor-secret-0001",
    "HALLWATCH_CIPHER_KEY": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
    "HALLWATCH_CHAIN_KEY": "BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB=",
}
SERVICES = {"intake", "relay", "supervision", "projections"}
DATASOURCES = {"prometheus", "clickhouse"}


def run(*cmd: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False,
                          **kwargs)


def hallwatch_commands() -> set[str]:
    sub = next(a for a in parser()._actions if a.dest == "command")
    return set(sub.choices)  # type: ignore[arg-type]


# -- compose ---------------------------------------------------------------------------

def compose_config(tmp_path: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    env_file = tmp_path / "compose.env"
    env_file.write_text("".join(f"{k}={v}\n" for k, v in env.items()))
    clean = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    return run(tool("docker-compose"), "--env-file", str(env_file), "-f",
               str(DEPLOY / "compose.yaml"), "config", env=clean)


@pytest.fixture(scope="module")
def compose(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    done = compose_config(tmp_path_factory.mktemp("compose"), SECRETS)
    assert done.returncode == 0, done.stderr
    return yaml.safe_load(done.stdout)  # type: ignore[no-any-return]


def test_the_compose_file_is_valid_for_docker_compose_and_runs_every_service(compose):
    services = compose["services"]
    assert {"kafka-1", "kafka-2", "kafka-3", "kafka-topics", "postgres", "clickhouse",
            "intake", "proxy", "relay", "supervision-1", "supervision-2", "projections",
            "prometheus", "grafana"} <= set(services)
    for name, service in services.items():
        command = service.get("command")
        if service.get("image", "").startswith("hallwatch"):
            assert command[0] in hallwatch_commands() & SERVICES, name
            assert command[1:3] == ["--host", "0.0.0.0"], name
            env = service["environment"]
            assert env["HALLWATCH_EVENT_STORE"].startswith("postgresql://")
            assert env["HALLWATCH_CLICKHOUSE"].startswith("http://")  # never chDB
            assert "healthcheck" in service, name
    assert services["intake"]["deploy"]["replicas"] >= 2


def test_the_two_supervision_instances_have_distinct_static_membership_ids(compose):
    ids = {compose["services"][f"supervision-{n}"]["environment"]["HALLWATCH_INSTANCE_ID"]
           for n in (1, 2)}
    assert len(ids) == 2 and "" not in ids


def test_the_kafka_cluster_is_three_kraft_brokers_replicating_to_three_with_two_in_sync(
        compose):
    brokers = [compose["services"][f"kafka-{n}"]["environment"] for n in (1, 2, 3)]
    assert {b["KAFKA_NODE_ID"] for b in brokers} == {"1", "2", "3"}
    for broker in brokers:
        assert broker["KAFKA_PROCESS_ROLES"] == "broker,controller"
        assert broker["KAFKA_CONTROLLER_QUORUM_VOTERS"].count("@") == 3
        assert broker["KAFKA_DEFAULT_REPLICATION_FACTOR"] == "3"
        assert broker["KAFKA_MIN_INSYNC_REPLICAS"] == "2"
        assert broker["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    script = (DEPLOY / "compose" / "kafka-topics.sh").read_text()
    assert '--replication-factor "${REPLICATION:-3}"' in script
    assert 'min.insync.replicas="${MIN_INSYNC:-2}"' in script
    assert "retention.ms=-1" in script


def test_the_compose_file_refuses_to_render_without_its_secrets(tmp_path):
    partial = {k: v for k, v in SECRETS.items() if k != "HALLWATCH_CIPHER_KEY"}
    done = compose_config(tmp_path, partial)
    assert done.returncode != 0
    assert "HALLWATCH_CIPHER_KEY" in done.stderr


def test_the_example_env_file_names_every_variable_the_compose_file_needs(tmp_path):
    lines = (DEPLOY / "compose.env.example").read_text().splitlines()
    example = dict(ln.split("=", 1) for ln in lines if ln and not ln.startswith("#"))
    assert set(SECRETS) <= set(example)
    assert ",monitor:" in example["HALLWATCH_KEYS"]  # Prometheus's key for /metrics
    done = compose_config(tmp_path, example)
    assert done.returncode == 0, done.stderr


def test_every_file_the_compose_file_mounts_exists(compose):
    for name, service in compose["services"].items():
        for volume in service.get("volumes", []):
            source = volume["source"] if isinstance(volume, dict) else volume.split(":")[0]
            if source.startswith("/"):  # a file of deploy/ (config renders absolute paths)
                assert Path(source).exists(), f"{name} mounts missing {source}"
            else:
                assert source in compose["volumes"], f"{name} mounts undeclared {source}"


def test_the_topic_script_and_the_proxy_config_pass_their_checkers():
    check = run(tool("shellcheck"), str(DEPLOY / "compose" / "kafka-topics.sh"))
    assert check.returncode == 0, check.stdout
    proxy = run(tool("haproxy"), "-c", "-f", str(DEPLOY / "haproxy" / "haproxy.cfg"))
    assert proxy.returncode == 0, proxy.stdout + proxy.stderr


# -- Prometheus ------------------------------------------------------------------------

@pytest.mark.parametrize("config", ["prometheus/prometheus.yml", "k8s/prometheus.yml"])
def test_the_prometheus_configs_and_rules_pass_promtool(config, tmp_path):
    # Laid out as both deployments mount them: config/{prometheus,alerts}.yml beside
    # secrets/monitor.key (the bearer key /metrics asks for).
    (tmp_path / "config").mkdir()
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "monitor.key").write_text("monitor-secret-000001")
    shutil.copy(DEPLOY / config, tmp_path / "config" / "prometheus.yml")
    shutil.copy(DEPLOY / "prometheus" / "alerts.yml", tmp_path / "config" / "alerts.yml")
    done = run(tool("promtool"), "check", "config", str(tmp_path / "config" / "prometheus.yml"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "8 rules found" in done.stdout
    jobs = yaml.safe_load((DEPLOY / config).read_text())["scrape_configs"]
    hallwatch = [j for j in jobs if j["job_name"].startswith("hallwatch-")]
    assert len(hallwatch) == 4  # intake, relay, supervision, projections
    assert all(j["authorization"]["credentials_file"] == "../secrets/monitor.key"
               for j in hallwatch)


def test_each_alert_rule_fires_on_its_situation_and_not_on_a_healthy_one():
    rules = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())
    names = {r["alert"] for g in rules["groups"] for r in g["rules"]}
    assert {"HallwatchRelayStalled", "HallwatchConsumerLagHigh", "HallwatchOverdueSurge",
            "HallwatchChainVerificationFailed"} <= names
    tests = (DEPLOY / "prometheus" / "alerts.test.yml").read_text()
    assert all(f"alertname: {name}" in tests for name in names)
    done = run(tool("promtool"), "test", "rules", "alerts.test.yml",
               cwd=DEPLOY / "prometheus")
    assert done.returncode == 0, done.stdout + done.stderr


# -- Grafana ---------------------------------------------------------------------------

def dashboards() -> dict[str, dict[str, Any]]:
    return {p.name: json.loads(p.read_text())
            for p in sorted((DEPLOY / "grafana" / "dashboards").glob("*.json"))}


def targets(kind: str) -> list[tuple[str, dict[str, Any]]]:
    return [(f"{name} · {panel['title']}", target)
            for name, board in dashboards().items() for panel in board["panels"]
            for target in panel["targets"] if target["datasource"]["uid"] == kind]


def test_the_dashboards_are_well_formed_and_use_only_provisioned_data_sources():
    provisioned = yaml.safe_load(
        (DEPLOY / "grafana" / "provisioning" / "datasources" / "hallwatch.yaml").read_text())
    assert {d["uid"] for d in provisioned["datasources"]} == DATASOURCES
    boards = dashboards()
    assert set(boards) == {"operations.json", "supervision-overview.json"}
    assert len({b["uid"] for b in boards.values()}) == len(boards)
    for name, board in boards.items():
        assert board["title"] and isinstance(board["schemaVersion"], int), name
        ids = [p["id"] for p in board["panels"]]
        assert len(ids) == len(set(ids)), name
        for panel in board["panels"]:
            assert panel["datasource"]["uid"] in DATASOURCES, panel["title"]
            grid = panel["gridPos"]
            assert grid["w"] > 0 and grid["h"] > 0 and grid["x"] + grid["w"] <= 24
            assert panel["targets"], panel["title"]
            refs = [t["refId"] for t in panel["targets"]]
            assert len(refs) == len(set(refs)), panel["title"]


def test_every_prometheus_query_of_the_dashboards_parses_as_promql(tmp_path):
    # promtool parses PromQL when it checks recording rules: one rule per query.
    queries = targets("prometheus")
    assert len(queries) >= 15
    rules = {"groups": [{"name": "dashboards", "rules": [
        {"record": f"dashboard:query_{n}", "expr": t["expr"]}
        for n, (_, t) in enumerate(queries)]}]}
    path = tmp_path / "dashboards.rules.yml"
    path.write_text(yaml.safe_dump(rules))
    done = run(tool("promtool"), "check", "rules", str(path))
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_clickhouse_query_of_the_dashboards_runs_on_the_views(tmp_path):
    views = Views(connect(f"chdb:///{tmp_path / 'chdb'}"))
    queries = targets("clickhouse")
    assert queries
    try:
        for title, target in queries:
            # Grafana's time-filter macro, expanded as the plugin does for a 7-day range.
            sql = re.sub(r"\$__timeFilter\((\w+)\)",
                         r"\1 >= now() - INTERVAL 7 DAY AND \1 <= now()", target["rawSql"])
            assert "$" not in sql, title
            views.client.query(sql)
    finally:
        views.client.close()


# -- Kubernetes ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def manifests() -> list[dict[str, Any]]:
    done = run(tool("kubectl"), "kustomize", str(DEPLOY))
    assert done.returncode == 0, done.stderr
    return [d for d in yaml.safe_load_all(done.stdout) if d]


def test_the_kubernetes_manifests_validate_against_the_api_schemas(manifests):
    for doc in manifests:
        kubernetes_validate.validate(doc, "1.33.0", strict=True)
    kinds = {(d["kind"], d["metadata"]["name"]) for d in manifests}
    for name in ("intake", "relay", "grafana"):
        assert ("Deployment", name) in kinds
    for name in ("supervision", "projections", "kafka", "postgres", "clickhouse", "prometheus"):
        assert ("StatefulSet", name) in kinds
    for name in ("intake", "supervision", "projections", "kafka"):
        assert ("PodDisruptionBudget", name) in kinds
    assert ("Job", "kafka-topics") in kinds
    assert not [d for d in manifests if d["kind"] == "Secret"]  # secrets come from outside


def workloads(manifests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [d for d in manifests if d["kind"] in ("Deployment", "StatefulSet")]


def test_every_container_has_probes_and_resources_and_hallwatch_runs_as_non_root(manifests):
    for workload in workloads(manifests):
        spec = workload["spec"]["template"]["spec"]
        for container in spec["containers"]:
            where = f"{workload['metadata']['name']}/{container['name']}"
            assert "readinessProbe" in container and "livenessProbe" in container, where
            resources = container["resources"]
            assert resources["requests"]["cpu"] and resources["limits"]["memory"], where
            if "hallwatch" in container["image"]:
                assert spec["securityContext"]["runAsNonRoot"] is True, where
                assert container["args"][0] in hallwatch_commands() & SERVICES, where
                assert container["securityContext"]["allowPrivilegeEscalation"] is False


SECRET_VARS = {"HALLWATCH_EVENT_STORE", "HALLWATCH_CLICKHOUSE", "HALLWATCH_KEYS",
               "HALLWATCH_CIPHER_KEY", "POSTGRES_PASSWORD", "CLICKHOUSE_PASSWORD",
               "GF_SECURITY_ADMIN_PASSWORD"}


def test_hallwatch_secrets_are_only_referenced_never_inlined(manifests):
    seen = set()
    for workload in workloads(manifests):
        for container in workload["spec"]["template"]["spec"]["containers"]:
            for var in container.get("env", []):
                if var["name"] in SECRET_VARS:
                    seen.add(var["name"])
                    assert "value" not in var, f"{var['name']} inlined"
                    assert var["valueFrom"]["secretKeyRef"]["name"] == "hallwatch-secrets"
    assert seen == SECRET_VARS
    example = yaml.safe_load((DEPLOY / "k8s" / "secret.example.yaml").read_text())
    referenced = {var["valueFrom"]["secretKeyRef"]["key"]
                  for w in workloads(manifests)
                  for c in w["spec"]["template"]["spec"]["containers"]
                  for var in c.get("env", []) if "secretKeyRef" in var.get("valueFrom", {})}
    assert referenced <= set(example["stringData"])


def test_stateful_hallwatch_members_take_their_pod_name_as_static_membership_id(manifests):
    for name in ("supervision", "projections"):
        (workload,) = [w for w in workloads(manifests) if w["metadata"]["name"] == name]
        (container,) = workload["spec"]["template"]["spec"]["containers"]
        env = {v["name"]: v for v in container["env"]}
        assert env["HALLWATCH_INSTANCE_ID"]["valueFrom"]["fieldRef"]["fieldPath"] == \
            "metadata.name"
    (relay,) = [w for w in workloads(manifests) if w["metadata"]["name"] == "relay"]
    assert relay["spec"]["replicas"] == 1 and relay["spec"]["strategy"]["type"] == "Recreate"


# -- the image -------------------------------------------------------------------------

def dockerfile() -> list[tuple[str, str]]:
    text = (DEPLOY / "Dockerfile").read_text().replace("\\\n", " ")
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]
    return [(ln.split()[0].upper(), ln.split(None, 1)[1]) for ln in lines]


def test_the_image_is_multi_stage_non_root_and_runs_hallwatch():
    steps = dockerfile()
    assert len([a for op, a in steps if op == "FROM"]) >= 2
    last_from = max(i for i, (op, _) in enumerate(steps) if op == "FROM")
    users = [a for op, a in steps[last_from:] if op == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    entry = [json.loads(a) for op, a in steps if op == "ENTRYPOINT"]
    assert entry == [["hallwatch"]]
    (cmd,) = [json.loads(a) for op, a in steps if op == "CMD"]
    assert cmd[0] in hallwatch_commands()
    installs = " ".join(a for op, a in steps if op == "RUN" and "pip install" in a)
    assert "embedded" not in installs and "chdb" not in installs.replace("'chdb'", "")


def test_every_file_the_image_copies_is_in_the_build_context():
    allowed = [ln[1:].rstrip("/") for ln in (ROOT / ".dockerignore").read_text().splitlines()
               if ln.startswith("!")]
    for op, args in dockerfile():
        if op != "COPY" or args.startswith("--from"):
            continue
        for source in args.split()[:-1]:
            assert (ROOT / source).exists(), source
            assert any(source == a or source.startswith(a + "/") for a in allowed), source


def test_production_code_runs_without_chdb_and_says_so_when_a_chdb_dsn_is_given():
    program = """
import importlib.abc, sys
class NoChdb(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "chdb" or name.startswith("chdb."):
            raise ImportError("No module named 'chdb'", name="chdb")
sys.meta_path.insert(0, NoChdb())
import services.cli, services.intake.service, services.common.relay
import services.projections.service, services.supervision.service
assert "chdb" not in sys.modules
from services.common.clickhouse import connect
try:
    connect("chdb:///nowhere")
except SystemExit as stop:
    print(stop)
"""
    done = run(sys.executable, "-c", program, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert "HALLWATCH_CLICKHOUSE" in done.stdout and "hallwatch[embedded]" in done.stdout


def test_the_ingress_sends_every_api_route_to_the_service_that_answers_it(
        manifests, settings, clock):
    world = World(settings, clock)
    owners = {"intake": world.intake.router, "projections": world.projections.router,
              "supervision": world.supervision.router}
    world.close()
    (ingress,) = [d for d in manifests if d["kind"] == "Ingress"]
    paths = ingress["spec"]["rules"][0]["http"]["paths"]
    # ingress-nginx tries regex locations longest first; the first match wins.
    ordered = sorted(paths, key=lambda p: len(p["path"]), reverse=True)
    for owner, router in owners.items():
        # An app flattens the routers each router includes (bulletins, live views).
        flat = FastAPI()
        flat.include_router(router)
        for route in flat.routes:
            if not isinstance(route, APIRoute):
                continue
            sample = re.sub(r"\{[^}]+\}", "X-1", route.path)  # type: ignore[attr-defined]
            if "{action}" in route.path:  # type: ignore[attr-defined]
                sample = sample.removesuffix("X-1") + "acknowledge"
            chosen = next((p["backend"]["service"]["name"] for p in ordered
                           if re.match(p["path"], sample)), None)
            assert chosen == owner, f"{sample} goes to {chosen}, answered by {owner}"
