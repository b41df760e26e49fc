"""The worker's agents, one module each; every decision is the flow core's (``hub.flow``)."""
