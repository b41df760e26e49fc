# ruff: noqa: I001  (the import order below is the rule order; see the docstring)
"""Importing this package registers every rule with the catalogue.

Rules of one event type run in import order, so the order below matters: ``plan`` keeps the
chain's plan and key times up to date before any rule reads them; ``logistics`` books shipment
tracks before ``transport_status``, ``temperature`` and ``quality`` read them.
"""

from hub.chain.rules import (
    plan,
    data_quality,
    identity,
    custody,
    logistics,
    transport_status,
    temperature,
    manufacturing,
    quality,
    clinical,
)

__all__ = [
    "clinical",
    "custody",
    "data_quality",
    "identity",
    "logistics",
    "manufacturing",
    "plan",
    "quality",
    "temperature",
    "transport_status",
]
