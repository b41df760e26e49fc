"""The pure chain engine: ``apply(state, event, profile) -> (state, findings)``.

No Faust, Kafka or Redis import anywhere below this package (DESIGN.md invariant 3).
"""

from hub.chain.engine import apply, new_chain
from hub.chain.findings import Finding
from hub.chain.profiles import ProductProfile, load_profiles
from hub.chain.state import ChainState

__all__ = ["ChainState", "Finding", "ProductProfile", "apply", "load_profiles", "new_chain"]
