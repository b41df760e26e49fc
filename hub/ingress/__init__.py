"""Ingress: how partner messages reach ``v2v.raw.<partner>``.

Three doors, one guarantee (a message counts as received only once Kafka acknowledged it):

* HTTP, :mod:`hub.ingress.http` (``v2v ingress``): ``POST /ingest/{partner}``, 202 after the
  acknowledgement;
* file drop, :mod:`hub.ingress.filedrop` (``v2v filedrop``): export files in a folder, moved to
  ``done/`` after the acknowledgement or to ``failed/`` with the reason;
* direct produce: a partner (or its integration platform) with Kafka access writes the raw
  bytes to ``v2v.raw.<partner>`` itself, optionally with ``content-type`` and
  ``v2v.received_at`` headers (:mod:`hub.ingress.edge` lists them). Identity-carrying feeds
  must not use this door: only the two above apply the connector's ``prepare_raw``.

Submodules are imported on use (the package itself imports nothing).
"""
