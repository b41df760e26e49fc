"""The partner registry: who each partner is and how its messages are read (configuration)."""

from hub.partners.models import PartnerEntry
from hub.partners.registry import load_registry

__all__ = ["PartnerEntry", "load_registry"]
