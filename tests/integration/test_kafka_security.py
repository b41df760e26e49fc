"""Every Kafka client of the hub against a secured broker: SASL_SSL, SCRAM-SHA-512, mutual TLS.

A broker of its own (``deploy/local/stack.sh start kafka`` with the opt-in SASL_SSL listener, in
a temporary state folder) next to the suite's broker, which it never touches: its certificates
are made here with openssl, its SCRAM user is added over its PLAINTEXT listener. Through it a
message goes the whole way with security on: POST to ``v2v ingress`` -> raw topic -> ``v2v run``
worker (Faust) -> events topic, read back by a SASL consumer. A worker asked for security the
listener does not speak, or with a wrong password, exits with the broker's reason at once.

Ports: the SASL_SSL listener on the suite's Kafka port + 2, its PLAINTEXT listener + 3, its
controller + 4 (19094-19096 beside the default stack); ``V2V_TEST_SASL_PORT`` moves all three.
"""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from confluent_kafka import KafkaException
from confluent_kafka.admin import (
    AdminClient,
    ScramCredentialInfo,
    ScramMechanism,
    UserScramCredentialUpsertion,
)

from connectors.base import RawMessage
from connectors.conformance import sample_files
from connectors.courier.normalise import CourierConnector
from hub.cluster import connect
from hub.errors import ConfigurationError
from hub.events.models import Event
from hub.serde import SingleObjectWireFormat, codec_for
from hub.settings import REPO_ROOT, Settings
from hub.sim.stack import TopicReader, WorkerProcess, free_port, settings_env
from hub.topics import ensure_topics

pytestmark = pytest.mark.integration

STACK = REPO_ROOT / "deploy" / "local" / "stack.sh"
EVENTS = SingleObjectWireFormat(codec_for(Event))
PICKUP = sample_files("courier")[0]
USER = "v2v-hub"
# A worker refused by the broker must be gone well within this; it takes a few seconds.
REFUSAL_BOUND_S = 30.0
WRONG_PASSWORD = secrets.token_urlsafe(18)


@dataclass(frozen=True)
class Certificates:
    ca: Path  # the test CA (PEM), trusted by the broker and the clients
    broker_keystore: Path  # the broker's key + certificate chain (PEM), names IP 127.0.0.1 only
    client_cert: Path
    client_key: Path


@dataclass(frozen=True)
class SecureBroker:
    sasl: str  # bootstrap of the SASL_SSL listener
    sasl_port: int
    plaintext: str  # bootstrap of the same broker's PLAINTEXT listener
    certs: Certificates
    password: str


def openssl(command: str, *args: str | Path) -> None:
    argv = ["openssl", *command.split(), *map(str, args)]
    proc = subprocess.run(argv, capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.fail(f"{' '.join(argv)} failed:\n{proc.stderr}")


# EC P-256 keys, unencrypted PKCS#8 (what Kafka's PEM key store reads without a key password):
# generated in milliseconds, where RSA keys took seconds on a busy machine.
NEW_KEY = "-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes"


def make_certificates(folder: Path) -> Certificates:
    """A one-day CA, a broker certificate for 127.0.0.1 and a client certificate, signed by it."""
    ca, ca_key = folder / "ca.pem", folder / "ca.key"
    ca_extensions = ("basicConstraints=critical,CA:TRUE", "keyUsage=critical,keyCertSign,cRLSign")
    openssl(
        f"req -x509 {NEW_KEY} -days 1 -subj /CN=v2v-test-ca",
        *("-keyout", ca_key, "-out", ca),
        *(arg for ext in ca_extensions for arg in ("-addext", ext)),
    )
    extensions = {
        "broker": "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
        "client": "extendedKeyUsage=clientAuth\n",
    }
    for who, own in extensions.items():
        ext, key, csr, cert = (folder / f"{who}.{x}" for x in ("ext", "key", "csr", "pem"))
        ext.write_text(
            own + "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n"
            "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid,issuer\n"
        )
        openssl(
            f"req {NEW_KEY} -subj /CN=v2v-test-{who}",
            *("-keyout", key, "-out", csr),
        )
        openssl(
            f"x509 -req -days 1 -set_serial 0x{secrets.token_hex(8)}",
            *("-in", csr, "-CA", ca, "-CAkey", ca_key, "-extfile", ext, "-out", cert),
        )
    keystore = folder / "broker-keystore.pem"
    parts = (folder / "broker.key", folder / "broker.pem", ca)
    keystore.write_text("".join(p.read_text() for p in parts))
    return Certificates(ca, keystore, folder / "client.pem", folder / "client.key")


def kafka_libs() -> Path:
    """The suite's broker jars (deploy/local/stack.sh fetches them there on first use)."""
    pom = (REPO_ROOT / "deploy" / "local" / "pom.xml").read_text()
    match = re.search(r"<kafka.version>(.*)</kafka.version>", pom)
    assert match is not None
    state = Path(os.environ.get("V2V_STATE_DIR") or REPO_ROOT / ".local")
    return state / f"kafka-{match.group(1)}" / "libs"


def add_scram_user(plaintext: str, sasl_conf: dict[str, Any], password: str) -> None:
    """The SCRAM-SHA-512 user, added over the PLAINTEXT listener; returns once the broker
    accepts its login on the SASL_SSL listener."""
    admin = AdminClient({"bootstrap.servers": plaintext})
    upsert = UserScramCredentialUpsertion(
        USER, ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, 4096), password.encode()
    )
    for future in admin.alter_user_scram_credentials([upsert]).values():
        future.result(timeout=30)
    login = AdminClient(sasl_conf)
    deadline = time.monotonic() + 30
    while True:
        try:
            login.list_topics(timeout=1)
            return
        except KafkaException as exc:
            if time.monotonic() > deadline:
                pytest.fail(f"the broker never accepted {USER}'s SCRAM login: {exc}")


