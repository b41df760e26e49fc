"""The tamper-evident audit trail (21 CFR Part 11 §11.10(e), EU GMP Annex 11 §9).

* :mod:`hub.audit.records`     the audit record and one chain's hash chain (pure)
* :mod:`hub.audit.merkle`      the Merkle tree hash over chain heads (RFC 6962 section 2.1)
* :mod:`hub.audit.checkpoint`  signed checkpoints of every chain's head, per events partition
* :mod:`hub.audit.keys`        the Ed25519 signing key: load, generate in development mode
* :mod:`hub.audit.configfiles` configuration files as audit records (digest, revision)
* :mod:`hub.audit.verify`      offline verification of an export
* :mod:`hub.audit.reconstruct` a chain as the hub knew it at any time, through the flow core
* :mod:`hub.audit.report`      the chain's COI/COC report, HTML and PDF
* :mod:`hub.audit.files`       an export of the trail as files
* :mod:`hub.audit.schema`      the JSON Schemas of the audit topics' records (``schemas/``)
* :mod:`hub.audit.topic`       export from and writes to the audit topics (Kafka)
* :mod:`hub.audit.cli`         ``v2v audit export | verify | reconstruct | keygen | public-key``

Everything but ``topic`` and ``cli`` is pure: no Faust, Kafka or Redis import.
"""
