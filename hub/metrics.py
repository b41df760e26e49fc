"""Every Prometheus metric of the hub, declared once with its labels.

Nothing is registered at import time: :func:`create_metrics` builds the set on a registry the
caller owns (the worker's, or a test's own), so two apps in one process never collide.

=====================================  =========================  =================================
metric                                 labels                     meaning
=====================================  =========================  =================================
v2v_raw_messages_total                 partner                    raw partner messages read
v2v_raw_accepted_total                 partner                    ... normalised into events
v2v_raw_rejected_total                 partner, code              ... dead-lettered (with reason)
v2v_events_out_total                   partner, event_type        canonical events written
v2v_events_processed_total             event_type                 events the chain agent finished
v2v_commands_processed_total           -                          case commands it is done with
v2v_cases_opened_total                 code, severity             new cases (version 1)
v2v_case_versions_total                code                       every case version published
v2v_escalations_issued_total           severity, level            escalations the chain agent owed
v2v_escalations_total                  severity, level, channel   notifications delivered
v2v_detection_latency_seconds          code                       hub receipt -> case (wall)
v2v_chains_by_stage                    stage                      chains held by this worker
v2v_projection_errors_total            -                          Redis read-model writes failed
v2v_projection_rebuilt_total           -                          chains projected again (rebuild)
v2v_notification_failures_total        channel                    sink gave up (logged instead)
v2v_notification_retries_total         channel                    failed attempts, retried
v2v_identity_resolved_total            -                          events re-keyed to their COI
v2v_identity_parked_total              -                          events waiting for an id link
v2v_link_conflicts_total               -                          an id claimed by a second COI
v2v_dead_letters_total                 stage, code                records dead-lettered by the hub
v2v_feed_last_seen_timestamp_seconds   partner                    receipt time of its latest message
v2v_feed_dead_lettered_total           partner                    its messages dead-lettered (wholly
                                                                  or in part; / raw_messages: rate)
v2v_feed_dead_letter_rate              partner                    that share in its sliding window
                                                                  (as judged at the last tick)
v2v_feed_silent, v2v_feed_degraded     partner                    1 while its feed case is open
v2v_feed_records_total                 kind                       heard notes and ticks applied to
                                                                  the feed rows (feeds topic)
v2v_cases_open                         severity, code, sla        open cases of this worker's chains
v2v_consumer_lag                       topic, partition           records behind the partition's end
process_*                              -                          the worker process (CPU, memory)
v2v_audit_records_total                kind                       audit records Kafka acknowledged
v2v_audit_checkpoints_total            -                          signed checkpoints written
=====================================  =========================  =================================

``raw_messages = raw_accepted + raw_rejected`` per partner at every scrape (DESIGN invariant 1).

``v2v_cases_open`` counts the open and acknowledged cases of the chains (and partner feeds) this
worker holds, those recovered from the changelog included; its ``sla`` label says where a case
stands against its escalation policy: ``within`` (open, not acknowledged, still at its first
level), ``breached`` (not acknowledged in time: re-escalated), ``acknowledged``. Several workers
each report their own partitions: sum over instances.
"""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector


@dataclass(frozen=True)
class Metrics:
    registry: CollectorRegistry
    raw_messages: Counter
    raw_accepted: Counter
    raw_rejected: Counter
    events_out: Counter
    events_processed: Counter
    cases_opened: Counter
    case_versions: Counter
    escalations: Counter
    escalations_issued: Counter
    commands_processed: Counter
    detection_latency: Histogram
    chains_by_stage: Gauge
    projection_errors: Counter
    projection_rebuilt: Counter
    notification_failures: Counter
    notification_retries: Counter
    identity_resolved: Counter
    identity_parked: Counter
    link_conflicts: Counter
    dead_letters: Counter
    feed_last_seen: Gauge
    feed_dead_lettered: Counter
    feed_dead_letter_rate: Gauge
    feed_silent: Gauge
    feed_degraded: Gauge
    feed_records: Counter
    cases_open: Gauge
    consumer_lag: Gauge
    audit_records: Counter
    audit_checkpoints: Counter
    produce_errors: Counter


