"""The schema registry seen from the serde: building its client, and telling its failures apart.

A failed registry call means one of two things, and the worker must treat them differently:

* the registry answered about the schema (404 unknown id, 409 incompatible, 422 invalid): the
  record cannot be decoded or encoded, now or later -> :class:`~hub.errors.SerializationError`
  (the record goes to the dead-letter topic);
* the registry did not answer (connection refused or reset, timeout, 408/429/5xx, or it refused
  *us* with 401/403): the record is fine -> :class:`~hub.errors.RegistryUnavailableError`
  (the record is retried, see :mod:`hub.serde.retry`).

confluent-kafka's client raises ``SchemaRegistryError`` (with the HTTP status) when the registry
answered, and lets its HTTP library's transport error through when it did not, after its own few
retries. Which library that is depends on the release: httpx2 when installed (2.16 prefers it),
else httpx; ``requests`` in old releases, whose errors are ``OSError``.
"""

from __future__ import annotations

import importlib
from functools import cache
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from hub.errors import HubError, RegistryUnavailableError, SerializationError

# Bounded so a hanging registry cannot hold a decode for ever (the client's default is no
# timeout at all). The client retries once, briefly, to absorb a dropped connection; longer
# outages are the caller's to wait out (hub.serde.retry backs off without blocking a loop).
REGISTRY_TIMEOUT_S = 5.0
CLIENT_RETRIES = 1
CLIENT_RETRY_WAIT_MS = 200

# Answers that say "not now" or "not you" rather than "no such schema".
_UNAVAILABLE_STATUS = frozenset({401, 403, 408, 429})


def new_registry_client(url: str, *, timeout_s: float = REGISTRY_TIMEOUT_S) -> Any:
    """A confluent-kafka schema registry client for ``url`` (``mock://...`` gives the in-memory
    mock), with a request timeout and a short retry budget of its own."""
    from confluent_kafka.schema_registry import SchemaRegistryClient

    return SchemaRegistryClient.new_client(
        {
            "url": url,
            "timeout": timeout_s,
            "max.retries": CLIENT_RETRIES,
            "retries.wait.ms": CLIENT_RETRY_WAIT_MS,
            "retries.max.wait.ms": CLIENT_RETRY_WAIT_MS,
        }
    )


@cache
def _transport_errors() -> tuple[type[Exception], ...]:
    """The errors that mean no answer came back, from every HTTP library the client may use."""
    found: list[type[Exception]] = [OSError]
    for name in ("httpx2", "httpx"):
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        found.append(module.TransportError)
    return tuple(found)


def display_url(registry: Any) -> str:
    """The registry's URL(s) as they may appear in an error or a log: without user info."""
    try:
        url = str(registry.config()["url"])
    except Exception:  # not a confluent client (a test double): name it by its type
        return type(registry).__name__
    return ",".join(_without_userinfo(part.strip()) for part in url.split(","))


def _without_userinfo(url: str) -> str:
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))


def registry_failure(
    exc: Exception, *, registry_url: str, schema_id: int | None = None, subject: str | None = None
) -> HubError:
    """The hub error for ``exc``, raised by a registry call about ``schema_id`` (a lookup) or
    ``subject`` (a registration). The caller raises it ``from exc``."""
    from confluent_kafka.schema_registry.error import OAuthTokenError, SchemaRegistryError

    what = f"schema id {schema_id}" if schema_id is not None else f"subject {subject}"
    if isinstance(exc, (*_transport_errors(), OAuthTokenError)):
        return RegistryUnavailableError(
            f"{type(exc).__name__}: {exc}",
            registry_url=registry_url,
            schema_id=schema_id,
            subject=subject,
        )
    if isinstance(exc, SchemaRegistryError):
        status = int(exc.http_status_code)
        if status >= 500 or status in _UNAVAILABLE_STATUS:
            return RegistryUnavailableError(
                str(exc),
                registry_url=registry_url,
                schema_id=schema_id,
                subject=subject,
                status=status,
            )
        if status == 404 and schema_id is not None:
            return SerializationError(f"{what} unknown to registry {registry_url}: {exc}")
        return SerializationError(f"registry {registry_url} refused {what}: {exc}")
    return SerializationError(f"registry {registry_url}, {what}: {type(exc).__name__}: {exc}")
