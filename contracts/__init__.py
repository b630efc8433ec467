"""Vendors, customers, credentials, and contracts with their versioned terms."""
