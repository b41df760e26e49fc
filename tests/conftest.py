"""Fixtures for real services: one per service, session-wide, never a mock.

Where the servers come from, in order:
1. ``KAFKA_BOOTSTRAP_SERVERS`` / ``REDIS_URL`` from the environment (``make test`` exports them
   after ``deploy/local/with-stack.sh`` started the local stack);
2. testcontainers, when a Docker engine answers;
3. ``deploy/local/stack.sh start`` (stopped again at session end if this session started it).
If none works the integration tests fail: a missing broker is never a skip.

The suite runs in development mode (``V2V_ENV=dev``): development values stand in for the
secrets, and the development identity provider mints the bearer tokens the HTTP tests send
(the ``tokens`` fixture), verified by the worker exactly as a production provider's would be.
"""

from __future__ import annotations

import os
import subprocess
import uuid
import warnings
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from confluent_kafka import KafkaException

from hub.auth.devidp import DevIdentityProvider
from hub.settings import REPO_ROOT, Settings
from hub.sim.stack import WorkerProcess, free_port
from hub.topics import drop_topics, ensure_topics

STACK = REPO_ROOT / "deploy" / "local" / "stack.sh"


def pytest_configure(config: pytest.Config) -> None:
    # Settings() read anywhere in the suite, and every process it starts, are in development
    # mode; a test of production behaviour says env="prod" explicitly.
    os.environ["V2V_ENV"] = "dev"


def _docker_engine() -> bool:
    if not os.environ.get("DOCKER_HOST") and not Path("/var/run/docker.sock").exists():
        return False  # asking anyway leaves the client's failed unix socket unclosed
    try:
        import docker

        client = docker.from_env(timeout=3)
    except Exception:
        return False
    try:
        return bool(client.ping())
    except Exception:
        return False
    finally:
        client.close()


@pytest.fixture(scope="session")
def services() -> Iterator[tuple[str, str]]:
    kafka, redis_url = os.environ.get("KAFKA_BOOTSTRAP_SERVERS"), os.environ.get("REDIS_URL")
    if kafka and redis_url:
        yield kafka, redis_url
        return
    if _docker_engine():
        from testcontainers.kafka import KafkaContainer
        from testcontainers.redis import RedisContainer

        with KafkaContainer("apache/kafka:4.1.2").with_kraft() as k, RedisContainer() as r:
            host, port = r.get_container_host_ip(), r.get_exposed_port(6379)
            yield k.get_bootstrap_server(), f"redis://{host}:{port}/0"
        return
    started = Path(REPO_ROOT / ".local" / f"started-{uuid.uuid4().hex}")
    env = {**os.environ, "V2V_STARTED_FILE": str(started)}
    proc = subprocess.run(
        [str(STACK), "start"], env=env, capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        pytest.fail(f"no Kafka/Redis: deploy/local/stack.sh start failed:\n{proc.stderr}")
    try:
        yield "127.0.0.1:19092", "redis://127.0.0.1:16379/0"
    finally:
        if started.exists():
            names = started.read_text().split()
            subprocess.run([str(STACK), "stop", *names], check=False, capture_output=True)
            started.unlink()


@pytest.fixture
def hub_settings(services: tuple[str, str], tmp_path: Path) -> Iterator[Settings]:
    """Settings of a hub of its own: unique topic prefix, app id, web port and Redis keys.
    Its topics are deleted afterwards (``V2V_KEEP_TEST_TOPICS=1`` keeps them to look at): a
    broker holding every finished test's topics makes each later worker slower to start."""
    kafka, redis_url = services
    run = uuid.uuid4().hex[:10]
    settings = Settings(
        kafka_bootstrap_servers=kafka,
        redis_url=redis_url,
        topic_prefix=f"test.{run}",
        app_id=f"v2v-test-{run}",
        web_port=free_port(),
        tick_interval_s=0,
        data_dir=tmp_path / "faust",
        partners=["courier"],
        log_level="info",
        env="dev",
        dev_idp_dir=tmp_path / "idp",
    )
    yield settings
    if os.environ.get("V2V_KEEP_TEST_TOPICS"):
        return
    try:
        drop_topics(settings)
    except KafkaException as exc:  # a test that broke the broker on purpose says so itself
        warnings.warn(f"topics of {settings.topic_prefix} not deleted: {exc}", stacklevel=1)


class Tokens:
    """Bearer tokens from the development identity provider of one test's hub."""

    def __init__(self, settings: Settings) -> None:
        self.idp = DevIdentityProvider(settings).ensure()

    def token(
        self, user: str, *roles: str, name: str | None = None, auth_age_min: float = 0.0
    ) -> str:
        return self.idp.mint(user, list(roles), name=name, auth_age=timedelta(minutes=auth_age_min))

    def headers(
        self, user: str, *roles: str, name: str | None = None, auth_age_min: float = 0.0
    ) -> dict[str, str]:
        """``Authorization: Bearer <token>`` for ``user`` with ``roles``."""
        token = self.token(user, *roles, name=name, auth_age_min=auth_age_min)
        return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def tokens(hub_settings: Settings) -> Tokens:
    return Tokens(hub_settings)


@pytest.fixture
def worker(hub_settings: Settings, tmp_path: Path) -> Iterator[WorkerProcess]:
    """A real ``v2v run`` worker process on this test's own topics."""
    ensure_topics(hub_settings)
    with WorkerProcess(hub_settings, tmp_path / "worker.log").running() as proc:
        yield proc
