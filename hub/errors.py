"""The hub's error tree, drawn once.

    HubError
    +-- ConfigurationError      settings or a product profile cannot be used
    +-- SerializationError      bytes do not decode against, or a value does not fit, a schema
    +-- NormalisationError      a partner message cannot become canonical events (-> dead letter)
    |   +-- InvalidIdentifierError   a DIN / COI / other identifier fails its format or check
    |   +-- TimezoneMissingError     a timestamp carries no UTC offset
    +-- DeliveryError           Kafka, a webhook or the registry did not answer (transient: retry)
    |   +-- RegistryUnavailableError  no schema from the registry: refused, timeout, 5xx
    +-- AuthenticationError     a bearer token is missing or does not verify (HTTP 401)

Every error carries the context a reader needs (partner, message id) and is raised with
``raise ... from exc`` when it wraps another.
"""

from __future__ import annotations


class HubError(Exception):
    """Root of every error the hub raises on purpose."""


class ConfigurationError(HubError):
    """Settings, a product profile or a policy file is missing or invalid."""


class SerializationError(HubError):
    """A value does not fit its Avro schema, or bytes do not decode against it."""


class NormalisationError(HubError):
    """A partner message cannot be turned into canonical events.

    ``code`` is a stable machine-readable reason (used in dead-letter headers and metrics
    labels); ``field`` names the offending field where one is known.
    """

    code = "MALFORMED"

    def __init__(
        self,
        reason: str,
        *,
        partner: str = "",
        message_id: str | None = None,
        field: str | None = None,
        code: str | None = None,
    ) -> None:
        self.reason = reason
        self.partner = partner
        self.message_id = message_id
        self.field = field
        if code is not None:
            self.code = code
        where = f" (field {field})" if field else ""
        super().__init__(f"{reason}{where}")


class InvalidIdentifierError(NormalisationError):
    """An identifier fails its format or its ISO/IEC 7064 check character."""

    code = "INVALID_IDENTIFIER"


class TimezoneMissingError(NormalisationError):
    """A timestamp has no UTC offset; the hub never guesses a time zone."""

    code = "TIMEZONE_MISSING"


class DeliveryError(HubError):
    """A record was not acknowledged by Kafka, a webhook or another service the hub depends on.

    Transient: the record itself is fine. A caller retries it or reports the failure; it never
    dead-letters the record for this reason.
    """


class RegistryUnavailableError(DeliveryError):
    """The schema registry could not be asked about a schema: connection refused, a timeout, or
    an answer that says "not now" (401/403, 408, 429, 5xx).

    Unlike a :class:`SerializationError` this says nothing about the bytes: retry the same record
    (``hub.serde.retry``) until the registry answers. ``schema_id`` is the id being looked up
    (``None`` while registering a writer schema under ``subject``); ``status`` is the registry's
    HTTP status when it answered at all.
    """

    def __init__(
        self,
        reason: str,
        *,
        registry_url: str,
        schema_id: int | None = None,
        subject: str | None = None,
        status: int | None = None,
    ) -> None:
        self.reason = reason
        self.registry_url = registry_url
        self.schema_id = schema_id
        self.subject = subject
        self.status = status
        what = f"schema id {schema_id}" if schema_id is not None else f"subject {subject}"
        super().__init__(f"schema registry {registry_url} unavailable ({what}): {reason}")


class AuthenticationError(HubError):
    """A request's bearer token is missing, malformed, expired, not yet valid, from another
    issuer or audience, or signed by no key of the identity provider. The message says which
    (it never quotes the token)."""
