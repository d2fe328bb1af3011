"""wrk (Debian's package) with generated Lua scripts: per-request paths, bodies and headers.

Every wrk thread numbers its requests; request `n` of thread `t` of `T` threads is the
global request `g = n*T + t`, and the Lua picks its token, course, poem or slot from `g`,
so no two requests of a run share an idempotency key or a (buyer, course) pair.
"""

from __future__ import annotations

import asyncio
import bisect
import json
import shutil
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

# wrk calls `done` once, in the main Lua state; the thread tables are copied into it.
COMMON = r"""
local threads = {}
statuses = {}
counter = 0

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

local function lines(path)
  local out = {}
  for line in io.lines(path) do table.insert(out, line) end
  return out
end

local function nextg()
  local g = counter * nthreads + tid
  counter = counter + 1
  return g
end

local function json_escape(s) return s end

function done(summary, latency, requests)
  local merged = {}
  for _, t in ipairs(threads) do
    local st = t:get("statuses")
    if st then
      for k, v in pairs(st) do merged[k] = (merged[k] or 0) + v end
    end
  end
  local parts = {}
  for k, v in pairs(merged) do table.insert(parts, string.format('"%s":%d', k, v)) end
  -- The latency distribution at every 0.1 %, so slices of a run can be merged.
  local q = {}
  for i = 1, 999 do table.insert(q, latency:percentile(i / 10)) end
  local e = summary.errors
  io.write(string.format(
    'BENCHJSON {"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,' ..
    '"status":%d,"timeout":%d,"p50":%d,"p90":%d,"p99":%d,"max":%d,"mean":%f,' ..
    '"statuses":{%s},"q":[%s]}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    latency.mean, table.concat(parts, ","), table.concat(q, ",")))
end
"""

# Counts answers by status (and 409 by problem code): wrk only knows "non-2xx".
COUNT = r"""
function response(status, headers, body)
  local key = tostring(status)
  if status == 409 and body then
    local code = string.match(body, '"code"%s*:%s*"([%w_]+)"')
    if code then key = key .. ":" .. code end
  end
  statuses[key] = (statuses[key] or 0) + 1
end
"""

SCRIPTS = {
    # GET of one fixed path: the URL's.
    "static": "",
    # GET of PATH_PREFIX .. an id from the file, in turn.
    "ids": r"""
function init(args)
  nthreads = tonumber(args[1]); ids = lines(args[2]); prefix = args[3]
end
function request()
  local g = nextg()
  return wrk.format("GET", prefix .. ids[(g % #ids) + 1])
end
""",
    # GET of a fixed path with the bearer token of a user, in turn.
    "bearer": r"""
function init(args)
  nthreads = tonumber(args[1]); tokens = lines(args[2]); path = args[3]
end
function request()
  local g = nextg()
  return wrk.format("GET", path, {["Authorization"] = "Bearer " .. tokens[(g % #tokens) + 1]})
end
""",
    # The OAuth2 password grant, for one user after another.
    "login": r"""
function init(args)
  nthreads = tonumber(args[1]); emails = lines(args[2]); password = args[3]
end
function request()
  local g = nextg()
  local body = "grant_type=password&username=" .. emails[(g % #emails) + 1] ..
    "&password=" .. password
  return wrk.format("POST", "/api/v1/auth/token",
    {["Content-Type"] = "application/x-www-form-urlencoded"}, body)
end
""",
    # Liveness, spaced: a latency probe, not a load.
    "probe": r"""
function init(args) nthreads = tonumber(args[1]); gap = tonumber(args[2]) end
function delay() return gap end
""",
    # A purchase: buyer g, a course never bought by them, every 4th also a seat in a hot slot.
    # g starts at `first`: a warm-up run starts past the requests of the timed one.
    "purchase": r"""
function init(args)
  nthreads = tonumber(args[1]); tokens = lines(args[2]); courses = lines(args[3])
  slots = lines(args[4]); nonce = args[5]; card = args[6]; first = tonumber(args[7])
end
function request()
  local g = nextg() + first
  local nb = #tokens
  local b = g % nb
  local c = (b + math.floor(g / nb) * (nb + 1)) % #courses
  local items = '{"kind":"course","id":"' .. courses[c + 1] .. '"}'
  if g % 4 == 0 then
    items = items .. ',{"kind":"advisory","id":"' .. slots[(math.floor(g / 4) % #slots) + 1] .. '"}'
  end
  local body = '{"items":[' .. items .. '],"payment":' .. card .. '}'
  return wrk.format("POST", "/api/v1/purchases", {
    ["Authorization"] = "Bearer " .. tokens[b + 1],
    ["Content-Type"] = "application/json",
    ["Idempotency-Key"] = nonce .. "-" .. g,
  }, body)
end
""",
    # A rating: poem g mod P, by a rater that never rated it (seed ratings are by others).
    "rating": r"""
function init(args)
  nthreads = tonumber(args[1]); tokens = lines(args[2]); poems = lines(args[3])
end
function request()
  local g = nextg()
  local np = #poems
  local p = g % np
  local r = (g + math.floor(g / np)) % #tokens
  return wrk.format("POST", "/api/v1/poems/" .. poems[p + 1] .. "/ratings", {
    ["Authorization"] = "Bearer " .. tokens[r + 1],
    ["Content-Type"] = "application/json",
  }, '{"score":' .. (g % 5 + 1) .. '}')
end
""",
}
COUNTED = {"purchase", "rating", "login"}


