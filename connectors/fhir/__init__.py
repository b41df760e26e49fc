"""HL7 FHIR R4 / R5 connector for the clinic's EHR; patients leave it only as pseudonyms."""
