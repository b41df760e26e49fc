"""Dashboards, alert rules, Grafana provisioning and the compose file (docs/observability.md):
well formed, wired to one another, and naming only metrics the hub exports, read from the
registry of ``hub/metrics.py`` so a renamed metric fails here. promtool parses and unit-tests
the rules and the dashboards' PromQL in ``make rules-check``; this needs no Prometheus."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import CollectorRegistry

from hub.metrics import create_metrics
from hub.settings import REPO_ROOT

DEPLOY = REPO_ROOT / "deploy"
_spec = importlib.util.spec_from_file_location("expressions", DEPLOY / "grafana/expressions.py")
assert _spec is not None
assert _spec.loader is not None
expressions = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(expressions)

# Metrics that the partner feed health and the audit trail declare in hub/metrics.py; accepted
# until the registry has them, and refused once it does (see the test of this set), so this list
# can never hide a rename.
DECLARED_BY_FEATURES: frozenset[str] = frozenset()  # the audit trail's are declared now
PROMETHEUS_OWN = frozenset({"up"})  # written by Prometheus for every scrape target
SUFFIXES = {
    "counter": ("_total", "_created"),
    "gauge": ("",),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
    "summary": ("", "_count", "_sum", "_created"),
    "info": ("_info",),
}
PROMQL_WORDS = frozenset(
    {
        "and",
        "or",
        "unless",
        "bool",
        "offset",
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
        "inf",
        "nan",
    }
)


def registry_names() -> set[str]:
    """Every series name the hub's registry exposes (a counter ``x`` as ``x_total`` ...)."""
    names = set()
    for family in create_metrics(CollectorRegistry()).registry.collect():
        names |= {family.name + suffix for suffix in SUFFIXES.get(family.type, ("",))}
    return names


