"""Unit-tier fixtures: no broker, no Redis."""

from __future__ import annotations

import pytest

from hub.flow import FlowCore
from hub.settings import REPO_ROOT


@pytest.fixture(scope="session")
def core() -> FlowCore:
    """The flow core on the repository's profiles and escalation policy, every connector with
    its defaults, pseudonyms keyed by a test key."""
    return FlowCore.from_files(
        REPO_ROOT / "hub" / "chain" / "profiles",
        REPO_ROOT / "hub" / "cases" / "escalation_policy.yaml",
        b"test-key",
    )