@pytest.fixture(scope="module")
def secure_broker(
    services: tuple[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SecureBroker]:
    suite_port = int(services[0].split(",")[0].rpartition(":")[2])
    sasl_port = int(os.environ.get("V2V_TEST_SASL_PORT") or suite_port + 2)
    folder = tmp_path_factory.mktemp("secure-kafka")
    certs = make_certificates(folder)
    env = {
        **{k: v for k, v in os.environ.items() if k != "V2V_STARTED_FILE"},
        "V2V_STATE_DIR": str(folder / "state"),
        "V2V_LOCAL_KAFKA_LIBS": str(kafka_libs()),
        "V2V_LOCAL_SASL_PORT": str(sasl_port),
        "V2V_LOCAL_KAFKA_PORT": str(sasl_port + 1),
        "V2V_LOCAL_CONTROLLER_PORT": str(sasl_port + 2),
        "V2V_LOCAL_SSL_KEYSTORE": str(certs.broker_keystore),
        "V2V_LOCAL_SSL_TRUSTSTORE": str(certs.ca),
        "V2V_LOCAL_SSL_CLIENT_AUTH": "required",
        # A broker that lives for one module: the quick JIT tier only starts it in about half
        # the CPU time, which is what a busy CI machine lacks.
        "V2V_LOCAL_JAVA_OPTS": "-XX:TieredStopAtLevel=1",
    }
    started = subprocess.run(
        [str(STACK), "start", "kafka"], env=env, capture_output=True, text=True, timeout=600
    )
    try:
        if started.returncode != 0:
            pytest.fail(f"the SASL_SSL broker did not start:\n{started.stderr}")
        broker = SecureBroker(
            sasl=f"127.0.0.1:{sasl_port}",
            sasl_port=sasl_port,
            plaintext=f"127.0.0.1:{sasl_port + 1}",
            certs=certs,
            password=secrets.token_urlsafe(18),
        )
        settings = secured(Settings(), broker)
        add_scram_user(broker.plaintext, settings.kafka_config(), broker.password)
        yield broker
    finally:
        subprocess.run([str(STACK), "stop", "kafka"], env=env, capture_output=True, timeout=120)


def secured(base: Settings, broker: SecureBroker, **changes: Any) -> Settings:
    """``base`` connecting to the broker's SASL_SSL listener: SCRAM-SHA-512 login, the test
    CA, the client certificate; ``changes`` override (validated like the environment is)."""
    security = {
        "kafka_bootstrap_servers": broker.sasl,
        "kafka_security_protocol": "SASL_SSL",
        "kafka_sasl_mechanism": "SCRAM-SHA-512",
        "kafka_sasl_username": USER,
        "kafka_sasl_password": broker.password,
        "kafka_ssl_ca_location": str(broker.certs.ca),
        "kafka_ssl_certificate_location": str(broker.certs.client_cert),
        "kafka_ssl_key_location": str(broker.certs.client_key),
    }
    return Settings(**{**base.model_dump(), **security, **changes})


@dataclass
class Ingress:
    """A ``v2v ingress`` child process; its output goes to ``log_path``."""

    settings: Settings
    log_path: Path
    port: int
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 60.0) -> Ingress:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "hub.cli", "ingress", "--port", str(self.port)],
                env={**os.environ, **settings_env(self.settings)},
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"ingress exited:\n{self.log_path.read_text()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        pytest.fail(f"ingress not serving after {timeout_s}s:\n{self.log_path.read_text()}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(30)


