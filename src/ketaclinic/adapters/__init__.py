"""Adapters at the edges: database, HL7, FHIR, notifier."""
