"""The resources of one FHIR message and how references between them resolve.

A reference resolves against the Bundle's ``fullUrl`` values (``urn:uuid:...`` or absolute
URLs), against ``<type>/<id>`` of every entry (also the tail of an absolute or versioned
reference) and, for ``#id``, against the referring resource's ``contained`` resources.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from typing import Any

from connectors.jsonreader import canonical_json, join

_TAIL = re.compile(r"([A-Za-z]+/[A-Za-z0-9\-.]{1,64})(?:/_history/[^/]+)?$")


@dataclass(frozen=True)
class Entry:
    """One resource of the message with its JSON path (``entry[2].resource`` or ``""``)."""

    path: str
    resource: dict[str, Any]
    full_url: str | None = None


class Directory:
    def __init__(self, entries: list[Entry]) -> None:
        self._by_ref: dict[str, Entry] = {}
        for entry in entries:
            kind, rid = entry.resource.get("resourceType"), entry.resource.get("id")
            if isinstance(kind, str) and isinstance(rid, str):
                self._by_ref.setdefault(f"{kind}/{rid}", entry)
            if entry.full_url:
                self._by_ref.setdefault(entry.full_url, entry)
                if match := _TAIL.search(entry.full_url):
                    self._by_ref.setdefault(match.group(1), entry)

    def resolve(self, reference: str, container: Entry) -> Entry | None:
        """The resource ``reference`` points at inside this message, or None."""
        if reference.startswith("#"):
            contained = container.resource.get("contained")
            if not isinstance(contained, list):
                return None
            for i, item in enumerate(contained):
                if isinstance(item, dict) and item.get("id") == reference[1:]:
                    return Entry(join(join(container.path, "contained"), i), item)
            return None
        if reference in self._by_ref:
            return self._by_ref[reference]
        match = _TAIL.search(reference)
        return self._by_ref.get(match.group(1)) if match else None


def resource_key(resource: dict[str, Any], kind: str, secret: bytes) -> str:
    """The resource's message id: ``<type>/<id>/_history/<version>`` when versioned, else its
    id plus a keyed hash of its content (so different content never shares event ids, and the
    hash cannot be used to confirm a guess about the patient data it covers)."""
    rid = resource.get("id") if isinstance(resource.get("id"), str) else None
    meta = resource.get("meta")
    version = meta.get("versionId") if isinstance(meta, dict) else None
    if rid and isinstance(version, str) and version:
        return f"{kind}/{rid}/_history/{version}"
    digest = hmac.new(secret, canonical_json(resource).encode("utf-8"), hashlib.sha256)
    content = digest.hexdigest()[:32]
    return f"{kind}/{rid}/_content/{content}" if rid else f"{kind}/_content/{content}"
