"""The hub's error tree, drawn once.

    HubError
    +-- ConfigurationError      settings or a product profile cannot be used
    +-- SerializationError      bytes do not decode against, or a value does not fit, a schema
    +-- NormalisationError      a partner message cannot become canonical events (-> dead letter)
    |   +-- InvalidIdentifierError   a DIN / COI / other identifier fails its format or check
    |   +-- TimezoneMissingError     a timestamp carries no UTC offset
    +-- DeliveryError           Kafka did not acknowledge a write

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
    """A record was not acknowledged by Kafka."""
