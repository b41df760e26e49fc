"""MES connector against MESA's published B2MML examples and per-release messages.

``tests/data/b2mml-published/`` holds MESA International's own example files (SOURCE.md). Each
one is either read into the expected events or refused for a reason the test pins. The V0600 and
V07 messages below are written against MESA's schemas (the repository publishes no instances).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors.base import ConnectorConfig, Result
from connectors.conformance import raw_message
from connectors.mes.config import MesOptions
from connectors.mes.normalise import MesConnector
from hub.errors import ConfigurationError
from hub.events.ids import event_id
from hub.events.models import EventType, ManufacturingDetail

pytestmark = pytest.mark.req("REQ-FN-CONNECTORS")

PUBLISHED = Path(__file__).resolve().parents[2] / "data" / "b2mml-published"
V0401 = "http://www.wbf.org/xml/B2MML-V0401"
V0500 = "http://www.wbf.org/xml/B2MML-V0500"
V0600 = "http://www.mesa.org/xml/B2MML-V0600"
V07 = "http://www.mesa.org/xml/B2MML"
COI = "V2VSAMPLE000001T"


def run(payload: bytes, config: ConnectorConfig | None = None) -> Result:
    connector = MesConnector(config)
    return connector.process(raw_message(connector, payload, ".xml"))


def refusal(payload: bytes, config: ConnectorConfig | None = None) -> tuple[str, str]:
    result = run(payload, config)
    assert result.rejection is not None, result.events
    return result.rejection.code, result.rejection.reason


# --- every published example ---------------------------------------------------------------------

# file -> (code, words the reason must contain); no published example carries a patient product.
PUBLISHED_OUTCOMES = {
    # Inventory of a sub-lot: no receipt status, no receipt time.
    "INV-20121210175555-0001L0001_01.xml": (
        "UNSUPPORTED_LOT_STATUS",
        "material lot CRBN0001_LOT01 has status 'none'",
    ),
    # A lot released for use ("Valid"), not received.
    "LOT-20121210170718-0001L0001.xml": (
        "UNSUPPORTED_LOT_STATUS",
        "material lot CRBN0001_LOT01 has status 'VALID'",
    ),
    # Material master data: no event in the chain of custody.
    "MAT-20121210170256-CRBN0001.xml": (
        "UNSUPPORTED_MESSAGE",
        "B2MML V0401 message <SyncMaterialDefinition>: noun MaterialDefinition is not mapped",
    ),
    # Weighing of a consumed raw material: no COI, no produced lot, nothing to attach it to.
    "PES-20121229115825-53107.xml": (
        "MISSING_IDENTIFIER",
        "production response 53107 names neither a COI",
    ),
    # A production schedule is a plan, not a fact.
    "PRO-20121210181416-27942.xml": (
        "UNSUPPORTED_MESSAGE",
        "B2MML V0401 message <SyncProductionSchedule>: noun ProductionSchedule is not mapped",
    ),
    # BatchML V0401 (same namespace as B2MML V0401): an ISA-88 batch record.
    "ProductionBatchRecord_Example_v06.xml": (
        "UNSUPPORTED_MESSAGE",
        "noun BatchProductionRecord is not mapped",
    ),
}


def test_every_published_example_has_an_expected_outcome() -> None:
    kept = sorted(p.name for p in PUBLISHED.glob("*.xml"))
    assert kept == sorted(PUBLISHED_OUTCOMES)


@pytest.mark.parametrize(("name", "outcome"), sorted(PUBLISHED_OUTCOMES.items()))
def test_published_example(name: str, outcome: tuple[str, str]) -> None:
    code, reason = refusal((PUBLISHED / name).read_bytes())
    assert (code, outcome[1] in reason) == (outcome[0], True), reason
    assert "not B2MML" not in reason


def test_published_v0401_lot_reads_with_a_receipt_and_the_partners_expiry_property() -> None:
    """The published lot, once received, is read; its ``ExpiryDate`` is a customer property id."""
    text = (PUBLISHED / "LOT-20121210170718-0001L0001.xml").read_text(encoding="utf-8-sig")
    text = text.replace("<Status>Valid</Status>", "<Status>Received</Status>").replace(
        "</MaterialLot>",
        f"<MaterialLotProperty><ID>COI</ID><Value><ValueString>{COI}</ValueString></Value>"
        "</MaterialLotProperty></MaterialLot>",
    )
    options = {"mes": {"properties": {"expiration_date": "ExpiryDate"}}}
    result = run(text.encode(), ConnectorConfig(partner_options=options))
    assert result.rejection is None, result.rejection
    (received,) = result.events
    assert received.event_type is EventType.MATERIAL_RECEIVED
    assert received.event_id == event_id("mes", "CRBN0001_LOT01/receipt", 0)
    assert received.coi_id == COI
    assert received.detail is not None
    assert received.detail.expires_at is not None  # type: ignore[union-attr]
    assert received.detail.expires_at.year == 2013  # type: ignore[union-attr]


# --- one production report in every release ------------------------------------------------------


def performance(ns: str | None, *, v07: bool, perf_id: bool = True) -> bytes:
    """A started-and-cryopreserved report, in the element names of the release."""
    perf, resp = (
        ("OperationsPerformance", "OperationsResponse")
        if v07
        else (
            "ProductionPerformance",
            "ProductionResponse",
        )
    )
    request = "OperationsRequestID" if v07 else "ProductionRequestID"
    nested = "SegmentResponseChild" if v07 else "SegmentResponse"
    scope = "HierarchyScope" if v07 else "Location"
    xmlns = f' xmlns="{ns}"' if ns else ""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<Process{perf}{xmlns}>
  <ApplicationArea><Sender><LogicalID>MES-PHL-01</LogicalID></Sender>
    <CreationDateTime>2026-11-26T10:00:00Z</CreationDateTime></ApplicationArea>
  <DataArea>
    <Process/>
    <{perf}>
      {"<ID>PP-1</ID>" if perf_id else ""}
      <{scope}><EquipmentID>PHL-CTF</EquipmentID><EquipmentElementLevel>Site</EquipmentElementLevel></{scope}>
      <{resp}>
        <ID>PR-9</ID>
        <StartTime>2026-11-25T08:00:00Z</StartTime>
        <EndTime>2026-11-26T09:00:00Z</EndTime>
        {"<OperationsType>Production</OperationsType>" if v07 else ""}
        <{request}>1000999</{request}>
        <ResponseState>Completed</ResponseState>
        <SegmentResponse>
          <ID>PR-9-100</ID>
          <ActualStartTime>2026-11-26T07:00:00Z</ActualStartTime>
          <ActualEndTime>2026-11-26T08:30:00Z</ActualEndTime>
          <ProcessSegmentID>FILL-FINISH</ProcessSegmentID>
          <SegmentState>Completed</SegmentState>
          <{nested}>
            <ID>PR-9-110</ID>
            <ActualEndTime>2026-11-26T08:55:00Z</ActualEndTime>
            <ProcessSegmentID>CRYOPRESERVATION</ProcessSegmentID>
            <SegmentState>Completed</SegmentState>
            <MaterialActual>
              {"<ID>MA-1</ID>" if v07 else ""}
              <MaterialDefinitionID>CART-AUTO-01</MaterialDefinitionID>
              <MaterialLotID>B24-0009</MaterialLotID>
              <MaterialSubLotID>BAG-1</MaterialSubLotID>
              <MaterialUse>Produced</MaterialUse>
              <MaterialActualProperty><ID>COI</ID>
                <Value><ValueString>{COI}</ValueString></Value></MaterialActualProperty>
            </MaterialActual>
          </{nested}>
        </SegmentResponse>
      </{resp}>
    </{perf}>
  </DataArea>
</Process{perf}>""".encode()


