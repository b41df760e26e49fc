"""The Kubernetes deployment (deploy/helm, deploy/strimzi): in step with the hub, least privilege,
secrets only from Secrets, and a validation that really rejects broken manifests.

The helm and kubeconform tests use the binaries ``make deploy-check`` builds into .local/bin
(``make test`` runs it first). In CI a missing binary fails the test; elsewhere it is skipped
with the command that builds it.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from hub.settings import INGRESS_SECRETS, REPO_ROOT, Settings, missing_secrets
from hub.topics import Topics

DEPLOY = REPO_ROOT / "deploy"
CHART = DEPLOY / "helm" / "v2v-hub"
STRIMZI = DEPLOY / "strimzi"
BROKEN = sorted((DEPLOY / "tools" / "testdata").glob("broken-*.yaml"))
TOOLS = REPO_ROOT / ".local" / "bin"
SECRET_SETTINGS = {
    "V2V_PSEUDONYM_KEY",
    "V2V_REDIS_URL",
    "V2V_KAFKA_SASL_PASSWORD",
    "V2V_KAFKA_SSL_KEY_PASSWORD",
    "V2V_WEBHOOK_URL",
    "V2V_SIGNATURE_KEY",
}
IDP = [
    "--set",
    "auth.issuer=https://idp.example.com/realms/v2v",
    "--set",
    "auth.jwksUrl=https://idp.example.com/realms/v2v/certs",
]


def _load(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]


@pytest.fixture(scope="module")
def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "strimzi_resources", DEPLOY / "tools" / "strimzi_resources.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def values() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((CHART / "values.yaml").read_text(encoding="utf-8"))
    return loaded


@pytest.fixture(scope="module")
def chart_settings(values: dict[str, Any]) -> Settings:
    """The hub's settings as the chart's defaults configure the workers."""
    return Settings(
        topic_prefix=values["topics"]["prefix"],
        app_id=values["appId"],
        topic_partitions=values["topics"]["partitions"],
        topic_replication=values["topics"]["replication"],
        partner_dir=DEPLOY / "partners",
        partners=values["partners"],
    )


@pytest.fixture(scope="module")
def kafka_topics() -> dict[str, dict[str, Any]]:
    docs = _load(STRIMZI / "topics.yaml")
    assert {d["kind"] for d in docs} == {"KafkaTopic"}
    return {d["spec"].get("topicName", d["metadata"]["name"]): d for d in docs}


@pytest.fixture(scope="module")
def kafka_users() -> dict[str, list[dict[str, Any]]]:
    docs = _load(STRIMZI / "users.yaml")
    assert {d["kind"] for d in docs} == {"KafkaUser"}
    return {d["metadata"]["name"]: d["spec"]["authorization"]["acls"] for d in docs}


def _ops(acls: list[dict[str, Any]], kind: str = "topic") -> dict[str, set[str]]:
    """Operations per resource name (a prefix ACL keeps its name with a trailing '*')."""
    out: dict[str, set[str]] = {}
    for acl in acls:
        resource = acl["resource"]
        if resource["type"] != kind:
            continue
        star = "*" if resource.get("patternType") == "prefix" else ""
        out.setdefault(resource["name"] + star, set()).update(acl["operations"])
    return out


# --- Strimzi resources against the hub ------------------------------------------------------------


def test_strimzi_files_are_what_the_generator_writes_today(generator: ModuleType) -> None:
    for path, text in generator.expected().items():
        assert path.read_text(encoding="utf-8") == text, (
            f"{path.name} is out of date: run python deploy/tools/strimzi_resources.py"
        )


def test_the_generator_settings_are_the_charts(
    generator: ModuleType, chart_settings: Settings
) -> None:
    ours = generator.hub_settings()
    for field in ("topic_prefix", "app_id", "topic_partitions", "topic_replication", "partners"):
        assert getattr(ours, field) == getattr(chart_settings, field), field


def test_every_topic_the_chart_uses_is_a_kafka_topic_replicated_three_times(
    chart_settings: Settings, kafka_topics: dict[str, dict[str, Any]]
) -> None:
    from hub.runtime.app import create_app

    wanted = Topics.of(chart_settings).all()
    app = create_app(chart_settings)
    changelogs = [t.changelog_topic.get_topic_name() for t in app.tables.values()]
    assert f"{chart_settings.app_id}-chains-changelog" in changelogs
    for name in [*wanted, *changelogs]:
        assert name in kafka_topics, f"no KafkaTopic for {name}"
    for name, topic in kafka_topics.items():
        spec = topic["spec"]
        assert spec["replicas"] == 3, name
        assert spec["config"]["min.insync.replicas"] == 2, name
        assert topic["metadata"]["labels"]["strimzi.io/cluster"] == "v2v", name
        if name in wanted or name in changelogs:
            # Faust's tables are co-partitioned with the topics that feed them.
            assert spec["partitions"] == chart_settings.topic_partitions, name
    for name in changelogs:
        assert kafka_topics[name]["spec"]["config"]["cleanup.policy"] == "compact"


def test_audit_and_record_topics_are_never_compacted_or_deleted(
    chart_settings: Settings, kafka_topics: dict[str, dict[str, Any]]
) -> None:
    topics = Topics.of(chart_settings)
    for name in [topics.audit, topics.events, topics.dlq, *topics.raw.values()]:
        config = kafka_topics[name]["spec"]["config"]
        assert config["cleanup.policy"] == "delete", name  # no compaction ...
        assert config["retention.ms"] == -1, name  # ... and no deletion by age
        assert config["retention.bytes"] == -1, name  # ... or by size


def test_a_new_partner_gets_a_topic_and_only_the_producers_may_write_it(
    generator: ModuleType, tmp_path: Path
) -> None:
    for entry in (DEPLOY / "partners").glob("*.yaml"):
        (tmp_path / entry.name).write_text(entry.read_text(encoding="utf-8"), encoding="utf-8")
    courier = (tmp_path / "courier.yaml").read_text(encoding="utf-8")
    (tmp_path / "courier2.yaml").write_text(
        courier.replace("id: courier", "id: courier2"), encoding="utf-8"
    )
    settings = generator.hub_settings().model_copy(update={"partner_dir": tmp_path})
    names = {t["metadata"]["name"] for t in generator.topics(settings)}
    assert "v2v.raw.courier2" in names
    users = {
        u["metadata"]["name"]: u["spec"]["authorization"]["acls"] for u in generator.users(settings)
    }
    assert "Write" in _ops(users["v2v-ingress"])["v2v.raw.courier2"]
    assert "Write" not in _ops(users["v2v-worker"])["v2v.raw.courier2"]
    assert "courier2" not in users


# --- least privilege ------------------------------------------------------------------------------


def test_one_user_per_component_and_none_for_a_partner(
    values: dict[str, Any], kafka_users: dict[str, list[dict[str, Any]]]
) -> None:
    components = {values[c]["kafkaUser"] for c in ("worker", "ingress", "filedrop")}
    assert set(kafka_users) == components
    partners = {p.stem for p in (DEPLOY / "partners").glob("*.yaml")}
    assert not partners & set(kafka_users)


def test_no_user_holds_cluster_rights_or_all(kafka_users: dict[str, list[dict[str, Any]]]) -> None:
    for name, acls in kafka_users.items():
        assert not [a for a in acls if a["resource"]["type"] == "cluster"], name
        assert not [a for a in acls if "All" in a["operations"]], name
        assert all(a.get("type", "allow") == "allow" for a in acls), name


def test_ingress_and_filedrop_only_write_raw_topics(
    chart_settings: Settings, kafka_users: dict[str, list[dict[str, Any]]]
) -> None:
    raw = set(Topics.of(chart_settings).raw.values())
    for user in ("v2v-ingress", "v2v-filedrop"):
        acls = kafka_users[user]
        assert not _ops(acls, "group"), f"{user} must not consume"
        ops = _ops(acls)
        assert {t for t, o in ops.items() if "Write" in o} == raw, user
        assert all(o <= {"Write", "Describe"} for o in ops.values()), user
        assert not [t for t in ops if t.endswith("*")], f"{user}: no prefix ACLs"


def test_the_worker_reads_what_it_consumes_and_never_writes_raw_topics(
    chart_settings: Settings, kafka_users: dict[str, list[dict[str, Any]]]
) -> None:
    from hub.runtime.app import create_app

    acls = kafka_users["v2v-worker"]
    ops = _ops(acls)
    app = create_app(chart_settings)
    consumed = {name for agent in app.agents.values() for name in agent.channel.topics}
    for topic in consumed:
        assert "Read" in ops.get(topic, set()), f"worker cannot read {topic}"
    for topic in Topics.of(chart_settings).raw.values():
        assert ops[topic] == {"Read", "Describe"}, topic
    assert _ops(acls, "group") == {chart_settings.app_id: {"Read", "Describe"}}
    # Faust's internal topics (changelogs, leader, repartition) all start with the app id.
    assert ops[f"{chart_settings.app_id}-*"] >= {"Create", "Read", "Write"}
    created = {t for t, o in ops.items() if "Create" in o}
    assert created == {f"{chart_settings.app_id}-*"}, "hub topics belong to the Topic Operator"


def test_the_chart_talks_to_the_strimzi_cluster(values: dict[str, Any]) -> None:
    docs = _load(STRIMZI / "kafka.yaml")
    kafka = next(d for d in docs if d["kind"] == "Kafka")
    cluster = kafka["metadata"]["name"]
    listener = next(
        lst
        for lst in kafka["spec"]["kafka"]["listeners"]
        if lst.get("authentication", {}).get("type") == "scram-sha-512"
    )
    assert listener["tls"] is True
    assert values["kafka"]["authentication"] == "scram-sha-512"
    assert values["kafka"]["bootstrapServers"] == f"{cluster}-kafka-bootstrap:{listener['port']}"
    assert values["kafka"]["clusterCaSecret"]["name"] == f"{cluster}-cluster-ca-cert"
    pools = [d for d in docs if d["kind"] == "KafkaNodePool"]
    roles = {role: d["spec"]["replicas"] for d in pools for role in d["spec"]["roles"]}
    assert roles == {"controller": 3, "broker": 3}
    config = kafka["spec"]["kafka"]["config"]
    assert config["min.insync.replicas"] == 2
    assert config["auto.create.topics.enable"] is False


# --- the rendered chart (helm) --------------------------------------------------------------------


def _tool(name: str) -> Path:
    path = TOOLS / name
    if not path.exists():
        message = f"{path.relative_to(REPO_ROOT)} is missing: run make deploy-check"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


def _helm(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(_tool("helm")), "template", "v2v-hub", str(CHART), "--kube-version", "1.34.4", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def rendered() -> dict[tuple[str, str], dict[str, Any]]:
    result = _helm("-f", str(CHART / "ci" / "production-values.yaml"))
    assert result.returncode == 0, result.stderr
    docs = [d for d in yaml.safe_load_all(result.stdout) if d]
    return {(d["kind"], d["metadata"]["name"]): d for d in docs}


def _containers(rendered: dict[tuple[str, str], dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for (kind, _), doc in rendered.items():
        if kind in ("StatefulSet", "Deployment"):
            yield from doc["spec"]["template"]["spec"]["containers"]


def test_the_worker_is_a_statefulset_with_static_membership_and_a_volume(
    rendered: dict[tuple[str, str], dict[str, Any]],
) -> None:
    worker = rendered[("StatefulSet", "v2v-hub-worker")]
    container = worker["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e for e in container["env"]}
    assert env["V2V_INSTANCE_ID"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    data_dir = env["V2V_DATA_DIR"]["value"]
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    assert mounts[data_dir] == "data"
    claims = [c["metadata"]["name"] for c in worker["spec"]["volumeClaimTemplates"]]
    assert claims == ["data"]
    assert container["args"] == ["v2v", "run"]


def test_secrets_come_from_secrets_never_from_values(
    rendered: dict[tuple[str, str], dict[str, Any]],
) -> None:
    assert not [k for k in rendered if k[0] == "Secret"], "no Secret rendered by default"
    seen = set()
    for container in _containers(rendered):
        for env in container["env"]:
            if env["name"] in SECRET_SETTINGS:
                seen.add(env["name"])
                assert "value" not in env, f"{env['name']} has a literal value"
                assert "secretKeyRef" in env["valueFrom"], env["name"]
    assert {"V2V_PSEUDONYM_KEY", "V2V_REDIS_URL", "V2V_KAFKA_SASL_PASSWORD"} <= seen
    assert "V2V_SIGNATURE_KEY" in seen


def _every_secret() -> list[str]:
    """The hub's own list (hub.settings), from settings with no secret set whatever the
    environment of the test run."""
    unset = dict.fromkeys(
        ["pseudonym_key", "auth_issuer", "auth_jwks_url", "auth_jwks_file", "signature_key"]
    )
    bare = Settings(env="prod", audit_signing_key_file=None, **unset)  # type: ignore[arg-type]
    return missing_secrets(bare)


def _env_and_mounts(container: dict[str, Any]) -> tuple[dict[str, dict[str, Any]], set[str]]:
    return {e["name"]: e for e in container["env"]}, {
        m["mountPath"] for m in container.get("volumeMounts", [])
    }


def test_each_process_gets_the_secrets_it_refuses_to_start_without(
    rendered: dict[tuple[str, str], dict[str, Any]],
) -> None:
    """The hub's own list of secrets (hub.settings), not a copy: the worker gets every one, with
    the checkpoint key a file from a Secret volume; ingress and the file drop no signing key."""
    everything = _every_secret()
    assert everything  # nothing set in the bare settings: every secret is named
    for (kind, name), doc in rendered.items():
        if kind not in ("StatefulSet", "Deployment"):
            continue
        env, mounts = _env_and_mounts(doc["spec"]["template"]["spec"]["containers"][0])
        needs = everything if name.endswith("-worker") else list(INGRESS_SECRETS)
        for secret in needs:
            assert any(option.strip() in env for option in secret.split(" or ")), (name, secret)
        if name.endswith("-worker"):
            key_file = Path(env["V2V_AUDIT_SIGNING_KEY_FILE"]["value"])
            assert str(key_file.parent) in mounts
        else:
            assert not {"V2V_SIGNATURE_KEY", "V2V_AUDIT_SIGNING_KEY_FILE"} & set(env), name


def test_compose_gives_its_hub_every_secret_from_the_environment() -> None:
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text(encoding="utf-8"))
    hub = compose["services"]["hub"]
    env = hub["environment"]
    for secret in _every_secret():
        given = [o.strip() for o in secret.split(" or ") if o.strip() in env]
        assert given, secret
        name = given[0]
        assert ":?" in env[name] or name == "V2V_AUDIT_SIGNING_KEY_FILE", f"{name} has a default"
    key_file = env["V2V_AUDIT_SIGNING_KEY_FILE"]
    assert key_file == "/run/secrets/audit-signing-key"
    assert hub["secrets"] == ["audit-signing-key"]
    assert ":?" in compose["secrets"]["audit-signing-key"]["file"]


def test_the_chart_names_no_identity_provider_of_its_own() -> None:
    result = _helm()
    assert result.returncode != 0
    assert "auth.issuer is required" in result.stderr
    assert _helm("--set", "environment=dev").returncode == 0


# Variables the chart sets ahead of the settings that will read them: the deployment mode.
NOT_YET_SETTINGS: set[str] = set()


@pytest.mark.parametrize("variant", ["production", "mutual-tls"])
def test_every_container_environment_is_valid_hub_settings(
    variant: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    extra = (
        ["-f", str(CHART / "ci" / "production-values.yaml")]
        if variant == "production"
        else ["--set", "kafka.authentication=tls", *IDP]
    )
    result = _helm(*extra)
    assert result.returncode == 0, result.stderr
    docs = [d for d in yaml.safe_load_all(result.stdout) if d]
    fields = {f"V2V_{name.upper()}" for name in Settings.model_fields}
    containers = [
        c
        for d in docs
        if d["kind"] in ("StatefulSet", "Deployment")
        for c in d["spec"]["template"]["spec"]["containers"]
    ]
    assert containers
    for container in containers:
        env = {}
        for var in container["env"]:
            assert var["name"] in fields | NOT_YET_SETTINGS, f"{var['name']} is no hub setting"
            source = var.get("valueFrom", {})
            env[var["name"]] = var.get("value") or f"from-{sorted(source)[0]}"
        for name in [k for k in os.environ if k.startswith("V2V_")]:
            monkeypatch.delenv(name)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        settings = Settings()  # the hub's own validation: a whole, consistent security set
        assert settings.kafka_uses_tls
        assert settings.topic_replication == 3


def test_a_chart_made_secret_has_no_default() -> None:
    result = _helm("--set", "secrets.create=true", *IDP)
    assert result.returncode != 0
    assert "secrets.values.pseudonymKey is required" in result.stderr
    filled = ["--set", "secrets.values.pseudonymKey=k", "--set", "secrets.values.redisUrl=r"]
    result = _helm("--set", "secrets.create=true", *IDP, *filled)
    assert "secrets.values.signatureKey is required" in result.stderr


def test_the_partner_registry_configmap_is_the_repositorys(
    rendered: dict[tuple[str, str], dict[str, Any]],
) -> None:
    data = rendered[("ConfigMap", "v2v-hub-partners")]["data"]
    files = {p.name: p.read_text(encoding="utf-8") for p in (DEPLOY / "partners").glob("*.yaml")}
    assert data == files
    profiles = rendered[("ConfigMap", "v2v-hub-profiles")]["data"]
    assert set(profiles) == {p.name for p in (REPO_ROOT / "hub/chain/profiles").glob("*.yaml")}


# --- kubeconform: the validation rejects what it must ---------------------------------------------


def _kubeconform(*files: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(DEPLOY / "tools" / "kubeconform.sh"), str(_tool("kubeconform")), *map(str, files)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_kubeconform_accepts_the_strimzi_resources() -> None:
    result = _kubeconform(*sorted(STRIMZI.glob("*.yaml")))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("broken", "reason"),
    [
        ("broken-kafkatopic-replicas.yaml", "/spec/replicas"),
        ("broken-kafkauser-acl.yaml", "patternType"),
        ("broken-statefulset-field.yaml", "volumeClaimTemplate"),
        ("broken-unknown-kind.yaml", "could not find schema for ServiceMonitor"),
    ],
)
def test_kubeconform_rejects_a_broken_manifest(broken: str, reason: str) -> None:
    assert {p.name for p in BROKEN} >= {broken}
    result = _kubeconform(DEPLOY / "tools" / "testdata" / broken)
    assert result.returncode != 0, f"kubeconform accepted {broken}"
    assert reason in result.stdout + result.stderr
