"""The partner registry: every shipped connector has a valid entry, a bad entry is refused with
the file and field named, an entry's time zone reads local times, and a new partner with its own
codes is onboarded by configuration alone (the README's walkthrough)."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from connectors.base import RawMessage
from connectors.registry import CONNECTORS
from hub.cli import main
from hub.errors import ConfigurationError
from hub.events.models import EventType
from hub.flow import FlowCore
from hub.partners import load_registry
from hub.settings import REPO_ROOT

pytestmark = pytest.mark.req("REQ-INV-10")

REGISTRY = REPO_ROOT / "deploy" / "partners"
EXAMPLES = REPO_ROOT / "docs" / "examples" / "partners"
PROFILES = REPO_ROOT / "hub" / "chain" / "profiles"
POLICY = REPO_ROOT / "hub" / "cases" / "escalation_policy.yaml"


def core(registry: Path = REGISTRY, partners: list[str] | None = None) -> FlowCore:
    return FlowCore.from_files(PROFILES, POLICY, b"test-key", partners, registry)


def test_every_shipped_connector_has_a_valid_entry() -> None:
    registry = load_registry(REGISTRY)
    assert {e.connector for e in registry.values()} == set(CONNECTORS)
    assert main(["partners", "validate"]) == 0


@pytest.mark.parametrize(
    ("edit", "problem"),
    [
        ({"role": "wizard"}, "unknown role 'wizard'"),
        ({"connector": "telex"}, "connector 'telex' is not one of"),
        ({"time_zone": "Mars/Olympus"}, "not an IANA time zone"),
        ({"colour": "blue"}, "colour: Extra inputs are not permitted"),
        ({"id": "Not An Id"}, "id: String should match pattern"),
    ],
)
def test_a_bad_entry_is_refused_with_its_file_and_field(
    tmp_path: Path, edit: dict[str, str], problem: str, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copytree(REGISTRY, tmp_path / "reg")
    path = tmp_path / "reg" / "qms.yaml"
    text = path.read_text()
    for key, value in edit.items():
        text = (
            "\n".join(line for line in text.splitlines() if not line.startswith(f"{key}:"))
            + f"\n{key}: {value}\n"
        )
    path.write_text(text)
    with pytest.raises(ConfigurationError) as refused:
        load_registry(tmp_path / "reg")
    assert "qms.yaml" in str(refused.value)
    assert problem in str(refused.value)
    assert main(["partners", "--dir", str(tmp_path / "reg"), "validate"]) == 1
    assert problem in capsys.readouterr().err


@pytest.mark.req("REQ-EXC-TIMEZONE_MISSING")
def test_a_declared_zone_reads_a_local_time_and_the_chain_raises_timezone_missing() -> None:
    bad = (REPO_ROOT / "connectors" / "qms" / "bad" / "missing-timezone.json").read_bytes()
    naive = json.loads(bad)["event_time"]
    assert "+" not in naive
    assert "Z" not in naive
    received = datetime(2026, 12, 1, tzinfo=UTC)
    with_zone = core(partners=["qms"]).ingest(RawMessage("qms", bad, received, "application/json"))
    assert not with_zone.rejected
    [event] = with_zone.events
    local = datetime.fromisoformat(naive).replace(tzinfo=None)
    assert event.occurred_at.hour == (local.hour + 5) % 24  # America/New_York in winter
    assert event.identifiers.other["timezone_missing"] == "event_time"
    # without a registry entry declaring a zone, the same message is a dead letter
    bare = FlowCore.from_files(PROFILES, POLICY, b"k", ["qms"])
    refused = bare.ingest(RawMessage("qms", bad, received, "application/json"))
    assert refused.rejected
    assert refused.dead[0].code == "TIMEZONE_MISSING"


@pytest.mark.req("REQ-EXC-TIMEZONE_MISSING", "REQ-ALCOA-CONTEMPORANEOUS")
def test_an_ambiguous_local_time_stays_a_dead_letter() -> None:
    bad = json.loads(
        (REPO_ROOT / "connectors" / "qms" / "bad" / "missing-timezone.json").read_text()
    )
    bad["event_time"] = "2026-11-01T01:30:00"  # New York falls back: 01:30 happens twice
    raw = RawMessage("qms", json.dumps(bad).encode(), datetime(2026, 12, 1, tzinfo=UTC))
    result = core(partners=["qms"]).ingest(raw)
    assert result.rejected
    assert result.dead[0].code == "AMBIGUOUS_LOCAL_TIME"


def test_a_new_partner_with_its_own_codes_is_onboarded_by_configuration(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sample = str(EXAMPLES / "amsterdam-umc" / "infusion.json")
    assert main(["partners", "check", "fhir", sample]) == 1  # its own codes: nothing maps
    assert "unmapped-code=1" in capsys.readouterr().out
    shutil.copytree(REGISTRY, tmp_path / "reg")
    shutil.copy(EXAMPLES / "amsterdam-umc.yaml", tmp_path / "reg")
    registry = str(tmp_path / "reg")
    assert main(["partners", "--dir", registry, "validate"]) == 0
    assert main(["partners", "--dir", registry, "check", "amsterdam-umc", sample]) == 0
    out = capsys.readouterr().out
    assert "INFUSION_COMPLETED" in out
    assert "coi=V2VSAMPLE000001T" in out
    events = (
        core(tmp_path / "reg", ["amsterdam-umc"])
        .ingest(
            RawMessage(
                "amsterdam-umc",
                Path(sample).read_bytes(),
                datetime(2026, 12, 19, tzinfo=UTC),
                "application/json",
            )
        )
        .events
    )
    assert [e.event_type for e in events] == [EventType.INFUSION_COMPLETED]


def test_an_sap_partner_with_the_coi_in_a_customer_field_of_the_header_segment(
    tmp_path: Path,
) -> None:
    """The usual SAP practice: a ZZ* field appended to the standard header segment E1AFKOL
    instead of our own Z1V2VHUB/COI. Named in the registry entry, it is read; unnamed, the
    order is refused with the reason."""
    sample = REPO_ROOT / "connectors" / "sap" / "samples" / "01-loipro-order-created.xml"
    text = sample.read_text()
    text = text.replace("<COI>V2VSAMPLE000001T</COI>", "")
    text = text.replace(
        '<E1AFKOL SEGMENT="1">', '<E1AFKOL SEGMENT="1">\n<ZZCOI>V2VSAMPLE000001T</ZZCOI>'
    )
    raw = RawMessage("sap", text.encode(), datetime(2026, 12, 1, tzinfo=UTC), "application/xml")
    refused = core(partners=["sap"]).ingest(raw)
    assert refused.rejected
    assert "carries no COI" in refused.dead[0].reason
    shutil.copytree(REGISTRY, tmp_path / "reg")
    entry = tmp_path / "reg" / "sap.yaml"
    entry.write_text(entry.read_text().replace("coi: Z1V2VHUB/COI", "coi: E1AFKOL/ZZCOI"))
    accepted = core(tmp_path / "reg", ["sap"]).ingest(raw)
    assert not accepted.rejected
    assert {e.coi_id for e in accepted.events} == {"V2VSAMPLE000001T"}
    assert EventType.THERAPY_ORDERED in {e.event_type for e in accepted.events}


def test_a_logger_partner_with_its_own_unit_spelling(tmp_path: Path) -> None:
    export = (
        b"logger_id,shipment_id,timestamp,value,unit\n"
        b"LGR-1,SHP-1,2026-11-24T08:15:00-05:00,41.0,Grad F\n"
    )
    raw = RawMessage("logger", export, datetime(2026, 11, 25, tzinfo=UTC), "text/csv")
    refused = core(partners=["logger"]).ingest(raw)
    assert refused.rejected
    assert refused.dead[0].code == "UNKNOWN_UNIT"
    shutil.copytree(REGISTRY, tmp_path / "reg")
    entry = tmp_path / "reg" / "logger.yaml"
    entry.write_text(entry.read_text().replace("units: {", 'units: {"Grad F": FAH, '))
    [reading] = core(tmp_path / "reg", ["logger"]).ingest(raw).events
    assert reading.detail is not None
    assert round(reading.detail.value, 2) == 5.0  # type: ignore[union-attr]


def test_a_lab_partner_with_its_own_test_names(tmp_path: Path) -> None:
    export = (
        "coi,batch_id,sample_id,test_code,result_value,unit,result_time,status\n"
        "V2VSAMPLE000001T,B-24001,S-1,Lebensfähigkeit,91.5,%,2026-12-08T10:00:00+01:00,final\n"
    ).encode()
    raw = RawMessage("lims", export, datetime(2026, 12, 9, tzinfo=UTC), "text/csv")
    shutil.copytree(REGISTRY, tmp_path / "reg")
    entry = tmp_path / "reg" / "lims.yaml"
    entry.write_text(
        entry.read_text().replace(
            "qc_test_aliases: {}", 'qc_test_aliases: {"Lebensfähigkeit": VIABILITY}'
        )
    )
    plain = core(partners=["lims"]).ingest(raw)
    aliased = core(tmp_path / "reg", ["lims"]).ingest(raw)
    assert not aliased.rejected, aliased.dead
    codes = {
        getattr(e.detail, "test_code", None)
        for e in aliased.events
        if e.event_type is EventType.QC_RESULT_RECORDED
    }
    assert codes == {"VIABILITY"}
    assert plain.rejected or "VIABILITY" not in {
        getattr(e.detail, "test_code", None) for e in plain.events
    }