EXPECTED_IDS = [
    event_id("mes", "PR-9", 0),
    event_id("mes", "PR-9/PR-9-100", 0),
    event_id("mes", "PR-9/PR-9-110", 0),
    event_id("mes", "PR-9/PR-9-110", 1),
    event_id("mes", "PR-9", 1),
]


@pytest.mark.parametrize(
    ("ns", "v07"),
    [
        (None, False),
        (V0401, False),
        (V0500, False),
        ("http://www.wbf.org/xml/B2MML-V0600", False),
        (V0600, False),
        (V0600, True),  # V0600 has both noun families
        (V07, True),
        (None, True),
    ],
)
def test_every_release_gives_the_same_events(ns: str | None, v07: bool) -> None:
    result = run(performance(ns, v07=v07))
    assert result.rejection is None, result.rejection
    assert [e.event_id for e in result.events] == EXPECTED_IDS
    started, step, cryo_step, cryo, done = result.events
    assert [e.event_type for e in (started, step, cryo, done)] == [
        EventType.MANUFACTURING_STARTED,
        EventType.MANUFACTURING_STEP_COMPLETED,
        EventType.CRYOPRESERVED,
        EventType.MANUFACTURING_COMPLETED,
    ]
    assert cryo_step.detail == ManufacturingDetail(
        step="CRYOPRESERVATION", status="COMPLETED", material_lot="B24-0009"
    )
    assert done.identifiers.order_id == "1000999"
    assert done.identifiers.batch_id == "B24-0009"
    assert done.coi_id == COI
    assert done.location is not None
    assert done.location.id == "PHL-CTF"
    assert done.source.message_id == "PP-1"