def post_to_ingress(
    url: str, partner: str, payload: bytes, content_type: str, auth: dict[str, str]
) -> httpx.Response:
    """The one request the tests make to the ingress, with the partner's bearer token."""
    return httpx.post(
        f"{url}/ingest/{partner}",
        content=payload,
        headers={"Content-Type": content_type, **auth},
        timeout=60,
    )


def test_ingress_and_worker_carry_a_message_over_sasl_ssl(
    secure_broker: SecureBroker, hub_settings: Settings, tmp_path: Path, tokens: Any
) -> None:
    settings = secured(hub_settings, secure_broker)
    ensure_topics(settings)
    payload = PICKUP.read_bytes()
    expected = {
        e.event_id
        for e in CourierConnector()
        .process(RawMessage("courier", payload, datetime.now(UTC)))
        .events
    }
    worker = WorkerProcess(settings, tmp_path / "worker.log").start()
    ingress = Ingress(settings, tmp_path / "ingress.log", free_port())
    try:
        ingress.start()
        worker.wait_ready()
        courier = tokens.headers("courier-gateway", "partner:courier")
        answer = post_to_ingress(ingress.url, "courier", payload, "application/json", courier)
        assert answer.status_code == 202, answer.text
        assert answer.json()["topic"] == settings.topic("raw.courier")
        with TopicReader(settings, settings.topic("events")) as events:
            assert events.poll_until(
                lambda records: expected <= {EVENTS.decode(r.value()).event_id for r in records},
                timeout_s=60,
            ), worker.tail()
        worker.wait_metric("v2v_events_processed_total", len(expected))
    finally:
        ingress.stop()
        worker.stop()


# What the worker is asked to do wrong, and the broker's reason its log must give.
REFUSALS = {
    "SASL_SSL on the PLAINTEXT listener": "connecting to a PLAINTEXT broker listener?",
    "SASL_PLAINTEXT on the PLAINTEXT listener": "SASL SCRAM-SHA-512 mechanism handshake failed",
    "wrong password": "Authentication failed",
}


@pytest.mark.parametrize("case", list(REFUSALS))
def test_worker_refused_by_the_broker_exits_with_the_reason(
    secure_broker: SecureBroker, hub_settings: Settings, tmp_path: Path, case: str
) -> None:
    no_tls = dict.fromkeys(
        ("kafka_ssl_ca_location", "kafka_ssl_certificate_location", "kafka_ssl_key_location")
    )
    changes: dict[str, Any] = {
        "SASL_SSL on the PLAINTEXT listener": {"kafka_bootstrap_servers": secure_broker.plaintext},
        "SASL_PLAINTEXT on the PLAINTEXT listener": {
            "kafka_bootstrap_servers": secure_broker.plaintext,
            "kafka_security_protocol": "SASL_PLAINTEXT",
            **no_tls,
        },
        "wrong password": {"kafka_sasl_password": WRONG_PASSWORD},
    }[case]
    worker = WorkerProcess(secured(hub_settings, secure_broker, **changes), tmp_path / "w.log")
    worker.start()
    assert worker.process is not None
    try:
        code = worker.process.wait(REFUSAL_BOUND_S)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{case}: the worker still runs after {REFUSAL_BOUND_S}s:\n{worker.tail()}")
    finally:
        worker.stop()
    log = worker.log_path.read_text()
    assert code != 0
    assert "refused the connection" in log, log
    assert REFUSALS[case] in log, log
    assert secure_broker.password not in log
    assert WRONG_PASSWORD not in log


def test_the_broker_certificate_must_name_the_host(
    secure_broker: SecureBroker, hub_settings: Settings
) -> None:
    """The broker's certificate names 127.0.0.1, not localhost: with endpoint identification
    (the default) a client that dialled localhost refuses it; switched off, it connects."""
    by_name = f"localhost:{secure_broker.sasl_port}"
    checked = secured(hub_settings, secure_broker, kafka_bootstrap_servers=by_name)
    with pytest.raises(ConfigurationError, match="certificate verify failed"):
        connect(checked, timeout_s=REFUSAL_BOUND_S)
    unchecked = secured(
        hub_settings,
        secure_broker,
        kafka_bootstrap_servers=by_name,
        kafka_ssl_endpoint_identification=False,
    )
    assert connect(unchecked, timeout_s=REFUSAL_BOUND_S).list_topics(timeout=10).brokers
