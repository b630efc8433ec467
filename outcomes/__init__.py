"""Outcome events in: webhook ingestion, the raw event inbox, outcomes and their verification."""
