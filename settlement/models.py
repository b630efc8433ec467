"""Invoices and settlement ledger: arrive with the settlement issue."""
