"""The EPCIS connector against GS1's own published examples (github.com/gs1/EPCIS, see
``tests/data/epcis-published/SOURCE.md``), and the conformance points those examples exercise:
the XML binding of EPCIS 2.0 and 1.2, UN/ECE Rec 20 temperature units, sensor exceptions
without a value, and readings that must not collapse into one.

Every kept example is either accepted with the events listed here or refused with the code
listed here. Refusals are deliberate: ``NO_USABLE_EVENT`` (no mapped business step, no
temperature, no COI to link), ``DOCTYPE_FORBIDDEN`` (the example starts with ``<!DOCTYPE``, which
the hub refuses before parsing as XXE protection).
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from connectors.conformance import assert_valid_sample, raw_message, run_file
from connectors.registry import get_connector
from hub.events.models import DeviationDetail, Event, EventType, TemperatureDetail

pytestmark = pytest.mark.req("REQ-FN-CONNECTORS")

PUBLISHED = Path(__file__).resolve().parents[2] / "data" / "epcis-published"
CONNECTOR = get_connector("epcis")

DOCTYPE = "DOCTYPE_FORBIDDEN"  # the example starts with <!DOCTYPE project>

# path under PUBLISHED -> event counts by type, or the rejection code
EXPECTED: dict[str, dict[str, int] | str] = {
    "JSON/AssociationEvent/AssociationEvent-a.jsonld": "NO_USABLE_EVENT",
    "JSON/AssociationEvent/AssociationEvent-b.jsonld": "NO_USABLE_EVENT",
    "JSON/AssociationEvent/AssociationEvent-c.jsonld": "NO_USABLE_EVENT",
    "JSON/AssociationEvent/AssociationEvent-d.jsonld": "NO_USABLE_EVENT",
    "JSON/AssociationEvent/AssociationEvent-e.jsonld": "NO_USABLE_EVENT",
    "JSON/AssociationEvent/AssociationEvent-f.jsonld": "NO_USABLE_EVENT",
    "JSON/AssociationEvent/AssociationEvent-g.jsonld": {"RECORD_CORRECTED": 1},
    "JSON/AssociationEvent/AssociationEvent-h.jsonld": "NO_USABLE_EVENT",
    "JSON/EPCISQueryDocument.jsonld": {"MATERIAL_RECEIVED": 1, "SHIPMENT_DEPARTED": 1},
    "JSON/Example-TransactionEvents-2020_07_03y.jsonld": {"SHIPMENT_STATUS": 1},
    "JSON/Example-Type-sourceOrDestination,measurement,bizTransaction.jsonld": "NO_USABLE_EVENT",
    "JSON/Example_9.6.1-ObjectEvent-with-pseudo-SBDH-headers.jsonld": {
        "MATERIAL_RECEIVED": 1,
        "SHIPMENT_DEPARTED": 1,
    },
    "JSON/Example_9.6.1-ObjectEvent.jsonld": {"MATERIAL_RECEIVED": 1, "SHIPMENT_DEPARTED": 1},
    "JSON/Example_9.6.1-with-comment.jsonld": {"MATERIAL_RECEIVED": 1, "SHIPMENT_DEPARTED": 1},
    "JSON/Example_9.6.2-ObjectEvent.jsonld": {"MATERIAL_RECEIVED": 1},
    "JSON/Example_9.6.3-AggregationEvent.jsonld": {"MATERIAL_RECEIVED": 1},
    "JSON/Example_9.6.4-TransformationEvent.jsonld": {"MANUFACTURING_STEP_COMPLETED": 1},
    "JSON/PersistentDisposition-example.jsonld": {"MATERIAL_RECEIVED": 1},
    "JSON/WithDigitalLinkID/Example_9.6.1-ObjectEventWithDigitalLink.jsonld": {
        "MATERIAL_RECEIVED": 1,
        "SHIPMENT_DEPARTED": 1,
    },
    "JSON/WithDigitalLinkID/Example_9.6.2-ObjectEventWithDigitalLink.jsonld": {
        "MATERIAL_RECEIVED": 1
    },
    "JSON/WithDigitalLinkID/Example_9.6.3-AggregationEventWithDigitalLink.jsonld": {
        "MATERIAL_RECEIVED": 1
    },
    "JSON/WithDigitalLinkID/Example_9.6.4-TransformationEventWithDigitalLink.jsonld": {
        "MANUFACTURING_STEP_COMPLETED": 1
    },
    "JSON/WithErrorDeclaration/ErrorDeclarationAndCorrectiveEvent.jsonld": {
        "MANUFACTURING_STEP_COMPLETED": 1,
        "RECORD_CORRECTED": 1,
    },
    "JSON/WithErrorDeclaration/Example_9.6.1-ObjectEvent-with-error-declaration.jsonld": {
        "MATERIAL_RECEIVED": 1,
        "RECORD_CORRECTED": 1,
    },
    "JSON/WithFullCombinationOfFields/aggregation_event_all_possible_fields.jsonld": {
        "RECORD_CORRECTED": 1
    },
    "JSON/WithFullCombinationOfFields/association_event_all_possible_fields.jsonld": {
        "RECORD_CORRECTED": 1
    },
    "JSON/WithFullCombinationOfFields/object_event_all_possible_fields.jsonld": {
        "RECORD_CORRECTED": 1
    },
    "JSON/WithFullCombinationOfFields/transaction_event_all_possible_fields.jsonld": {
        "RECORD_CORRECTED": 1
    },
    "JSON/WithFullCombinationOfFields/transformation_event_all_possible_fields.jsonld": {
        "RECORD_CORRECTED": 1
    },
    "JSON/WithSensorData/SensorDataExample1.jsonld": {"TEMPERATURE_READING": 3},
    "JSON/WithSensorData/SensorDataExample10.jsonld": "NO_USABLE_EVENT",
    "JSON/WithSensorData/SensorDataExample11.jsonld": "NO_USABLE_EVENT",
    "JSON/WithSensorData/SensorDataExample12.jsonld": {"RECORD_CORRECTED": 1},
    "JSON/WithSensorData/SensorDataExample13.jsonld": {"TEMPERATURE_READING": 2},
    "JSON/WithSensorData/SensorDataExample14.jsonld": "NO_USABLE_EVENT",
    "JSON/WithSensorData/SensorDataExample15.jsonld": "NO_USABLE_EVENT",
    "JSON/WithSensorData/SensorDataExample16.jsonld": "NO_USABLE_EVENT",
    "JSON/WithSensorData/SensorDataExample17.jsonld": "NO_USABLE_EVENT",
    "JSON/WithSensorData/SensorDataExample1b.jsonld": {"TEMPERATURE_READING": 3},
    "JSON/WithSensorData/SensorDataExample2.jsonld": {"TEMPERATURE_READING": 1},
    "JSON/WithSensorData/SensorDataExample3.jsonld": {"TEMPERATURE_READING": 1},
    "JSON/WithSensorData/SensorDataExample4.jsonld": {"TEMPERATURE_READING": 1},
    "JSON/WithSensorData/SensorDataExample5.jsonld": {"TEMPERATURE_READING": 6},
    "JSON/WithSensorData/SensorDataExample6.jsonld": {"TEMPERATURE_READING": 1},
    "JSON/WithSensorData/SensorDataExample7.jsonld": {"TEMPERATURE_READING": 1},
    "JSON/WithSensorData/SensorDataExample8.jsonld": {"TEMPERATURE_READING": 1},
    "JSON/WithSensorData/SensorDataExample9.jsonld": {"DEVIATION_OPENED": 1},
    "XML/AssociationEvent/AssociationEventExamples.xml": {"RECORD_CORRECTED": 1},
    "XML/Example-PersistentDisposition.xml": {"MATERIAL_RECEIVED": 1},
    "XML/Example-TransactionEvent-2020_07_03y.xml": {"SHIPMENT_STATUS": 1},
    "XML/Example_9.6.1-ObjectEvent-2020_06_18a.xml": {
        "MATERIAL_RECEIVED": 1,
        "SHIPMENT_DEPARTED": 1,
    },
    "XML/WithErrorDeclaration/ErrorDeclarationAndCorrectiveEvent.xml": {
        "MANUFACTURING_STEP_COMPLETED": 1,
        "RECORD_CORRECTED": 1,
    },
    "XML/WithEventHashID/event_with_identical_hash_id_1.xml": DOCTYPE,
    "XML/WithEventHashID/event_with_identical_hash_id_2.xml": DOCTYPE,
    "XML/WithEventHashID/event_with_identical_hash_id_3.xml": DOCTYPE,
    "XML/WithEventHashID/event_with_identical_hash_id_4.xml": DOCTYPE,
    "XML/WithEventHashID/event_with_identical_hash_id_5.xml": DOCTYPE,
    "XML/WithEventHashID/event_with_identical_hash_id_6.xml": DOCTYPE,
    "XML/WithExtension/AggregationEvent.xml": {"MATERIAL_RECEIVED": 1},
    "XML/WithExtension/AssociationEvent.xml": "NO_USABLE_EVENT",
    "XML/WithExtension/ObjectEvent.xml": {"SHIPMENT_DEPARTED": 1},
    "XML/WithExtension/TransactionEvent.xml": "NO_USABLE_EVENT",
    "XML/WithExtension/TransformationEvent.xml": {"RECORD_CORRECTED": 1},
    "XML/WithFullCombinationOfFields/aggregation_event_all_possible_fields.xml": DOCTYPE,
    "XML/WithFullCombinationOfFields/association_event_all_possible_fields.xml": DOCTYPE,
    "XML/WithFullCombinationOfFields/object_event_all_possible_fields.xml": DOCTYPE,
    "XML/WithFullCombinationOfFields/transaction_event_all_possible_fields.xml": DOCTYPE,
    "XML/WithFullCombinationOfFields/transformation_event_all_possible_fields.xml": DOCTYPE,
    "XML/WithSensorData/SensorDataExamples.xml": {
        "DEVIATION_OPENED": 2,
        "RECORD_CORRECTED": 1,
        "TEMPERATURE_READING": 15,
    },
    "XSL/1.2/XML/AggregationEvent.xml": {"MATERIAL_RECEIVED": 1},
    "XSL/1.2/XML/AssociationEvent.xml": {"RECORD_CORRECTED": 1},
    "XSL/1.2/XML/ObjectEvent.xml": {"MATERIAL_RECEIVED": 1, "SHIPMENT_DEPARTED": 1},
    "XSL/1.2/XML/TransactionEvent.xml": {"SHIPMENT_STATUS": 1},
    "XSL/1.2/XML/TransformationEvent.xml": {"MANUFACTURING_STEP_COMPLETED": 1},
}


def published_files() -> list[str]:
    return sorted(
        p.relative_to(PUBLISHED).as_posix()
        for p in PUBLISHED.rglob("*")
        if p.is_file() and p.suffix in (".jsonld", ".xml")
    )


def test_every_kept_example_has_an_expectation() -> None:
    assert published_files() == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_published_example(name: str) -> None:
    expected = EXPECTED[name]
    path = PUBLISHED / name
    if isinstance(expected, str):
        result = run_file(CONNECTOR, path)
        assert result.rejection is not None, f"{name} accepted: {result.events}"
        assert result.rejection.code == expected
        assert result.rejection.reason
        return
    events = assert_valid_sample(CONNECTOR, path)
    assert Counter(e.event_type.name for e in events) == Counter(expected)
    for event in events:
        if event.event_type is EventType.TEMPERATURE_READING:
            assert isinstance(event.detail, TemperatureDetail)
            values = (event.detail.value, event.detail.min_value, event.detail.max_value)
            assert any(v is not None for v in (*values, event.detail.mean_value))


def content(events: list[Event]) -> list[dict[str, Any]]:
    """What an event says, without its ids and source (the binding's key may differ) and
    without the extension blobs (their spelling differs between bindings)."""
    out = []
    for e in events:
        dumped = e.model_dump(mode="json", exclude={"event_id", "source", "recorded_at"})
        for key in ("epcis_extensions", "ilmd", "sensor_metadata", "sensor_report"):
            dumped["identifiers"]["other"].pop(key, None)
        out.append(dumped)
    return out


@pytest.mark.parametrize(
    ("xml", "json_name"),
    [
        ("XML/Example_9.6.1-ObjectEvent-2020_06_18a.xml", "JSON/Example_9.6.1-ObjectEvent.jsonld"),
        ("XSL/1.2/XML/ObjectEvent.xml", "JSON/Example_9.6.1-ObjectEvent.jsonld"),
    ],
)
def test_published_xml_maps_like_its_json(xml: str, json_name: str) -> None:
    from_xml = assert_valid_sample(CONNECTOR, PUBLISHED / xml)
    from_json = assert_valid_sample(CONNECTOR, PUBLISHED / json_name)
    assert content(from_xml) == content(from_json)


def test_published_xml_sensor_case_1_reads_like_json_example_1() -> None:
    xml = [
        e
        for e in assert_valid_sample(
            CONNECTOR, PUBLISHED / "XML/WithSensorData/SensorDataExamples.xml"
        )
        if e.event_type is EventType.TEMPERATURE_READING
    ][:3]
    js = assert_valid_sample(CONNECTOR, PUBLISHED / "JSON/WithSensorData/SensorDataExample1.jsonld")
    assert [e.detail for e in xml] == [e.detail for e in js]
    assert [e.occurred_at for e in xml] == [e.occurred_at for e in js]


# --- the same events from JSON, XML 2.0 and XML 1.2 -------------------------------------------

COI = "V2VSAMPLE000001T"
JSON_DOC: dict[str, Any] = {
    "@context": ["https://ref.gs1.org/standards/epcis/epcis-context.jsonld"],
    "type": "EPCISDocument",
    "schemaVersion": "2.0",
    "creationDate": "2026-11-24T10:00:00+01:00",
    "epcisBody": {
        "eventList": [
            {
                "type": "ObjectEvent",
                "eventID": "urn:uuid:0b6a2c1e-0001-4a5e-9d1b-00000000aa01",
                "eventTime": "2026-11-24T10:00:00+01:00",
                "eventTimeZoneOffset": "+01:00",
                "epcList": ["urn:epc:id:sscc:0614141.1000000001"],
                "action": "OBSERVE",
                "bizStep": "urn:epcglobal:cbv:bizstep:shipping",
                "disposition": "urn:epcglobal:cbv:disp:in_transit",
                "readPoint": {"id": "urn:epc:id:sgln:0614141.00777.0"},
                "bizTransactionList": [
                    {"type": "urn:epcglobal:cbv:btt:desadv", "bizTransaction": "urn:x:DESADV-1"}
                ],
                "sourceList": [
                    {"type": "urn:epcglobal:cbv:sdt:possessing_party", "source": "urn:x:site-a"}
                ],
                "v2v:coi": COI,
            },
            {
                "type": "ObjectEvent",
                "eventID": "urn:uuid:0b6a2c1e-0001-4a5e-9d1b-00000000aa02",
                "eventTime": "2026-11-24T11:00:00+01:00",
                "eventTimeZoneOffset": "+01:00",
                "epcList": ["urn:epc:id:sscc:0614141.1000000001"],
                "action": "OBSERVE",
                "bizStep": "urn:epcglobal:cbv:bizstep:receiving",
                "bizLocation": {"id": "urn:epc:id:sgln:0614141.00888.0"},
                "quantityList": [
                    {"epcClass": "urn:epc:class:lgtin:4012345.012345.LOT7", "quantity": 2.0}
                ],
                "v2v:coi": COI,
            },
        ]
    },
}

XML_20 = f"""<?xml version="1.0" encoding="UTF-8"?>
<epcis:EPCISDocument xmlns:epcis="urn:epcglobal:epcis:xsd:2" xmlns:v2v="https://v2v-hub.org/epcis/"
    schemaVersion="2.0" creationDate="2026-11-24T10:00:00+01:00">
  <EPCISBody><EventList>
    <ObjectEvent>
      <eventTime>2026-11-24T10:00:00+01:00</eventTime>
      <eventTimeZoneOffset>+01:00</eventTimeZoneOffset>
      <eventID>urn:uuid:0b6a2c1e-0001-4a5e-9d1b-00000000aa01</eventID>
      <epcList><epc>urn:epc:id:sscc:0614141.1000000001</epc></epcList>
      <action>OBSERVE</action>
      <bizStep>urn:epcglobal:cbv:bizstep:shipping</bizStep>
      <disposition>urn:epcglobal:cbv:disp:in_transit</disposition>
      <readPoint><id>urn:epc:id:sgln:0614141.00777.0</id></readPoint>
      <bizTransactionList>
        <bizTransaction type="urn:epcglobal:cbv:btt:desadv">urn:x:DESADV-1</bizTransaction>
      </bizTransactionList>
      <sourceList>
        <source type="urn:epcglobal:cbv:sdt:possessing_party">urn:x:site-a</source>
      </sourceList>
      <v2v:coi>{COI}</v2v:coi>
    </ObjectEvent>
    <ObjectEvent>
      <eventTime>2026-11-24T11:00:00+01:00</eventTime>
      <eventTimeZoneOffset>+01:00</eventTimeZoneOffset>
      <eventID>urn:uuid:0b6a2c1e-0001-4a5e-9d1b-00000000aa02</eventID>
      <epcList><epc>urn:epc:id:sscc:0614141.1000000001</epc></epcList>
      <action>OBSERVE</action>
      <bizStep>urn:epcglobal:cbv:bizstep:receiving</bizStep>
      <bizLocation><id>urn:epc:id:sgln:0614141.00888.0</id></bizLocation>
      <quantityList><quantityElement>
        <epcClass>urn:epc:class:lgtin:4012345.012345.LOT7</epcClass><quantity>2</quantity>
      </quantityElement></quantityList>
      <v2v:coi>{COI}</v2v:coi>
    </ObjectEvent>
  </EventList></EPCISBody>
</epcis:EPCISDocument>
"""

# EPCIS 1.2: eventID in baseExtension, sourceList and quantityList in extension.
XML_12 = f"""<?xml version="1.0" encoding="UTF-8"?>
<epcis:EPCISDocument xmlns:epcis="urn:epcglobal:epcis:xsd:1" xmlns:v2v="https://v2v-hub.org/epcis/"
    schemaVersion="1.2" creationDate="2026-11-24T10:00:00+01:00">
  <EPCISBody><EventList>
    <ObjectEvent>
      <eventTime>2026-11-24T10:00:00+01:00</eventTime>
      <eventTimeZoneOffset>+01:00</eventTimeZoneOffset>
      <baseExtension><eventID>urn:uuid:0b6a2c1e-0001-4a5e-9d1b-00000000aa01</eventID></baseExtension>
      <epcList><epc>urn:epc:id:sscc:0614141.1000000001</epc></epcList>
      <action>OBSERVE</action>
      <bizStep>urn:epcglobal:cbv:bizstep:shipping</bizStep>
      <disposition>urn:epcglobal:cbv:disp:in_transit</disposition>
      <readPoint><id>urn:epc:id:sgln:0614141.00777.0</id></readPoint>
      <bizTransactionList>
        <bizTransaction type="urn:epcglobal:cbv:btt:desadv">urn:x:DESADV-1</bizTransaction>
      </bizTransactionList>
      <extension>
        <sourceList>
          <source type="urn:epcglobal:cbv:sdt:possessing_party">urn:x:site-a</source>
        </sourceList>
      </extension>
      <v2v:coi>{COI}</v2v:coi>
    </ObjectEvent>
    <ObjectEvent>
      <eventTime>2026-11-24T11:00:00+01:00</eventTime>
      <eventTimeZoneOffset>+01:00</eventTimeZoneOffset>
      <baseExtension><eventID>urn:uuid:0b6a2c1e-0001-4a5e-9d1b-00000000aa02</eventID></baseExtension>
      <epcList><epc>urn:epc:id:sscc:0614141.1000000001</epc></epcList>
      <action>OBSERVE</action>
      <bizStep>urn:epcglobal:cbv:bizstep:receiving</bizStep>
      <bizLocation><id>urn:epc:id:sgln:0614141.00888.0</id></bizLocation>
      <extension>
        <quantityList><quantityElement>
          <epcClass>urn:epc:class:lgtin:4012345.012345.LOT7</epcClass><quantity>2</quantity>
        </quantityElement></quantityList>
      </extension>
      <v2v:coi>{COI}</v2v:coi>
    </ObjectEvent>
  </EventList></EPCISBody>
</epcis:EPCISDocument>
"""


def convert(payload: bytes, suffix: str) -> list[Event]:
    result = CONNECTOR.process(raw_message(CONNECTOR, payload, suffix))
    assert result.rejection is None, result.rejection
    return list(result.events)


@pytest.mark.parametrize("xml", [XML_20, XML_12], ids=["xml-2.0", "xml-1.2"])
def test_xml_bindings_give_the_same_events_as_json(xml: str) -> None:
    from_json = convert(json.dumps(JSON_DOC).encode(), ".jsonld")
    from_xml = convert(xml.encode(), ".xml")
    assert [e.event_type for e in from_json] == [
        EventType.SHIPMENT_DEPARTED,
        EventType.MATERIAL_RECEIVED,
    ]
    assert all(e.coi_id == COI for e in from_json)
    assert [e.event_id for e in from_xml] == [e.event_id for e in from_json]
    assert content(from_xml) == content(from_json)


@pytest.mark.parametrize("content_type", ["application/xml", "text/xml", None])
def test_xml_is_read_under_its_content_types(content_type: str | None) -> None:
    message = raw_message(CONNECTOR, XML_20.encode(), ".xml")
    message = type(message)(
        partner=message.partner,
        payload=message.payload,
        received_at=message.received_at,
        content_type=content_type,
    )
    assert len(CONNECTOR.process(message).events) == 2


def test_xml_doctype_is_refused_before_parsing() -> None:
    evil = XML_20.replace(
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>',
    )
    result = CONNECTOR.process(raw_message(CONNECTOR, evil.encode(), ".xml"))
    assert result.rejection is not None
    assert result.rejection.code == "DOCTYPE_FORBIDDEN"


def test_xml_unknown_root_is_refused_with_its_name() -> None:
    result = CONNECTOR.process(raw_message(CONNECTOR, b"<Foo xmlns='urn:x'/>", ".xml"))
    assert result.rejection is not None
    assert result.rejection.code == "UNKNOWN_TYPE"
    assert result.rejection.field == "Foo"


def test_xml_non_numeric_sensor_value_names_the_attribute() -> None:
    xml = XML_20.replace(
        "<v2v:coi>",
        '<sensorElementList><sensorElement><sensorReport type="gs1:Temperature" '
        'value="warm" uom="CEL"/></sensorElement></sensorElementList><v2v:coi>',
        1,
    )
    result = CONNECTOR.process(raw_message(CONNECTOR, xml.encode(), ".xml"))
    assert result.rejection is not None
    assert result.rejection.code == "MALFORMED"
    assert result.rejection.field is not None
    assert result.rejection.field.endswith("sensorElement/sensorReport/@value")


# --- sensor reports ----------------------------------------------------------------------------


def sensor_doc(*reports: dict[str, Any], meta: dict[str, Any] | None = None) -> bytes:
    element: dict[str, Any] = {"sensorReport": list(reports)}
    if meta is not None:
        element["sensorMetadata"] = meta
    event = {
        "type": "ObjectEvent",
        "eventID": "urn:uuid:0b6a2c1e-0001-4a5e-9d1b-00000000bb01",
        "eventTime": "2026-11-24T12:00:00+01:00",
        "eventTimeZoneOffset": "+01:00",
        "epcList": ["urn:epc:id:sscc:0614141.1000000001"],
        "action": "OBSERVE",
        "bizStep": "sensor_reporting",
        "sensorElementList": [element],
    }
    return json.dumps({"type": "EPCISDocument", "epcisBody": {"eventList": [event]}}).encode()


def test_fahrenheit_is_fah() -> None:
    (event,) = convert(sensor_doc({"type": "Temperature", "value": 46.4, "uom": "FAH"}), ".json")
    assert event.event_type is EventType.TEMPERATURE_READING
    assert isinstance(event.detail, TemperatureDetail)
    assert (event.detail.value, event.detail.unit) == (8.0, "CEL")


def test_far_is_the_farad_and_is_refused_with_its_path() -> None:
    payload = sensor_doc({"type": "Temperature", "value": 46.4, "uom": "FAR"})
    result = CONNECTOR.process(raw_message(CONNECTOR, payload, ".json"))
    assert result.rejection is not None
    assert result.rejection.code == "UNKNOWN_UNIT"
    assert (
        result.rejection.field == "epcisBody.eventList[0].sensorElementList[0].sensorReport[0].uom"
    )
    assert "farad" in result.rejection.reason


@pytest.mark.parametrize("exception", ["ALARM_CONDITION", "ERROR_CONDITION", "gs1:ERROR_CONDITION"])
def test_exception_without_value_is_a_logger_fault_not_a_reading(exception: str) -> None:
    payload = sensor_doc(
        {"type": "Temperature", "value": 5.0, "uom": "CEL", "time": "2026-11-24T11:50:00Z"},
        {"type": "Temperature", "exception": exception, "deviceID": "urn:epc:id:giai:4000001.9"},
    )
    reading, fault = convert(payload, ".json")
    assert reading.event_type is EventType.TEMPERATURE_READING
    assert fault.event_type is EventType.DEVIATION_OPENED
    assert isinstance(fault.detail, DeviationDetail)
    assert fault.detail.classification == "LOGGER_FAULT"
    assert fault.detail.status == "OPEN"
    assert exception.removeprefix("gs1:") in (fault.detail.description or "")
    assert fault.identifiers.logger_id == "urn:epc:id:giai:4000001.9"
    assert fault.identifiers.other["sensor_exception"] == exception.removeprefix("gs1:")
    # the fault takes its report's place: the reading keeps the id it had before
    only_reading = convert(sensor_doc(reading_report()), ".json")
    assert only_reading[0].event_id == reading.event_id


def reading_report() -> dict[str, Any]:
    return {"type": "Temperature", "value": 5.0, "uom": "CEL", "time": "2026-11-24T11:50:00Z"}


def test_exception_with_a_value_stays_a_reading() -> None:
    payload = sensor_doc({**reading_report(), "exception": "ALARM_CONDITION"})
    (event,) = convert(payload, ".json")
    assert event.event_type is EventType.TEMPERATURE_READING
    assert event.identifiers.other["sensor_exception"] == "ALARM_CONDITION"


def test_temperature_report_without_any_value_is_no_reading() -> None:
    payload = sensor_doc(reading_report(), {"type": "Temperature", "stringValue": "ok"})
    assert [e.event_type for e in convert(payload, ".json")] == [EventType.TEMPERATURE_READING]


@pytest.mark.parametrize(
    "field",
    [
        ("component", "x"),
        ("deviceID", "urn:epc:id:giai:4000001.2"),
        ("deviceMetadata", "https://id.gs1.org/8004/2"),
        ("rawData", "https://example.org/raw/2"),
        ("sDev", 0.2),
        ("percRank", 50),
        ("stringValue", "b"),
        ("booleanValue", True),
        ("hexBinaryValue", "0F"),
        ("uriValue", "https://example.org/v/2"),
        ("example:channel", "2"),
    ],
)
def test_two_readings_of_one_instant_stay_two(field: tuple[str, Any]) -> None:
    key, value = field
    first = {**reading_report(), "deviceID": "urn:epc:id:giai:4000001.1"}
    second = {**first, key: value}
    if key == "component":
        first["component"] = "y"
    a, b = convert(sensor_doc(first, second), ".json")
    assert a.occurred_at == b.occurred_at
    assert a.event_id != b.event_id
    assert (a.identifiers, a.detail) != (b.identifiers, b.detail)


def test_metadata_fields_are_kept() -> None:
    meta = {"deviceMetadata": "https://id.gs1.org/8004/1", "bizRules": "https://example.com/r"}
    (event,) = convert(sensor_doc(reading_report(), meta=meta), ".json")
    assert json.loads(event.identifiers.other["sensor_metadata"]) == meta