REGISTRY = registry_names()
EXPORTED = REGISTRY | DECLARED_BY_FEATURES | PROMETHEUS_OWN


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (not functions, labels or keywords)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expressions.plain(expr))
    text = re.sub(r"\{[^}]*\}", " ", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", " ", text)  # ranges and subqueries
    text = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    text = re.sub(r"\boffset\s+-?\w+", " ", text)
    names = set()
    for match in re.finditer(r"(?<![\w.])[A-Za-z_:][\w:]*", text):
        if text[match.end() :].lstrip().startswith("("):
            continue  # a function or an aggregation
        if match.group().lower() not in PROMQL_WORDS:
            names.add(match.group())
    return names


def unknown(exprs: list[tuple[str, str]]) -> dict[str, set[str]]:
    """``where -> names`` for every expression naming a metric the hub does not export."""
    found = {where: metric_names(expr) - EXPORTED for where, expr in exprs}
    return {where: names for where, names in found.items() if names}


def rule_files() -> dict[str, dict[str, Any]]:
    return {
        p.name: yaml.safe_load(p.read_text(encoding="utf-8"))
        for p in sorted((DEPLOY / "prometheus/rules").glob("*.yml"))
    }


def alerts() -> list[dict[str, Any]]:
    return [r for doc in rule_files().values() for g in doc["groups"] for r in g["rules"]]


def test_metric_names_are_read_from_promql() -> None:
    expr = (
        'sum by (partner, code) (rate(v2v_raw_rejected_total{partner=~"$partner"}'
        "[$__rate_interval])) / on (partner) group_left v2v_raw_messages_total offset 5m "
        "> bool 0.05 unless histogram_quantile(0.9, sum by (le) (rate(x_bucket[5m]))) "
        "and time() - max(y) > 1e3"
    )
    assert metric_names(expr) == {
        "v2v_raw_rejected_total",
        "v2v_raw_messages_total",
        "x_bucket",
        "y",
    }


def test_the_registry_is_read_as_prometheus_exposes_it() -> None:
    assert {"v2v_raw_messages_total", "v2v_cases_open", "v2v_consumer_lag"} <= REGISTRY
    assert "v2v_detection_latency_seconds_bucket" in REGISTRY
    assert "process_resident_memory_bytes" in REGISTRY  # the worker's process collector
    assert "v2v_raw_messages" not in REGISTRY  # a counter is exposed with _total


def test_a_renamed_metric_is_caught() -> None:
    exprs = [("panel 1", "sum(rate(v2v_raw_messages_total[5m]))"), ("panel 2", "v2v_cases_opn")]
    assert unknown(exprs) == {"panel 2": {"v2v_cases_opn"}}


def test_features_metrics_accepted_only_until_the_registry_declares_them() -> None:
    declared = DECLARED_BY_FEATURES & REGISTRY
    assert not declared, f"{sorted(declared)} are in hub/metrics.py now: drop them from the set"


# --- dashboards ---------------------------------------------------------------------------

DASHBOARDS = expressions.dashboards()


def test_dashboards_are_there_with_unique_uids() -> None:
    assert set(DASHBOARDS) == {"v2v-cases.json", "v2v-flow.json", "v2v-partners.json"}
    uids = [d["uid"] for d in DASHBOARDS.values()]
    assert len(set(uids)) == len(uids)


@pytest.mark.parametrize("name", sorted(DASHBOARDS))
def test_dashboard_is_well_formed(name: str) -> None:
    board = DASHBOARDS[name]
    assert board["uid"] == Path(name).stem
    assert board["title"].strip()
    assert board["panels"]
    ids = [p["id"] for p in expressions.panels(board)]
    assert len(set(ids)) == len(ids), "panel ids repeat"
    for panel in expressions.panels(board):
        where = f"{name} panel {panel['id']}"
        assert panel.get("title", "").strip(), where
        grid = panel["gridPos"]
        assert 0 <= grid["x"] < grid["x"] + grid["w"] <= 24, where
        if panel["type"] == "row":
            continue
        assert panel["datasource"]["type"] == "prometheus", where
        assert panel["targets"], where
        assert all(t["expr"].strip() and t["refId"] for t in panel["targets"]), where


@pytest.mark.parametrize("name", sorted(DASHBOARDS))
def test_dashboard_queries_name_only_exported_metrics(name: str) -> None:
    assert unknown(list(expressions.queries(DASHBOARDS[name]))) == {}


def test_dashboards_cover_what_operations_watch() -> None:
    """Throughput, dead letters by partner and code, open cases by severity and SLA state,
    detection latency, partner freshness, consumer lag, notification failures."""
    exprs = [e for board in DASHBOARDS.values() for _, e in expressions.queries(board)]

    def shown(pattern: str) -> bool:
        return any(re.search(pattern, e) for e in exprs)

    assert shown(r"rate\(v2v_raw_messages_total")
    assert shown(r"rate\(v2v_events_processed_total")
    assert shown(r"by \(partner, code\) \(\w+\(v2v_raw_rejected_total")
    assert shown(r"by \(severity, sla\) \(v2v_cases_open")
    assert shown(r"histogram_quantile\(.*v2v_detection_latency_seconds_bucket")
    assert shown(r"time\(\) - max by \(partner\) \(v2v_feed_last_seen_timestamp_seconds")
    assert shown(r"v2v_consumer_lag")
    assert shown(r"v2v_notification_failures_total")


# --- alert rules --------------------------------------------------------------------------


def test_alert_rules_name_only_exported_metrics() -> None:
    assert unknown([(r["alert"], r["expr"]) for r in alerts()]) == {}


def test_alerts_the_operations_issue_asks_for_exist() -> None:
    names = {r["alert"] for r in alerts()}
    assert {
        "V2VPartnerFeedSilent",
        "V2VDeadLetterRateHigh",
        "V2VConsumerStalled",
        "V2VNotificationFailures",
        "V2VAuditCheckpointOverdue",
    } <= names


def doc_anchors(path: Path) -> set[str]:
    headings = re.findall(r"^#{1,4} (.+)$", path.read_text(encoding="utf-8"), flags=re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}


def test_every_alert_has_a_severity_and_a_playbook_that_exists() -> None:
    for rule in alerts():
        assert rule["labels"]["severity"] in {"critical", "high", "medium", "low"}, rule["alert"]
        assert rule["annotations"]["summary"].strip(), rule["alert"]
        page, _, anchor = rule["annotations"]["playbook"].partition("#")
        assert page in {"docs/continuity.md", "docs/observability.md"}, rule["alert"]
        assert anchor in doc_anchors(REPO_ROOT / page), f"{rule['alert']}: no #{anchor} in {page}"


def test_every_alert_has_a_promtool_unit_test() -> None:
    tests = [
        yaml.safe_load(p.read_text(encoding="utf-8"))
        for p in (DEPLOY / "prometheus/tests").glob("*.yml")
    ]
    tested = {
        case["alertname"]
        for doc in tests
        for group in doc["tests"]
        for case in group.get("alert_rule_test", [])
        if case.get("exp_alerts")  # a case where it fires, not only where it must not
    }
    assert {r["alert"] for r in alerts()} - tested == set()


# --- Prometheus config, Grafana provisioning and the compose file -------------------------

COMPOSE = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text(encoding="utf-8"))
SERVICES = COMPOSE["services"]


