"""The load-test suite behind `python -m bench`: data, servers, wrk, the budget table."""
