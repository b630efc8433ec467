"""Benchmarks (not part of the shipped packages): `make bench-ingest` and friends; see docs/performance.md."""
