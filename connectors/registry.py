"""Which connector serves which partner dialect. Adding a partner = one entry here."""

from __future__ import annotations

from connectors.base import Connector, ConnectorConfig
from connectors.courier.normalise import CourierConnector
from hub.errors import ConfigurationError

CONNECTORS: dict[str, type[Connector]] = {
    CourierConnector.name: CourierConnector,
}


def get_connector(name: str, config: ConnectorConfig | None = None) -> Connector:
    try:
        cls = CONNECTORS[name]
    except KeyError:
        known = ", ".join(sorted(CONNECTORS))
        raise ConfigurationError(f"unknown connector {name!r} (known: {known})") from None
    return cls(config)
