"""Outcome records and raw events: arrive with the ingestion issue."""
