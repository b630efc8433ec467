"""What every Verity app shares and no domain owns: the error envelope, the API's generic plumbing (errors,
pagination, parsers, middleware, schema hooks, a base view), portal plumbing (forms named by API paths,
paging, navigation, template tags, static assets), database helpers (bulk writers, append-only triggers),
crypto, rate limits, currencies and JSON text checks.

core imports no domain app (contracts, outcomes, settlement): they import it.
"""
