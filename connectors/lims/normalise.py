"""LIMS QC result exports, as CSV or as JSON: one QC_RESULT_RECORDED event per result.

The format is read from the content (a JSON object or array, else a CSV header line) and, when
the content does not say, from the content type. An export is all or nothing: one bad result
rejects the whole file with its row number, so a half-applied export never reaches the chain.
The column map, the out-of-specification decision and the rejection codes are in README.md.

Identity: a result carries the COI when the LIMS knows it; otherwise it goes out keyed by its
batch and sample ids and the hub re-keys it through the identifier index. A result that carries
both a COI and a sample id also teaches the index that sample (IDENTIFIER_LINKED, once per
sample and COI in an export), so later results for the sample alone can be re-keyed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from typing import ClassVar

from connectors.base import Connector, Envelope, RawMessage, payload_id
from connectors.csvsupport import CsvTable, column_key, decode_text, row_label
from connectors.lims import qc
from connectors.lims.rows import ResultRow
from hub.errors import NormalisationError
from hub.events.models import (
    Actor,
    Event,
    EventType,
    Identifiers,
    LinkDetail,
    QcResultDetail,
)

COLUMNS = frozenset(
    {
        "sample_id",
        "batch_id",
        "coi",
        "test_code",
        "method",
        "result",
        "unit",
        "spec_low",
        "spec_high",
        "spec_text",
        "status",
        "result_time",
        "analyst",
        "reviewer",
        "oos_flag",
        "result_id",
        "lab",
    }
)
# export-level values (CSV metadata lines, JSON top-level keys) that apply to every result
EXPORT_DEFAULTS = frozenset({"lab", "batch_id", "coi"})
REQUIRED = ("sample_id", "test_code", "result", "status", "result_time")
ALIASES: dict[str, str] = {
    "sample": "sample_id",
    "batch": "batch_id",
    "lot": "batch_id",
    "lot_id": "batch_id",
    "batch_no": "batch_id",
    "coi_id": "coi",
    "test": "test_code",
    "analysis": "test_code",
    "result_value": "result",
    "value": "result",
    "units": "unit",
    "uom": "unit",
    "spec_min": "spec_low",
    "low_limit": "spec_low",
    "lower_limit": "spec_low",
    "spec_max": "spec_high",
    "high_limit": "spec_high",
    "upper_limit": "spec_high",
    "spec": "spec_text",
    "specification": "spec_text",
    "result_status": "status",
    "result_timestamp": "result_time",
    "reported_at": "result_time",
    "analyst_id": "analyst",
    "tested_by": "analyst",
    "reviewer_id": "reviewer",
    "reviewed_by": "reviewer",
    "approved_by": "reviewer",
    "oos": "oos_flag",
    "out_of_spec": "oos_flag",
    "lab_id": "lab",
}


class LimsConnector(Connector):
    name: ClassVar[str] = "lims"
    system: ClassVar[str] = "lims"
    content_types: ClassVar[tuple[str, ...]] = ("text/csv", "application/json")

    def normalise(self, message: RawMessage) -> list[Event]:
        text = decode_text(message.payload, self.name)
        rows = (
            self._json_rows(text, message)
            if _is_json(text, message.content_type)
            else self._csv_rows(text, message)
        )
        return self._events(rows, message)

    # --- the two formats, each reduced to a stream of ResultRow --------------------------------

    def _csv_rows(self, text: str, message: RawMessage) -> Iterator[ResultRow]:
        table = CsvTable(text, self.name, known=COLUMNS, aliases=ALIASES)
        message_id = table.metadata.get("export_id") or payload_id(message.payload)
        table.message_id = message_id
        table.require(*REQUIRED)
        names = [(name, pos) for name, pos in table.columns.items() if name in COLUMNS]
        defaults = {k: v for k, v in table.metadata.items() if k in EXPORT_DEFAULTS}
        for row, line, cells in table.rows():
            values: dict[str, object] = dict(defaults)
            values.update((name, cells[pos]) for name, pos in names if cells[pos].strip())
            yield ResultRow(values, row_label(row, line), self.name, message_id)

    def _json_rows(self, text: str, message: RawMessage) -> Iterator[ResultRow]:
        try:
            doc = json.loads(text)
        except (ValueError, RecursionError) as exc:
            raise NormalisationError(
                f"payload starts like JSON but does not parse: {exc}",
                partner=self.name,
                code="NOT_JSON",
            ) from exc
        defaults: dict[str, object] = {}
        if isinstance(doc, dict):
            head = _flatten(doc)
            export_id = ResultRow(head, "export", self.name, "").text("export_id")
            message_id = export_id or payload_id(message.payload)
            results = doc.get("results")
            if not isinstance(results, list):
                raise NormalisationError(
                    "a JSON export object must hold a 'results' list",
                    partner=self.name,
                    message_id=message_id,
                    field="results",
                    code="MISSING_FIELD" if results is None else "MALFORMED",
                )
            defaults = {k: v for k, v in head.items() if k in EXPORT_DEFAULTS}
        elif isinstance(doc, list):
            message_id, results = payload_id(message.payload), doc
        else:
            raise NormalisationError(
                f"JSON payload is a {type(doc).__name__}, expected an export object or a list",
                partner=self.name,
                code="NOT_AN_OBJECT",
            )
        for number, item in enumerate(results, start=1):
            label = f"result {number}"
            if not isinstance(item, dict):
                raise NormalisationError(
                    f"{label}: expected an object, got {type(item).__name__}",
                    partner=self.name,
                    message_id=message_id,
                    code="MALFORMED",
                )
            yield ResultRow({**defaults, **_flatten(item)}, label, self.name, message_id)

    # --- rows -> events ----------------------------------------------------------------------

    def _events(self, rows: Iterator[ResultRow], message: RawMessage) -> list[Event]:
        events: list[Event] = []
        linked: set[tuple[str, str]] = set()
        envelopes: dict[str, Envelope] = {}
        for row in rows:
            envelope = envelopes.get(row.message_id)
            if envelope is None:
                envelope = envelopes[row.message_id] = self.envelope(message, row.message_id)
            coi = row.coi("coi", self.config.coi_pattern)
            sample_id = row.req("sample_id")
            detail = self._detail(row)
            analyst, reviewer, result_id = (
                row.text("analyst"),
                row.text("reviewer"),
                row.text("result_id"),
            )
            occurred_at = row.time("result_time")
            shared = replace(
                envelope,
                coi_id=coi,
                identifiers=Identifiers(
                    batch_id=row.text("batch_id"),
                    sample_id=sample_id,
                    other={
                        k: v
                        for k, v in (("result_id", result_id), ("reviewed_by", reviewer))
                        if v is not None
                    },
                ),
                actor=Actor(id=analyst, role="analyst", organisation=row.text("lab"))
                if analyst
                else None,
                biz_step="inspecting",
            )
            if coi is not None and (coi, sample_id) not in linked:
                linked.add((coi, sample_id))
                link = LinkDetail(id_kind="sample_id", id_value=sample_id)
                events.append(
                    shared.event(len(events), EventType.IDENTIFIER_LINKED, occurred_at, link)
                )
            events.append(
                shared.event(len(events), EventType.QC_RESULT_RECORDED, occurred_at, detail)
            )
        return events

    def _detail(self, row: ResultRow) -> QcResultDetail:
        raw_code = row.req("test_code")
        code = qc.normalise_test_code(raw_code, self.config.partner_options.get("qc_test_aliases"))
        if code is None:
            raise row.error(
                f"test code {raw_code!r} is not a test code (letters, digits, '_', <= 40)",
                code="BAD_TEST_CODE",
                field="test_code",
            )
        raw_status = row.req("status")
        status = qc.normalise_status(raw_status)
        if status is None:
            known = ", ".join(sorted(set(qc.STATUSES.values())))
            raise row.error(
                f"unknown result status {raw_status!r} (maps to: {known})",
                code="UNKNOWN_STATUS",
                field="status",
            )
        value, text, censored = row.result()
        low, high = row.number("spec_low"), row.number("spec_high")
        if low is not None and high is not None and low > high:
            raise row.error(
                f"specification low limit {low} is above high limit {high}",
                code="BAD_SPEC",
                field="spec_low",
            )
        computed = qc.out_of_spec(value, censored, low, high)
        flagged = row.flag("oos_flag")
        # Either source saying out of spec is enough: the conservative reading for release.
        oos: bool | None = None
        if computed or flagged:
            oos = True
        elif False in (computed, flagged):
            oos = False
        if oos and status != "INVALIDATED":
            # Preliminary or final, an OOS result starts an investigation and is never release
            # evidence; an invalidated result keeps its status (its value no longer counts).
            status = "OOS"
        return QcResultDetail(
            test_code=code,
            method=row.text("method"),
            result_value=value,
            result_text=text,
            unit=row.text("unit"),
            spec_low=low,
            spec_high=high,
            spec_text=row.text("spec_text"),
            status=status,
            out_of_spec=oos,
        )


def _is_json(text: str, content_type: str | None) -> bool:
    """The content decides (a JSON object or array, or a CSV header or '#' metadata line); the
    content type only when the first character is neither."""
    head = text.lstrip()[:1]
    if head in ("{", "["):
        return True
    if head.isalnum() or head in ('"', "#", "_"):
        return False
    return "json" in (content_type or "").lower()


def _flatten(obj: dict[str, object]) -> dict[str, object]:
    """JSON object -> canonical columns: keys through the alias table, one level of nesting
    joined with '_' (``{"spec": {"low": 1}}`` -> ``spec_low``, ``{"analyst": {"id": ..}}`` ->
    ``analyst``)."""
    flat: dict[str, object] = {}
    for key, value in obj.items():
        name = column_key(key)
        if isinstance(value, dict):
            for sub, inner in value.items():
                joined = f"{name}_{column_key(sub)}"
                flat[ALIASES.get(joined, joined)] = inner
            continue
        flat[ALIASES.get(name, name)] = value
    return flat


CONNECTOR = LimsConnector
