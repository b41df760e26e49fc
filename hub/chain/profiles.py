"""Product profiles: every number a rule needs, per product, from validated YAML.

A profile is configuration, never code: ``hub/chain/profiles/*.yaml`` holds the examples.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import yaml
from pydantic import Field, ValidationError

from hub.errors import ConfigurationError
from hub.events.models import Frozen


class Lane(Frozen):
    """A transport lane: origin -> destination with its validated turnaround."""

    origin: str
    destination: str
    turnaround_h: float = Field(gt=0)


class ProductProfile(Frozen):
    name: str
    description: str = ""
    custody_grace_h: float = Field(4.0, ge=0, description="grace after lane turnaround")
    default_turnaround_h: float = Field(48.0, gt=0, description="for shipments on unknown lanes")
    lanes: dict[str, Lane] = Field(default_factory=dict)

    def turnaround(self, lane: str | None) -> timedelta:
        hours = self.lanes[lane].turnaround_h if lane in self.lanes else self.default_turnaround_h
        return timedelta(hours=hours)

    @property
    def custody_grace(self) -> timedelta:
        return timedelta(hours=self.custody_grace_h)


DEFAULT_PROFILE = "default"


def load_profiles(directory: Path) -> dict[str, ProductProfile]:
    """Every ``*.yaml`` profile in ``directory``, keyed by name; invalid files fail loudly."""
    profiles: dict[str, ProductProfile] = {}
    for path in sorted(directory.glob("*.yaml")):
        try:
            profile = ProductProfile.model_validate(
                yaml.safe_load(path.read_text(encoding="utf-8"))
            )
        except (yaml.YAMLError, ValidationError, OSError) as exc:
            raise ConfigurationError(f"product profile {path}: {exc}") from exc
        if profile.name in profiles:
            raise ConfigurationError(f"product profile {profile.name!r} defined twice ({path})")
        profiles[profile.name] = profile
    if DEFAULT_PROFILE not in profiles:
        raise ConfigurationError(f"no '{DEFAULT_PROFILE}' profile in {directory}")
    return profiles
