"""CSV support shared by the CSV dialects (LIMS exports, data logger exports).

A partner CSV export, as these connectors accept it::

    # export_id: LGR-88213-0007          <- optional metadata lines before the header
    # logging_interval_s: 900               ('# key: value' or '# key=value')
    logger_id,shipment_id,timestamp,value,unit        <- header row, required
    LGR-88213,SHP-240001,2026-11-24T13:15:00Z,4.1,C   <- data rows

* Bytes must be UTF-8 (a leading byte-order mark is dropped); anything else is ``NOT_UTF8``.
* The delimiter is the one of ``,`` ``;`` or tab that occurs most often in the header line.
* Header names are matched case-insensitively, with spaces and dashes read as underscores, and
  through the connector's alias table; duplicate names are ``BAD_HEADER``, a header that names
  none of the dialect's columns is ``NOT_CSV``, a missing required column ``MISSING_COLUMN``.
* Blank lines are skipped. A data row whose field count differs from the header's, or that the
  csv module cannot read, is ``BAD_ROW``. Every row error names the data row number (1 = first
  row after the header) and the physical line number, e.g. ``row 3 (line 6): ...``.

Nothing here raises anything but :class:`~hub.errors.NormalisationError`, whatever the bytes.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Collection, Iterator, Mapping

from hub.errors import InvalidIdentifierError, NormalisationError, TimezoneMissingError

DELIMITERS = (",", ";", "\t")
_ERROR_CLASSES: dict[str, type[NormalisationError]] = {
    "TIMEZONE_MISSING": TimezoneMissingError,
    "INVALID_IDENTIFIER": InvalidIdentifierError,
}


def decode_text(payload: bytes, partner: str) -> str:
    """UTF-8 (optional BOM) -> text, or ``NOT_UTF8`` naming the first offending byte."""
    try:
        return payload.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise NormalisationError(
            f"payload is not UTF-8 (byte {exc.start})", partner=partner, code="NOT_UTF8"
        ) from exc


def column_key(name: str) -> str:
    """Header name -> lookup key: trimmed, lower case, spaces and dashes as underscores."""
    return name.strip().lower().replace(" ", "_").replace("-", "_")


def labelled_error(
    label: str,
    reason: str,
    *,
    partner: str,
    code: str,
    field: str | None = None,
    message_id: str | None = None,
) -> NormalisationError:
    """``<label>: <reason>`` as the error class its code implies (TIMEZONE_MISSING and
    INVALID_IDENTIFIER raise their own classes, everything else NormalisationError)."""
    cls = _ERROR_CLASSES.get(code, NormalisationError)
    return cls(f"{label}: {reason}", partner=partner, message_id=message_id, field=field, code=code)


def row_error(
    partner: str,
    row: int,
    line: int,
    reason: str,
    *,
    code: str,
    field: str | None = None,
    message_id: str | None = None,
) -> NormalisationError:
    """The one shape of a CSV row rejection: ``row <n> (line <l>): <reason>``."""
    return labelled_error(
        row_label(row, line),
        reason,
        partner=partner,
        code=code,
        field=field,
        message_id=message_id,
    )


def row_label(row: int, line: int) -> str:
    return f"row {row} (line {line})"


class CsvTable:
    """A parsed CSV export: metadata lines, the header's column positions and the data rows.

    Construction reads the metadata and the header (raising on a bad header); :meth:`rows`
    then yields the data rows lazily, so a connector rejects a file at its first bad row.
    """

    def __init__(
        self,
        text: str,
        partner: str,
        *,
        known: Collection[str],
        aliases: Mapping[str, str] | None = None,
    ) -> None:
        self.partner = partner
        self.message_id: str | None = None
        aliases = aliases or {}
        self._aliases = aliases
        self.metadata: dict[str, str] = {}
        self._stream = io.StringIO(text, newline="")
        self._line = 0
        header_line = self._read_preamble()
        if header_line is None:
            raise NormalisationError(
                "no header row: the payload is empty or holds only comment lines",
                partner=partner,
                code="NOT_CSV",
            )
        self.delimiter = max(DELIMITERS, key=header_line.count)
        self.header_line_no = self._line
        names = self._parse_header(header_line)
        self.columns: dict[str, int] = {}
        for index, name in enumerate(names):
            key = column_key(name)
            if not key:
                continue
            key = aliases.get(key, key)
            if key in self.columns:
                raise NormalisationError(
                    f"header names column {key!r} twice",
                    partner=partner,
                    field=key,
                    code="BAD_HEADER",
                )
            self.columns[key] = index
        self.width = len(names)
        if not any(key in known for key in self.columns):
            raise NormalisationError(
                f"line {self.header_line_no} is not a {partner} CSV header "
                f"(none of the columns {', '.join(sorted(known))})",
                partner=partner,
                code="NOT_CSV",
            )

    def _read_preamble(self) -> str | None:
        """Consume '#' metadata and blank lines; return the header line (None at the end)."""
        while True:
            line = self._stream.readline()
            if not line:
                return None
            self._line += 1
            stripped = line.strip()
            if not stripped:
                continue
            if not stripped.startswith("#"):
                return line
            body = stripped.lstrip("#")
            cut = min((i for i in (body.find(":"), body.find("=")) if i >= 0), default=-1)
            key, value = (body[:cut], body[cut + 1 :]) if cut >= 0 else ("", "")
            key = column_key(key)
            if key:
                self.metadata[self._aliases.get(key, key)] = value.strip()

    def _parse_header(self, line: str) -> list[str]:
        try:
            return next(csv.reader([line], delimiter=self.delimiter, strict=True))
        except (csv.Error, StopIteration) as exc:
            raise NormalisationError(
                f"line {self._line}: header row is not CSV ({exc})",
                partner=self.partner,
                code="NOT_CSV",
            ) from exc

    def has(self, column: str) -> bool:
        return column in self.columns

    def require(self, *columns: str) -> tuple[int, ...]:
        """Positions of ``columns``, or ``MISSING_COLUMN`` naming the first one absent."""
        for column in columns:
            if column not in self.columns:
                raise NormalisationError(
                    f"required column {column!r} is missing from the header "
                    f"(line {self.header_line_no})",
                    partner=self.partner,
                    message_id=self.message_id,
                    field=column,
                    code="MISSING_COLUMN",
                )
        return tuple(self.columns[c] for c in columns)

    def error(
        self, row: int, line: int, reason: str, *, code: str, field: str | None = None
    ) -> NormalisationError:
        return row_error(
            self.partner, row, line, reason, code=code, field=field, message_id=self.message_id
        )

    def rows(self) -> Iterator[tuple[int, int, list[str]]]:
        """Yield ``(row number, line number, cells)`` per non-blank data row, cells as read
        (not stripped). A malformed row raises ``BAD_ROW`` when it is reached."""
        reader = csv.reader(self._stream, delimiter=self.delimiter, strict=True)
        offset = self._line
        row_no = 0
        width = self.width
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                line = offset + reader.line_num
                raise self.error(
                    row_no + 1, line, f"not readable as CSV: {exc}", code="BAD_ROW"
                ) from exc
            if not cells or (len(cells) == 1 and not cells[0].strip()):
                continue
            row_no += 1
            if len(cells) != width:
                raise self.error(
                    row_no,
                    offset + reader.line_num,
                    f"{len(cells)} fields where the header has {width}",
                    code="BAD_ROW",
                )
            yield row_no, offset + reader.line_num, cells
