"""The fact every partner message starts from: whose chain, which step, when received."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar


@dataclass(frozen=True, kw_only=True)
class Fact:
    """One partner message's content. ``step`` names the journey step (``inbound.pickup``)."""

    partner: ClassVar[str]
    coi: str
    step: str
    received: datetime
    zone: str = "UTC"
