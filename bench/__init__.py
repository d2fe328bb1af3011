"""Benchmarks of TechTribe; `python -m bench` runs the load-test suite (see docs/performance.md)."""
