"""`--profile`: py-spy (sampling, non-blocking) on the service's workers during each scenario,
then the top costs per scenario: leaf frames (self time) and library shares (inclusive)."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

# Inclusive shares of these stacks, in this order of precedence for a frame's "owner".
LIBRARIES = [
    ("bcrypt", "bcrypt"),
    ("pydantic", "pydantic"),
    ("fastapi", "fastapi"),
    ("starlette", "starlette"),
    ("sqlalchemy/orm", "sqlalchemy ORM"),
    ("sqlalchemy", "sqlalchemy core"),
    ("asyncpg", "asyncpg"),
    ("jose", "python-jose"),
    ("logging", "logging"),
    ("pythonjsonlogger", "logging"),
    ("prometheus", "prometheus"),
    ("asgi_correlation_id", "correlation id"),
    ("uvicorn", "uvicorn"),
    ("techtribe", "techtribe"),
]


def _py_spy() -> str | None:
    """py-spy on PATH, or installed in this virtualenv (not activated)."""
    beside = Path(sys.executable).with_name("py-spy")
    return shutil.which("py-spy") or (str(beside) if beside.exists() else None)


@contextlib.contextmanager
def recording(run: Any, server: Any, key: str) -> Iterator[None]:
    """Record the server's workers while the block runs (only with --profile, service only)."""
    binary = _py_spy()
    if not run.args.profile or server.name != "service" or binary is None:
        yield
        return
    out = run.workdir / f"profile-{key}.txt"
    command = [binary, "record", "--format", "raw", "--rate", "200", "--nonblocking"]
    command += ["--subprocesses", "--pid", str(server.process.pid), "--output", str(out)]
    spy = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield
    finally:
        spy.send_signal(signal.SIGINT)
        try:
            spy.wait(timeout=30)
        except subprocess.TimeoutExpired:
            spy.kill()
            spy.wait()
        run.profiles = getattr(run, "profiles", {})
        run.profiles[key] = out


def _short(frame: str) -> str:
    # py-spy raw frames: "function (path/to/file.py:line)"
    name, _, where = frame.partition(" (")
    where = where.rstrip(")")
    path, _, line = where.rpartition(":")
    parts = path.split("site-packages/")[-1].split("/src/")[-1]
    return f"{name} ({parts}:{line})" if path else frame


def summarise(path: Path, top: int = 12) -> list[str]:
    leaf: Counter[str] = Counter()
    owners: Counter[str] = Counter()
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        frames = stack.split(";")
        # Idle workers wait in the event loop (uvloop's is C: the leaf is Runner.run).
        if frames and any(x in frames[-1] for x in ("select (", "run_forever", "Runner.run")):
            continue
        total += n
        leaf[_short(frames[-1])] += n
        seen = set()
        for frame in frames:
            for needle, label in LIBRARIES:
                if needle in frame and label not in seen:
                    seen.add(label)
                    owners[label] += n
                    break
    if not total:
        return ["  (no samples)"]
    lines = [f"  {total} busy samples; inclusive share by library:"]
    lines.append(
        "    " + ", ".join(f"{label} {n * 100 / total:.0f}%" for label, n in owners.most_common())
    )
    lines.append("  top frames by self time:")
    lines += [f"    {n * 100 / total:5.1f}%  {frame}" for frame, n in leaf.most_common(top)]
    return lines


def report(run: Any) -> None:
    profiles: dict[str, Path] = getattr(run, "profiles", {})
    if not profiles:
        if run.args.profile:
            print("\n--profile: py-spy not found (pip install py-spy); nothing recorded")
        return
    keep = Path(os.environ.get("BENCH_PROFILE_DIR", "bench-profiles"))
    keep.mkdir(exist_ok=True)
    print("\nProfiles (py-spy, service workers; the timings above are slowed by it):")
    for key, path in profiles.items():
        if not path.exists():
            continue
        shutil.copy(path, keep / path.name)
        print(f"\n[{key}] ({keep / path.name})")
        print("\n".join(summarise(path)))
