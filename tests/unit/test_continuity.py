"""docs/continuity.md: a playbook section for every catalogue code and every partner role's
outage, each answering the same questions, and the link to it on every catalogue entry."""

from __future__ import annotations

import json
import re

import pytest

from hub.chain.catalogue import CONTINUITY_DOC, catalogue, playbook_url
from hub.cli import main
from hub.settings import REPO_ROOT

DOC = (REPO_ROOT / CONTINUITY_DOC).read_text(encoding="utf-8")
FIELDS = (
    "Trigger",
    "Immediate actions",
    "Who decides",
    "Patients affected",
    "Escalate when",
    "Ends when",
)
FEED_CODES = ("PARTNER_FEED_SILENT", "PARTNER_FEED_DEGRADED")
OUTAGES = ("clinic-ehr", "erp", "mes", "lims", "courier", "logger", "qms")


def slug(heading: str) -> str:
    """The anchor GitHub (and most Markdown renderers) give a heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def sections() -> dict[str, str]:
    """Anchor -> body of every ``##``/``###`` section of the doc."""
    found: dict[str, str] = {}
    parts = re.split(r"^#{2,3} (.+)$", DOC, flags=re.MULTILINE)
    for heading, body in zip(parts[1::2], parts[2::2], strict=True):
        assert slug(heading) not in found, f"two sections with the anchor #{slug(heading)}"
        found[slug(heading)] = body
    return found


SECTIONS = sections()


def test_slug_is_the_renderers() -> None:
    assert slug("COI_MISMATCH_RECEIPT") == "coi_mismatch_receipt"
    assert slug("Outage: clinic EHR") == "outage-clinic-ehr"
    assert slug("Manufacturing, quality and release") == "manufacturing-quality-and-release"


@pytest.mark.parametrize(
    "anchor",
    [e.code.lower() for e in catalogue()]
    + [c.lower() for c in FEED_CODES]
    + [f"outage-{o}" for o in OUTAGES],
)
def test_every_code_and_outage_has_a_complete_playbook(anchor: str) -> None:
    assert anchor in SECTIONS, f"{CONTINUITY_DOC} has no section #{anchor}"
    body = SECTIONS[anchor]
    missing = [f for f in FIELDS if f"- **{f}**:" not in body]
    assert missing == [], f"#{anchor} lacks {missing}"


def test_no_section_for_a_code_the_catalogue_does_not_have() -> None:
    codes = {e.code.lower() for e in catalogue()} | {c.lower() for c in FEED_CODES}
    playbooks = {a for a, body in SECTIONS.items() if "- **Trigger**:" in body}
    assert playbooks - codes - {f"outage-{o}" for o in OUTAGES} == set()


def test_every_link_inside_the_doc_lands_on_a_section() -> None:
    links = set(re.findall(r"\]\(#([^)]+)\)", DOC))
    assert links
    assert links - set(SECTIONS) == set()


def test_catalogue_entries_link_their_section() -> None:
    for entry in catalogue():
        assert entry.playbook_url == f"docs/continuity.md#{entry.code.lower()}"
        assert entry.playbook_url == playbook_url(entry.code)
    assert playbook_url("PARTNER_FEED_SILENT") == "docs/continuity.md#partner_feed_silent"


def test_v2v_catalogue_prints_each_link(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["catalogue"]) == 0
    rows = {line.split()[0]: line for line in capsys.readouterr().out.splitlines() if line}
    for entry in catalogue():
        assert rows[entry.code].endswith(f" {entry.playbook_url}")
    assert main(["catalogue", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert {e["code"]: e["playbook_url"] for e in listed} == {
        e.code: e.playbook_url for e in catalogue()
    }
