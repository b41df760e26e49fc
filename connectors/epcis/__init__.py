"""GS1 EPCIS 2.0 JSON / JSON-LD connector (documents, query documents, single events)."""