def test_v0401_performance_without_id_is_named_by_its_first_response() -> None:
    result = run(performance(V0401, v07=False, perf_id=False))
    assert result.rejection is None, result.rejection
    assert {e.source.message_id for e in result.events} == {"PR-9"}
    assert [e.event_id for e in result.events] == EXPECTED_IDS


def test_v07_bare_operations_response() -> None:
    text = performance(V07, v07=True).decode()
    body = text[text.index("<OperationsResponse>") : text.index("</OperationsResponse>")]
    payload = body.replace("<OperationsResponse>", f'<OperationsResponse xmlns="{V07}">')
    result = run((payload + "</OperationsResponse>").encode())
    assert result.rejection is None, result.rejection
    assert [e.event_id for e in result.events] == EXPECTED_IDS


def test_v07_sync_and_show_are_reports() -> None:
    for verb in ("Sync", "Show", "Notify"):
        payload = (
            performance(V07, v07=True)
            .replace(b"ProcessOperations", f"{verb}Operations".encode())
            .replace(b"<Process/>", f"<{verb}/>".encode())
        )
        result = run(payload)
        assert result.rejection is None, (verb, result.rejection)
        assert len(result.events) == 5


def test_v07_non_production_operations_are_refused_by_type() -> None:
    payload = performance(V07, v07=True).replace(b">Production<", b">Quality<")
    code, reason = refusal(payload)
    assert code == "UNSUPPORTED_MESSAGE"
    assert "PR-9 (Quality)" in reason


def test_v07_material_lot_receipt_with_storage_location() -> None:
    payload = f"""<SyncMaterialLot xmlns="{V07}">
  <ApplicationArea><Sender><LogicalID>MES-PHL-01</LogicalID></Sender>
    <CreationDateTime>2026-11-24T15:00:00Z</CreationDateTime></ApplicationArea>
  <DataArea><Sync/><MaterialLot>
    <ID>APH-77</ID>
    <MaterialDefinitionID>APHERESIS-LEUKOPAK</MaterialDefinitionID>
    <Status>Received</Status>
    <Disposition>Released</Disposition>
    <MaterialLotProperty><ID>COI</ID><Value><ValueString>{COI}</ValueString></Value>
    </MaterialLotProperty>
    <StorageLocation><Location>LN2-TANK-3</Location><LocationType>Unit</LocationType>
    </StorageLocation>
  </MaterialLot></DataArea>
</SyncMaterialLot>""".encode()
    result = run(payload)
    assert result.rejection is None, result.rejection
    (received,) = result.events
    assert received.event_id == event_id("mes", "APH-77/receipt", 0)
    assert received.identifiers.other["storage_location"] == "LN2-TANK-3"


# --- refusals name the release, the verb or the noun ---------------------------------------------