def mounts(service: str) -> dict[str, Path]:
    """Container path -> host path of the service's bind mounts (compose defaults applied,
    host paths relative to the compose file's folder)."""
    found = {}
    for volume in SERVICES[service].get("volumes", []):
        source, target = re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", volume).split(":")[:2]
        if source.startswith("."):
            found[target] = (DEPLOY / source).resolve()
    return found


def test_compose_runs_prometheus_and_grafana_on_loopback() -> None:
    for name in ("prometheus", "grafana"):
        assert SERVICES[name]["image"].split(":")[1], f"{name}: pin the image version"
        assert all(p.startswith("127.0.0.1:") for p in SERVICES[name]["ports"]), name
        for target, source in mounts(name).items():
            assert source.exists(), f"{name}: {source} (mounted at {target}) does not exist"


def test_prometheus_in_compose_reads_the_checked_config_and_rules() -> None:
    paths = mounts("prometheus")
    config_arg = next(a for a in SERVICES["prometheus"]["command"] if "--config.file=" in a)
    config_path = config_arg.split("=", 1)[1]
    assert paths[config_path] == DEPLOY / "prometheus/prometheus.yml"
    config = yaml.safe_load(paths[config_path].read_text(encoding="utf-8"))
    base = Path(config_path).parent
    for pattern in config["rule_files"]:
        folder = paths[str(base / Path(pattern).parent)]
        assert sorted(folder.glob(Path(pattern).name)), pattern
    (job,) = config["scrape_configs"]
    assert job["job_name"] == "v2v-worker"  # the job the rules and dashboards select
    (sd,) = job["file_sd_configs"]
    for pattern in sd["files"]:
        folder = paths[str(base / Path(pattern).parent)]
        targets = [
            t
            for f in sorted(folder.glob(Path(pattern).name))
            for group in yaml.safe_load(f.read_text(encoding="utf-8"))
            for t in group["targets"]
        ]
        assert targets == ["host.docker.internal:6066"]
    assert "host.docker.internal:host-gateway" in SERVICES["prometheus"]["extra_hosts"]
    other = yaml.safe_load((DEPLOY / "prometheus/targets-compose/worker.yml").read_text())
    hub_port = SERVICES["hub"]["environment"]["V2V_WEB_PORT"]
    assert other[0]["targets"] == [f"hub:{hub_port}"]


def test_grafana_is_provisioned_with_the_datasource_and_the_dashboards() -> None:
    paths = mounts("grafana")
    provisioning = paths["/etc/grafana/provisioning"]
    (source,) = yaml.safe_load(
        (provisioning / "datasources/prometheus.yml").read_text(encoding="utf-8")
    )["datasources"]
    assert source["type"] == "prometheus"
    prometheus_port = SERVICES["prometheus"]["ports"][0].rsplit(":", 1)[1]
    assert source["url"] == f"http://prometheus:{prometheus_port}"
    (provider,) = yaml.safe_load((provisioning / "dashboards/v2v.yml").read_text(encoding="utf-8"))[
        "providers"
    ]
    assert paths[provider["options"]["path"]] == DEPLOY / "grafana/dashboards"
    home = SERVICES["grafana"]["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert Path(home).name in DASHBOARDS
    assert "prometheus" in SERVICES["grafana"]["depends_on"]


def test_grafana_has_no_default_admin_password() -> None:
    password = SERVICES["grafana"]["environment"]["GF_SECURITY_ADMIN_PASSWORD"]
    assert re.fullmatch(r"\$\{\w+:\?[^}]+\}", password), "the password must be required"
