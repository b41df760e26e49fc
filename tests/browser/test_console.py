"""The operations console in a real browser, through a real ``v2v run`` worker, Kafka and Redis.

A fresh-material chain whose inbound shipment runs at 12.5 °C for two hours raises
TEMP_EXCURSION_FRESH (release-relevant: acknowledging it is an electronic signature meaning
REVIEW). A QA person signs in with the development identity provider, finds the case in the
queue, acknowledges it in the signature dialog (re-authenticating), sees version 2 with her
sealed signature and the audit note appear without a reload, and opens the chain page with
its temperature chart. Screenshots: ``build/browser/console-*.png``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import Select, WebDriverWait

from hub.events.models import Event
from hub.serde import SingleObjectWireFormat, codec_for
from hub.sim.stack import Feeder, WorkerProcess
from hub.topics import Topics
from tests.scenarios.excursion import warm_inbound

pytestmark = [
    pytest.mark.integration,
    pytest.mark.browser,
    pytest.mark.req("REQ-P11-AUTH", "REQ-P11-ESIG", "REQ-ALCOA-ATTRIBUTABLE"),
]

EVENTS = SingleObjectWireFormat(codec_for(Event))
REASON = "logger series reviewed against stability data"


@pytest.fixture
def raised(hub_settings, worker: WorkerProcess, tokens) -> dict[str, Any]:
    """The excursion case, as the worker's JSON API shows it."""
    story = warm_inbound(61)
    topics = Topics.of(hub_settings)
    with Feeder(hub_settings) as feeder:
        for event in sorted(story.events, key=lambda e: e.source.received_at):
            feeder.send(topics.events, [(event.coi_id.encode(), EVENTS.encode(event), None)])
    worker.wait_metric("v2v_events_processed_total", len(story.events))
    auditor = tokens.headers("au-alex", "auditor")
    page = httpx.get(f"{worker.url}/cases", headers=auditor, timeout=5).json()
    found = [c for c in page["cases"] if c["code"] == "TEMP_EXCURSION_FRESH"]
    assert len(found) == 1, (page, worker.tail())
    return dict(found[0])


def shot(driver: Any, artefacts: Path, name: str) -> None:
    assert driver.save_screenshot(str(artefacts / f"console-{name}.png"))


def test_sign_in_acknowledge_with_signature_and_see_the_chain(
    worker: WorkerProcess, raised: dict[str, Any], browser: Any, artefacts: Path, tokens
) -> None:
    d, wait = browser, WebDriverWait(browser, 30)
    d.get(f"{worker.url}/console")
    assert "/console/login" in d.current_url  # no session: the sign-in page
    d.find_element(By.ID, "user").send_keys("qa-quinn")
    d.find_element(By.ID, "name").send_keys("Quinn Adler")
    Select(d.find_element(By.ID, "role")).select_by_value("qa")
    shot(d, artefacts, "1-sign-in")
    d.find_element(By.ID, "dev-signin").click()

    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "table.queue")))
    row = d.find_element(By.CSS_SELECTOR, f"tr[data-case='{raised['case_id']}']")
    assert "HIGH" in row.text
    assert "overdue" in row.text
    assert d.find_element(By.ID, "count-high").text == "1"
    shot(d, artefacts, "2-queue")

    row.find_element(By.LINK_TEXT, "TEMP_EXCURSION_FRESH").click()
    wait.until(ec.element_to_be_clickable((By.ID, "open-ack")))
    assert d.find_element(By.ID, "case-version").text == "1"
    d.find_element(By.ID, "open-ack").send_keys(Keys.ENTER)  # by keyboard
    dialog = d.find_element(By.ID, "sig-ack")
    assert dialog.is_displayed()
    assert dialog.find_element(By.CLASS_NAME, "meaning").text == "REVIEW"
    assert "Quinn Adler" in dialog.text
    dialog.find_element(By.NAME, "reason").send_keys(REASON)
    dialog.find_element(By.NAME, "reauth_user").send_keys("qa-quinn")
    shot(d, artefacts, "3-signature-dialog")
    d.find_element(By.ID, "sign-ack").click()

    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "#result [data-status='202']")))
    # the new version arrives by server-sent event, without a reload
    wait.until(ec.text_to_be_present_in_element((By.ID, "case-version"), "2"))
    wait.until(ec.text_to_be_present_in_element((By.ID, "notes"), REASON))
    assert d.find_element(By.ID, "case-status").text == "ACKNOWLEDGED"
    signatures = d.find_element(By.ID, "signatures").text
    assert "REVIEW by Quinn Adler (qa-quinn)" in signatures
    assert REASON in signatures
    notes = d.find_element(By.ID, "notes").text
    assert "ACKNOWLEDGE qa-quinn" in notes
    assert "signed (REVIEW)" in notes
    shot(d, artefacts, "4-acknowledged")

    # the JSON API agrees: the actor is the token's subject, the signature sealed on version 1
    auditor = tokens.headers("au-alex", "auditor")
    case = httpx.get(f"{worker.url}/cases/{raised['case_id']}", headers=auditor).json()
    assert case["version"] == 2
    assert case["acknowledged_by"] == "qa-quinn"
    assert [(s["signer"], s["meaning"], s["case_version"]) for s in case["signatures"]] == [
        ("qa-quinn", "REVIEW", 1)
    ]

    d.find_element(By.LINK_TEXT, raised["coi_id"]).click()
    chart = wait.until(
        ec.presence_of_element_located((By.CSS_SELECTOR, ".chart[data-rendered] canvas"))
    )
    leg = d.find_element(By.CSS_SELECTOR, "section.leg")
    assert "Profile range 2 to 8 °C" in leg.text
    assert "readings outside the range, worst 12.5 °C" in leg.text
    d.execute_script("arguments[0].scrollIntoView({block: 'center'})", chart)
    shot(d, artefacts, "5-chain-temperature")
    assert "replayed" in d.find_element(By.TAG_NAME, "main").text
