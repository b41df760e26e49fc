"""A simulated vein-to-vein network that speaks every partner's native dialect, with fault
injection, ground truth and scoring (``v2v demo``; DESIGN.md section 3).

Module map, in the order data flows:

* ``network``: clinics, the manufacturer, lanes, couriers and patients from a seed;
* ``timeline``: one patient's key times, derived from the product profile;
* ``journey`` / ``transport`` / ``manufacturing``: the timeline as *facts* (``facts``), one per
  partner message: what happened, before any dialect;
* ``faults``: perturbations of a journey (timeline or facts) with their ground truth;
* ``dialects``: one writer per partner turning a fact into native bytes (FHIR, SAP IDoc and
  OData, B2MML, LIMS, QMS, courier webhooks, logger CSV, EPCIS);
* ``arrival``: when each message reaches the hub, per partner feed (``realistic`` arrival:
  latency, batch jobs, retries, resends, a few records beyond allowed lateness);
* ``scenario``: everything above for a whole network, in receipt order, cut into hourly steps;
* ``offline``: the scenario through connectors, identity resolution, engine and case layer, in
  memory; ``live``: the same through a real worker, Kafka and Redis (``hub/demo.py``);
* ``score`` / ``report``: precision, recall and detection latency per code on the final case
  set, cases withdrawn by the hub; the run report;
* ``scoring``: the score summed over many seeds, offline (``python -m hub.sim.scoring``).

Importing this package imports none of its modules.
"""
