"""Which connector serves which partner dialect.

Every folder ``connectors/<name>/`` with a ``normalise.py`` that defines ``CONNECTOR`` (a
:class:`~connectors.base.Connector` subclass whose ``name`` is the folder's name) is a
connector: adding a partner is adding a folder. Modules are imported on first use, so a
connector's parser dependencies load only when it is used.
"""

from __future__ import annotations

from importlib import import_module
from pathlib import Path

from connectors.base import Connector, ConnectorConfig
from hub.errors import ConfigurationError

_DIR = Path(__file__).resolve().parent
CONNECTORS: tuple[str, ...] = tuple(
    sorted(p.parent.name for p in _DIR.glob("*/normalise.py") if not p.parent.name.startswith("_"))
)


def connector_class(name: str) -> type[Connector]:
    if name not in CONNECTORS:
        known = ", ".join(CONNECTORS)
        raise ConfigurationError(f"unknown connector {name!r} (known: {known})")
    cls: type[Connector] = import_module(f"connectors.{name}.normalise").CONNECTOR
    if cls.name != name:
        raise ConfigurationError(f"connectors/{name}/normalise.py names itself {cls.name!r}")
    return cls


def get_connector(name: str, config: ConnectorConfig | None = None) -> Connector:
    return connector_class(name)(config)
