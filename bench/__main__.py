"""`python -m bench`: the load-test suite against a floor app (see bench/SUITE.md)."""

from bench.suite.main import main

main()
