"""`python -m bench`: the load-test suite against a floor app (see docs/performance.md)."""

from bench.suite.main import main

main()
