"""``v2v replay`` and ``v2v record``: recorded partner traffic through the flow core, offline.

A recording is JSON Lines (:mod:`hub.replay.lines`); :func:`hub.replay.run.replay` drives the
same flow core as the worker over it in receipt-time order with a simulated clock, so a QA
reviewer can see what the hub concludes from a day's traffic, or what a changed product profile
or escalation policy would conclude (:mod:`hub.replay.diff`), before it goes live.
"""
