"""Open cases by severity, code and SLA state: the desk's tally and the chain store's running
count behind the ``v2v_cases_open`` gauge, recovered rows and revocations included."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from prometheus_client import CollectorRegistry

from hub.cases.commands import CaseAction, CaseCommand
from hub.cases.desk import CaseDesk, command, receive_cases, tick
from hub.cases.escalation import load_policy
from hub.cases.models import Case, CaseStatus
from hub.chain.engine import new_chain
from hub.chain.findings import Severity
from hub.flow import Chain
from hub.flow.chain import IndexEntry
from hub.metrics import create_metrics
from hub.runtime.chainstore import ChainStore, Rows
from hub.settings import Settings

POLICY = load_policy(Settings().escalation_policy_file)
T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
OOS = ("CRITICAL", "QC_OUT_OF_SPEC")
LABELS = {"severity": "CRITICAL", "code": "QC_OUT_OF_SPEC"}


def case(
    case_id: str, code: str = "QC_OUT_OF_SPEC", severity: Severity = Severity.CRITICAL
) -> Case:
    return Case(
        case_id=case_id, version=1, coi_id="COI", code=code, title=code, severity=severity,
        owner_role="QA", status=CaseStatus.OPEN, subject="s", summary="s", opened_at=T0,
        updated_at=T0, detected_at=T0,
    )  # fmt: skip


def act(desk: CaseDesk, action: CaseAction, case_id: str, n: int) -> CaseDesk:
    cmd = CaseCommand(
        command_id=f"c{n}", case_id=case_id, action=action, actor="qp", reason="done",
        at=T0 + timedelta(minutes=20 + n),
    )  # fmt: skip
    return command(desk, cmd)[0]


def test_desk_tally_follows_the_sla_state_of_each_open_case() -> None:
    desk, _ = receive_cases(
        CaseDesk(), [case("a"), case("b"), case("c", "LATE_EVENT", Severity.LOW)], POLICY
    )
    assert desk.open_cases() == {(*OOS, "within"): 2, ("LOW", "LATE_EVENT", "within"): 1}
    desk, _ = tick(desk, T0 + timedelta(minutes=15), POLICY)  # nobody acknowledged in time
    assert desk.open_cases() == {(*OOS, "breached"): 2, ("LOW", "LATE_EVENT", "within"): 1}
    desk = act(desk, CaseAction.ACKNOWLEDGE, "a", 1)
    assert desk.open_cases()[(*OOS, "acknowledged")] == 1
    assert desk.open_cases()[(*OOS, "breached")] == 1
    desk = act(act(desk, CaseAction.RESOLVE, "a", 2), CaseAction.RESOLVE, "b", 3)
    assert desk.open_cases() == {("LOW", "LATE_EVENT", "within"): 1}


def chain(coi: str, desk: CaseDesk) -> Chain:
    return Chain(state=new_chain(coi), desk=desk)


def test_store_counts_open_cases_across_versions_recovery_and_revocation() -> None:
    metrics = create_metrics(CollectorRegistry())

    def gauge(tally: dict[tuple[str, str, str], int]) -> None:
        for labels, count in tally.items():
            metrics.cases_open.labels(*labels).set(count)

    def shown(sla: str) -> float | None:
        return metrics.registry.get_sample_value("v2v_cases_open", {**LABELS, "sla": sla})

    table: dict = {}
    store = ChainStore(table, None, on_cases=gauge)  # type: ignore[arg-type]
    one, _ = receive_cases(CaseDesk(), [case("a")], POLICY)
    two, _ = receive_cases(CaseDesk(), [case("b")], POLICY)
    store.put(chain("COI-1", one), 0)
    store.put(chain("COI-2", two), 1)
    store.flush()
    assert shown("within") == 2

    store.put(chain("COI-1", act(one, CaseAction.ACKNOWLEDGE, "a", 1)), 0)  # a new version
    store.flush()
    assert (shown("within"), shown("acknowledged")) == (1, 1)

    # a worker that takes the partitions over counts the rows it recovers from the changelog
    again = create_metrics(CollectorRegistry())
    recovered = ChainStore(
        table,
        None,  # type: ignore[arg-type]
        on_cases=lambda t: [again.cases_open.labels(*k).set(v) for k, v in t.items()],
    )
    recovered.recover()
    recovered.flush()
    for sla in ("within", "acknowledged"):
        assert again.registry.get_sample_value("v2v_cases_open", {**LABELS, "sla": sla}) == 1

    store.put(chain("COI-2", act(two, CaseAction.RESOLVE, "b", 2)), 1)  # closed: out of the count
    store.flush()
    assert (shown("within"), shown("acknowledged")) == (0, 1)

    store.forget()  # partitions revoked: this worker no longer reports those chains
    assert (shown("within"), shown("acknowledged")) == (0, 0)


def test_an_index_entry_keeps_the_tally_and_the_next_escalation_of_its_chain() -> None:
    """What a restarted store takes from the index instead of the chain: the open-case tally
    and when a case next re-escalates (by the policy of the day, from the marks)."""
    desk, _ = receive_cases(CaseDesk(), [case("a"), case("b", "LATE_EVENT", Severity.LOW)], POLICY)
    desk, _ = tick(desk, T0 + timedelta(minutes=15), POLICY)  # "a" went up a level
    one = chain("COI-1", desk)
    entry = IndexEntry.from_row("COI-1", IndexEntry.of(one, 2).to_row())
    assert entry.due_at(POLICY) is not None
    assert entry.due_at(POLICY) == one.due_at(POLICY)
    assert dict(entry.open_cases) == one.desk.open_cases()
    assert entry.partition == 2
    closed = chain("COI-1", act(act(desk, CaseAction.RESOLVE, "a", 1), CaseAction.RESOLVE, "b", 2))
    assert IndexEntry.of(closed, 2).due_at(POLICY) is None


def test_a_store_recovered_from_the_index_counts_open_cases_without_reading_a_chain() -> None:
    table: dict = {}
    index: dict = {}
    store = ChainStore(table, None, index=index)  # type: ignore[arg-type]
    one, _ = receive_cases(CaseDesk(), [case("a"), case("b")], POLICY)
    store.put(chain("COI-1", one), 0)
    store.flush()

    def unread(key: str, partition: int | None) -> None:
        raise AssertionError(f"read {key}")

    rows = replace(Rows.of(table), read=unread)
    recovered = ChainStore(rows, None, index=index)  # type: ignore[arg-type]
    recovered.recover()
    assert +recovered.open_cases == {(*OOS, "within"): 2}