def create_metrics(registry: CollectorRegistry | None = None) -> Metrics:
    reg = registry if registry is not None else CollectorRegistry()
    ProcessCollector(registry=reg)
    return Metrics(
        registry=reg,
        raw_messages=Counter(
            "v2v_raw_messages", "Raw partner messages read", ["partner"], registry=reg
        ),
        raw_accepted=Counter(
            "v2v_raw_accepted", "Raw messages normalised into events", ["partner"], registry=reg
        ),
        raw_rejected=Counter(
            "v2v_raw_rejected",
            "Raw messages dead-lettered, by rejection code",
            ["partner", "code"],
            registry=reg,
        ),
        events_out=Counter(
            "v2v_events_out",
            "Canonical events written",
            ["partner", "event_type"],
            registry=reg,
        ),
        events_processed=Counter(
            "v2v_events_processed",
            "Events applied by the chain agent",
            ["event_type"],
            registry=reg,
        ),
        cases_opened=Counter(
            "v2v_cases_opened", "Cases opened", ["code", "severity"], registry=reg
        ),
        case_versions=Counter(
            "v2v_case_versions", "Case versions published", ["code"], registry=reg
        ),
        escalations=Counter(
            "v2v_escalations",
            "Escalation notifications issued",
            ["severity", "level", "channel"],
            registry=reg,
        ),
        detection_latency=Histogram(
            "v2v_detection_latency_seconds",
            "Wall time from the hub's receipt of the triggering event (or tick) to the case",
            ["code"],
            buckets=(0.1, 0.25, 0.5, 1, 5, 60, 600, 3600, 6 * 3600, 24 * 3600),
            registry=reg,
        ),
        chains_by_stage=Gauge(
            "v2v_chains_by_stage", "Chains held by this worker per stage", ["stage"], registry=reg
        ),
        projection_errors=Counter(
            "v2v_projection_errors", "Redis read-model writes that failed", registry=reg
        ),
        projection_rebuilt=Counter(
            "v2v_projection_rebuilt",
            "Chains projected to Redis again because it lost them or missed a write",
            registry=reg,
        ),
        identity_resolved=Counter(
            "v2v_identity_resolved", "Events re-keyed to their COI by the index", registry=reg
        ),
        identity_parked=Counter(
            "v2v_identity_parked", "Events parked until their id is linked", registry=reg
        ),
        link_conflicts=Counter(
            "v2v_link_conflicts", "Ids claimed by a second COI (first link kept)", registry=reg
        ),
        escalations_issued=Counter(
            "v2v_escalations_issued",
            "Escalations the chain agent wrote to the escalations topic",
            ["severity", "level"],
            registry=reg,
        ),
        commands_processed=Counter(
            "v2v_commands_processed",
            "Case commands the chain agent is done with (applied, rejected or repeated)",
            registry=reg,
        ),
        dead_letters=Counter(
            "v2v_dead_letters",
            "Records written to the dead-letter topic, by stage (normalise, route, resolve, "
            "decode, chain) and code",
            ["stage", "code"],
            registry=reg,
        ),
        produce_errors=Counter(
            "v2v_produce_errors",
            "Records the worker wrote that Kafka refused (the worker then stops before it "
            "commits the input that caused them), by topic",
            ["topic"],
            registry=reg,
        ),
        notification_failures=Counter(
            "v2v_notification_failures",
            "Notifications a sink gave up on (logged instead)",
            ["channel"],
            registry=reg,
        ),
        notification_retries=Counter(
            "v2v_notification_retries",
            "Notification attempts that failed and were tried again (receiver down or refusing "
            "for now)",
            ["channel"],
            registry=reg,
        ),
        feed_last_seen=Gauge(
            "v2v_feed_last_seen_timestamp_seconds",
            "Receipt time (hub clock, Unix seconds) of the partner's latest raw message",
            ["partner"],
            registry=reg,
        ),
        feed_dead_lettered=Counter(
            "v2v_feed_dead_lettered",
            "Raw partner messages dead-lettered wholly or in part (the dead-letter rate is this "
            "over v2v_raw_messages_total)",
            ["partner"],
            registry=reg,
        ),
        feed_dead_letter_rate=Gauge(
            "v2v_feed_dead_letter_rate",
            "Share of the partner's messages dead-lettered over its sliding window (registry "
            "dead_letters.window_min), as judged at the last clock tick",
            ["partner"],
            registry=reg,
        ),
        feed_silent=Gauge(
            "v2v_feed_silent",
            "1 while the partner's feed is silent beyond its freshness SLA (PARTNER_FEED_SILENT)",
            ["partner"],
            registry=reg,
        ),
        feed_degraded=Gauge(
            "v2v_feed_degraded",
            "1 while the partner's dead-letter rate is above its limit (PARTNER_FEED_DEGRADED)",
            ["partner"],
            registry=reg,
        ),
        feed_records=Counter(
            "v2v_feed_records",
            "Records of the feeds topic applied to the partner feed rows: heard notes (one per raw "
            "message, counted once) and ticks",
            ["kind"],
            registry=reg,
        ),
        cases_open=Gauge(
            "v2v_cases_open",
            "Open (or acknowledged) cases of the chains this worker holds, by where each stands "
            "against its escalation policy (within, breached, acknowledged)",
            ["severity", "code", "sla"],
            registry=reg,
        ),
        consumer_lag=Gauge(
            "v2v_consumer_lag",
            "Records between the worker's consumer position and the end of the partition (as of "
            "its last fetch), per topic partition it reads",
            ["topic", "partition"],
            registry=reg,
        ),
        audit_records=Counter(
            "v2v_audit_records",
            "Audit records the chain agent wrote and Kafka acknowledged, by kind",
            ["kind"],
            registry=reg,
        ),
        audit_checkpoints=Counter(
            "v2v_audit_checkpoints",
            "Signed audit checkpoints the chain agent wrote",
            registry=reg,
        ),
    )