@pytest.mark.parametrize(
    ("payload", "code", "words"),
    [
        (
            f'<SyncOperationsRequest xmlns="{V07}"/>',
            "UNSUPPORTED_MESSAGE",
            "B2MML V07 message <SyncOperationsRequest>: noun OperationsRequest is not mapped",
        ),
        (
            f'<ShowOperationsSchedule xmlns="{V07}"/>',
            "UNSUPPORTED_MESSAGE",
            "noun OperationsSchedule is not mapped",
        ),
        (
            f'<GetOperationsPerformance xmlns="{V07}"/>',
            "UNSUPPORTED_MESSAGE",
            "verb Get asks for data",
        ),
        (
            f'<AcknowledgeMaterialLot xmlns="{V0600}"/>',
            "UNSUPPORTED_MESSAGE",
            "B2MML V0600 message <AcknowledgeMaterialLot>: verb Acknowledge",
        ),
        (
            f'<ConfirmBOD xmlns="{V0401}"/>',
            "UNSUPPORTED_MESSAGE",
            "verb Confirm confirms receipt",
        ),
        (
            f'<SyncProcessSegment xmlns="{V0401}"/>',
            "UNSUPPORTED_MESSAGE",
            "noun ProcessSegment is not mapped",
        ),
        (
            f'<ProcessSegment xmlns="{V0401}"/>',
            "UNSUPPORTED_MESSAGE",
            "noun ProcessSegment is not mapped",
        ),
        (
            f'<ProcessOperationsResponse xmlns="{V07}"/>',
            "UNSUPPORTED_MESSAGE",
            "inside OperationsPerformance",
        ),
        (
            f'<SyncMaterialInformation xmlns="{V0401}"><DataArea><Sync/><MaterialInformation>'
            "<MaterialDefinition><ID>X</ID></MaterialDefinition></MaterialInformation>"
            "</DataArea></SyncMaterialInformation>",
            "UNSUPPORTED_MESSAGE",
            "MaterialInformation carries no MaterialLot (only MaterialDefinition)",
        ),
        (
            '<SyncMaterialLot xmlns="urn:example:acme-mes"/>',
            "UNSUPPORTED_NAMESPACE",
            "'urn:example:acme-mes'",
        ),
        (
            '<SyncMaterialLot xmlns="http://www.wbf.org/xml/b2mml-v02"/>',
            "UNSUPPORTED_NAMESPACE",
            "B2MML V0200, older than V0401",
        ),
        (
            '<BatchInformation xmlns="http://www.wbf.org/xml/BatchML-V02"/>',
            "UNSUPPORTED_NAMESPACE",
            "BatchML",
        ),
    ],
)
def test_refusal_states_the_real_reason(payload: str, code: str, words: str) -> None:
    got_code, reason = refusal(payload.encode())
    assert (got_code, words in reason) == (code, True), reason


def test_sync_delete_is_refused_as_a_withdrawal() -> None:
    payload = performance(V07, v07=True).replace(
        b"<Process/>",
        b'<Process><ActionCriteria><ActionExpression actionCode="Delete"/></ActionCriteria>'
        b"</Process>",
    )
    code, reason = refusal(payload)
    assert code == "UNSUPPORTED_MESSAGE"
    assert "actionCode Delete" in reason


# --- customer property ids ------------------------------------------------------------------------


def test_default_options_are_todays_property_ids() -> None:
    ids = MesOptions.from_partner_options({}).properties
    assert (ids.coi, ids.din, ids.receipt_time, ids.scanned_coi) == (
        "COI",
        "DIN",
        "ReceiptTime",
        "ScannedCOI",
    )
    assert MesConnector().options == MesOptions()


def test_partner_coi_property_id_is_read_and_the_default_no_longer_is() -> None:
    payload = performance(V07, v07=True).replace(b"<ID>COI</ID>", b"<ID>ChainOfIdentity</ID>")
    config = ConnectorConfig(partner_options={"mes": {"properties": {"coi": "ChainOfIdentity"}}})
    result = run(payload, config)
    assert result.rejection is None, result.rejection
    assert {e.coi_id for e in result.events} == {COI}
    assert [e.event_id for e in result.events] == EXPECTED_IDS
    default = run(payload)
    assert default.rejection is None
    assert {e.coi_id for e in default.events} == {None}  # keyed by batch instead


@pytest.mark.parametrize(
    "options",
    [
        {"properties": {"coi": "DIN"}},  # two meanings, one id
        {"properties": {"coi": " "}},
        {"properties": {"patient": "X"}},
        {"unknown": 1},
    ],
)
def test_bad_options_fail_at_construction(options: dict[str, object]) -> None:
    with pytest.raises(ConfigurationError):
        MesConnector(ConnectorConfig(partner_options={"mes": options}))
