"""The pure flow core: every decision of the pipeline, with no Faust, Kafka or Redis import.

One :class:`FlowCore` decides what a raw partner message becomes (:meth:`FlowCore.ingest`),
how an event without a COI is resolved through the identifier index (:meth:`FlowCore.teach`,
:meth:`FlowCore.resolve`), and what an event, a clock tick or a case command does to one chain
(:meth:`FlowCore.on_event`, :meth:`FlowCore.on_tick`, :meth:`FlowCore.on_command`). Its
drivers only move records: the Faust worker (``hub.runtime``), the in-memory hub
(:class:`hub.flow.memory.MemoryHub`) behind ``v2v replay``, the simulator and the tests.
"""

from hub.flow.chain import Chain
from hub.flow.core import FlowCore
from hub.flow.records import Ingested, Step, Teach, ToChain, ToResolver

__all__ = ["Chain", "FlowCore", "Ingested", "Step", "Teach", "ToChain", "ToResolver"]