@dataclass
class WrkResult:
    requests: int = 0
    seconds: float = 0.0
    p50_ms: float = 0.0
    p90_ms: float = 0.0
    p99_ms: float = 0.0
    max_ms: float = 0.0
    socket_errors: int = 0
    non_2xx: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    output: str = ""
    # Latency (ms) at each 0.1 % from 0.1 % to 99.9 %: what `merged` combines.
    quantiles: list[float] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @classmethod
    def merged(cls, parts: list[WrkResult]) -> WrkResult:
        """The slices of one line as a single result: requests and time added up, statuses
        and errors summed, percentiles of the pooled latencies (each slice weighted by its
        requests)."""
        statuses: Counter[str] = Counter()
        for part in parts:
            statuses.update(part.statuses)
        weighted = [(part.requests, part.quantiles) for part in parts if part.quantiles]
        total = sum(n for n, _ in weighted)
        latencies = sorted({x for _, q in weighted for x in q})

        def percentile(p: float) -> float:
            # The smallest latency that at least p of all requests stayed within.
            for x in latencies:
                below = sum(n * bisect.bisect_right(q, x) / len(q) for n, q in weighted)
                if below >= p * total:
                    return x
            return max(part.max_ms for part in parts)

        return cls(
            requests=sum(part.requests for part in parts),
            seconds=sum(part.seconds for part in parts),
            p50_ms=percentile(0.50) if weighted else 0.0,
            p90_ms=percentile(0.90) if weighted else 0.0,
            p99_ms=percentile(0.99) if weighted else 0.0,
            max_ms=max((part.max_ms for part in parts), default=0.0),
            socket_errors=sum(part.socket_errors for part in parts),
            non_2xx=sum(part.non_2xx for part in parts),
            statuses=dict(statuses),
            output="\n".join(part.output for part in parts),
        )

    def errors(self, expected: tuple[str, ...] = ()) -> int:
        """Socket errors and timeouts, plus answers that are neither 2xx nor `expected`."""
        if self.statuses:
            bad = sum(
                n for k, n in self.statuses.items() if not k.startswith("2") and k not in expected
            )
        else:
            bad = self.non_2xx
        return self.socket_errors + bad


def require_wrk() -> str:
    found = shutil.which("wrk")
    if not found:
        raise SystemExit("wrk not found: apt-get install -y wrk (see docs/performance.md)")
    return found


def write_script(workdir: Path, kind: str) -> Path:
    path = workdir / f"{kind}.lua"
    path.write_text(COMMON + SCRIPTS[kind] + (COUNT if kind in COUNTED else ""))
    return path


async def run_wrk(
    base_url: str,
    workdir: Path,
    kind: str,
    *,
    path: str = "/",
    args: list[str] | None = None,
    connections: int,
    threads: int,
    seconds: float,
    timeout_s: int = 30,
) -> WrkResult:
    threads = max(1, min(threads, connections))
    script = write_script(workdir, kind)
    command = [
        require_wrk(),
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        f"--timeout={timeout_s}s",
        "--latency",
        "-s",
        str(script),
        base_url + path,
        "--",
        str(threads),
        *(args or []),
    ]
    process = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    out, _ = await process.communicate()
    text = out.decode(errors="replace")
    line = next((x for x in text.splitlines() if x.startswith("BENCHJSON ")), None)
    if process.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({process.returncode}):\n{text}")
    raw = json.loads(line.removeprefix("BENCHJSON "))
    return WrkResult(
        requests=raw["requests"],
        seconds=raw["duration_us"] / 1e6,
        p50_ms=raw["p50"] / 1000,
        p90_ms=raw["p90"] / 1000,
        p99_ms=raw["p99"] / 1000,
        max_ms=raw["max"] / 1000,
        socket_errors=raw["connect"] + raw["read"] + raw["write"] + raw["timeout"],
        non_2xx=raw["status"],
        statuses=raw["statuses"],
        output=text,
        quantiles=[us / 1000 for us in raw["q"]],
    )
