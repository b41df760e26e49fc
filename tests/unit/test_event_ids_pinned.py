"""Event ids already on the topics never change.

Ids are derived from (partner, message key, index) so that a replayed or re-sent message is a
duplicate downstream. A refactor that changes how a connector derives them would silently turn
every re-sent message into new events, so a few ids per connector are pinned here, as the
connectors produced them before their plumbing was shared (one per id scheme: message index,
EPCIS sensor and error-declaration keys, LIMS identifier links, B2MML lots, OData decisions).
"""

from __future__ import annotations

import pytest

from connectors.conformance import CONNECTORS_DIR, run_file
from connectors.registry import CONNECTORS, get_connector

pytestmark = pytest.mark.req("REQ-INV-06")

PINNED: list[tuple[str, str, int, str]] = [
    ("courier", "01-pickup.json", 0, "96afdfee05b3a84aa368c2e2818c4b13"),
    ("courier", "01-pickup.json", 1, "f3031d50fd043a53c83c9897fdddb173"),
    ("courier", "02-departed.json", 0, "f23511af3583869859d4822337cb09d3"),
    ("epcis", "Example_9.6.1-ObjectEvent.jsonld", 0, "49d1fa07fdebb92648ecf17ed038a0fd"),
    ("epcis", "Example_9.6.1-ObjectEvent.jsonld", 1, "51ae7810ce7e48294e58cea0fc0b4f37"),
    ("epcis", "SensorDataExample1.jsonld", 0, "b651f6232655c630f15f581e8f1e0c9f"),
    ("epcis", "v2v-error-declaration.jsonld", 0, "52d468e6a3241d871f3e07fa321e04bc"),
    ("fhir", "r4-order-collection-bundle.json", 0, "5bffd11433ac8fad2d37ef5f95be0a33"),
    ("fhir", "r4-order-collection-bundle.json", 1, "0687a863ec8952ac1497c2180d10f2f1"),
    ("fhir", "r4-service-request-revoked.json", 0, "2d32b2d796f30768087155d53e85e83f"),
    ("lims", "01-release-panel.csv", 0, "400d993e984ff35d0e5fb4f1955e1e5d"),
    ("lims", "01-release-panel.csv", 1, "9661b500c3618bdb282e98d37227d047"),
    ("lims", "02-oos-viability.json", 0, "4223050cabdfe3235c3c4687db586849"),
    ("logger", "01-fresh-15min-readings.csv", 0, "777e23774e14a8c718850086189abbe9"),
    ("logger", "01-fresh-15min-readings.csv", 1, "bcc60c0ae9afcb5b657078dbfa7ef08e"),
    ("logger", "02-cryo-interval-report.csv", 0, "6b66c202a10011ddf89d1362fc16616e"),
    ("mes", "01-process-production-performance-started.xml", 0, "da73048a1ab188032110247a969b226c"),
    ("mes", "01-process-production-performance-started.xml", 1, "3554c18609708ca411bab0a5097bd5c4"),
    ("mes", "04-sync-material-lot-receipt-verified.xml", 0, "b8c6b36e51decc80c0c5e695046b5f44"),
    ("qms", "01-deviation-opened.json", 0, "22a4f913ea983e32405a9a90cab7e327"),
    ("qms", "03-deviation-closed.json", 0, "646372f4b7e8da222e5e384b12304752"),
    ("sap", "01-loipro-order-created.xml", 0, "dc125ec4666ba27a7938061566bd28bb"),
    ("sap", "01-loipro-order-created.xml", 1, "26e8f4ba359b02d20e29b1c64b75c809"),
    ("sap", "06-odata-v2-ud-certified.json", 0, "96e893e346074ef8b14a03632e07d5a8"),
]


@pytest.mark.parametrize(
    ("name", "sample", "index", "expected"),
    PINNED,
    ids=[f"{name}/{sample}#{index}" for name, sample, index, _ in PINNED],
)
def test_event_id_is_unchanged(name: str, sample: str, index: int, expected: str) -> None:
    result = run_file(get_connector(name), CONNECTORS_DIR / name / "samples" / sample)
    assert result.rejection is None, result.rejection
    assert result.events[index].event_id == expected


def test_every_connector_has_a_pinned_id() -> None:
    assert set(CONNECTORS) == {name for name, *_ in PINNED}
