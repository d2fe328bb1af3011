"""The benchmark pools the slices of a line it measured in turns (`WrkResult.merged`)."""

from __future__ import annotations

from bench.suite.wrk import WrkResult


def flat(ms: float, requests: int, seconds: float = 2.0) -> WrkResult:
    """A slice whose every request took `ms`."""
    return WrkResult(
        requests=requests,
        seconds=seconds,
        max_ms=ms,
        statuses={"200": requests},
        quantiles=[ms] * 999,
    )


def test_merged_slices_add_up_requests_time_and_statuses() -> None:
    merged = WrkResult.merged([flat(1.0, 900), flat(10.0, 100), flat(2.0, 500, seconds=1.0)])

    assert (merged.requests, merged.seconds, merged.rate) == (1500, 5.0, 300.0)
    assert merged.statuses == {"200": 1500}
    assert merged.max_ms == 10.0


def test_merged_percentiles_weigh_each_slice_by_its_requests() -> None:
    # 900 requests at 1 ms and 100 at 10 ms: p50 and p90 are 1 ms, p99 is 10 ms.
    merged = WrkResult.merged([flat(1.0, 900), flat(10.0, 100)])
    assert (merged.p50_ms, merged.p90_ms, merged.p99_ms) == (1.0, 1.0, 10.0)

    # Equal slices with latencies spread from 1 to 999 ms: the pooled p50 is the middle.
    spread = [float(ms) for ms in range(1, 1000)]
    even = [WrkResult(requests=500, seconds=1.0, max_ms=999.0, quantiles=spread) for _ in range(2)]
    pooled = WrkResult.merged(even)
    assert (pooled.p50_ms, pooled.p99_ms) == (500.0, 990.0)
