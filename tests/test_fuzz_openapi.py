"""Schemathesis over the whole OpenAPI, against `techtribe serve` on a fresh PostgreSQL database
with the demo data: no input may get a 5xx or an answer outside the documented schemas.

Every operation is fuzzed with valid and invalid inputs, as an anonymous caller, a student,
an instructor and an admin, with the same draw each run and a bounded number of examples (about
two minutes here). Path ids are often real ones (seeded courses, poems, slots, users), so the
handlers behind the 404s are reached too. PostgreSQL lane only: it is what production runs.
Locally: `./dev test tests/test_fuzz_openapi.py -p no:randomly` (FUZZ_EXAMPLES=... for more,
FUZZ_SEED=<integer> for another draw).
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import traceback
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

from techtribe.seed import ADMIN_PASSWORD, INSTRUCTOR_PASSWORD, STUDENT_PASSWORD
from tests.conftest import ON_POSTGRES, drop_database, pg_database_url

pytestmark = pytest.mark.skipif(not ON_POSTGRES, reason="fuzzing runs on the PostgreSQL lane")

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "12"))
SEED = os.environ.get("FUZZ_SEED")  # unset: hypothesis derandomized, the same cases each run
API = "/api/v1"
PASSWORDS = {
    "student": ("student@techtribe.dev", STUDENT_PASSWORD),
    "instructor": ("ana.torres@techtribe.dev", INSTRUCTOR_PASSWORD),
    "admin": ("admin@techtribe.dev", ADMIN_PASSWORD),
}
# Left to the anonymous caller only, because a signed-in fuzz case would end the run's own
# sessions or account (fuzzed ids never hit the demo accounts elsewhere).
ANONYMOUS_ONLY = {("DELETE", f"{API}/users/me"), ("POST", f"{API}/auth/logout")}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Server:
    base_url: str
    tokens: dict[str, str] = field(default_factory=dict)
    ids: dict[str, list[str]] = field(default_factory=dict)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """`techtribe serve --demo` on a fresh database and a free loopback port."""
    name = f"techtribe_fuzz_{os.getpid()}"
    asyncio.run(drop_database(name, create_again=True))
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": pg_database_url(name),
        "REDIS_URL": "",
        "ENVIRONMENT": "development",
        "JWT_SECRET": "fuzz-secret-" + uuid.uuid4().hex,
        "BCRYPT_ROUNDS": "4",
        "ACCESS_TOKEN_MINUTES": "60",
        # The fuzzer fails logins by the hundred from one address: don't lock it out.
        "LOGIN_MAX_FAILURES_PER_ADDRESS": "1000000",
        "LOGIN_MAX_FAILURES_PER_ACCOUNT": "1000000",
        "LOG_LEVEL": "WARNING",
        # A shared database server: a few connections are plenty for one client at a time.
        "DATABASE_POOL_SIZE": "2",
    }
    techtribe = str(Path(sys.executable).parent / "techtribe")
    command = [techtribe, "serve", "--demo", "--port", str(port)]
    workdir = tmp_path_factory.mktemp("fuzz")  # no stray .env is read
    log = workdir / "server.log"
    with log.open("w") as output:
        process = subprocess.Popen(  # noqa: S603
            command, env=env, cwd=workdir, stdout=output, stderr=subprocess.STDOUT, text=True
        )
    try:
        served = Server(f"http://127.0.0.1:{port}")
        _wait_until_up(served.base_url, process, log)
        _sign_in(served)
        _collect_ids(served)
        yield served
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        asyncio.run(drop_database(name))


def _wait_until_up(base_url: str, process: subprocess.Popen[str], log: Path) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited: {log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{base_url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError("server did not start within 90 s")


def _sign_in(server: Server) -> None:
    for role, (email, password) in PASSWORDS.items():
        response = httpx.post(
            f"{server.base_url}{API}/auth/token",
            data={"grant_type": "password", "username": email, "password": password},
        )
        assert response.status_code == 200, response.text
        server.tokens[role] = response.json()["access_token"]


def _collect_ids(server: Server) -> None:
    admin = {"Authorization": f"Bearer {server.tokens['admin']}"}

    def ids(path: str, key: str = "id") -> list[str]:
        body = httpx.get(f"{server.base_url}{API}{path}", params={"limit": 20}, headers=admin)
        return [str(item[key]) for item in body.json()["items"]]

    courses = ids("/courses")
    lessons = []
    for course in courses[:3]:
        detail = httpx.get(f"{server.base_url}{API}/courses/{course}", headers=admin).json()
        lessons += [lesson["id"] for lesson in detail["lessons"]]
    server.ids = {
        "course_id": courses,
        "lesson_id": lessons,
        "poem_id": ids("/poems"),
        "slot_id": ids("/advisories"),
        "purchase_id": ids("/purchases"),
        "user_id": ids("/users"),
        "message_id": ids("/admin/outbox"),
    }
    server.ids["instructor_id"] = server.ids["user_id"]
    assert all(server.ids[kind] for kind in ("course_id", "poem_id", "slot_id", "user_id"))


def _real_ids(server: Server, names: list[str]) -> st.SearchStrategy[dict[str, str]]:
    """For each path parameter, sometimes a real id of its kind."""
    choices = {}
    for name in names:
        known = server.ids.get(name) or next(
            (v for k, v in server.ids.items() if name.endswith(k.removesuffix("_id") + "_id")), []
        )
        if known:
            choices[name] = st.one_of(st.none(), st.sampled_from(known))
    return st.fixed_dictionaries(choices)


ROLES = ["anonymous", "student", "instructor", "admin"]
CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]


def test_no_input_gets_a_5xx_or_an_undocumented_answer(server: Server) -> None:
    schema = schemathesis.openapi.from_url(f"{server.base_url}/openapi.json")
    failures: list[str] = []
    statuses: Counter[int] = Counter()
    operations = 0
    for result in schema.get_all_operations():
        operations += 1
        failures += _fuzz(server, result.ok(), statuses)
    print(
        f"fuzzed {operations} operations, {statuses.total()} requests: {sorted(statuses.items())}"
    )
    assert operations > 40
    # Not all refused at the door: real work was reached. (About a tenth of the answers are
    # 2xx: 9.3-9.5% with FUZZ_SEED 3, 4 and 5, 17% in the fixed draw.)
    assert statuses.total() >= operations * EXAMPLES // 2
    assert sum(n for status, n in statuses.items() if status < 300) > statuses.total() // 20
    assert not failures, "\n\n".join(failures)


def _fuzz(server: Server, operation: Any, statuses: Counter[int]) -> list[str]:
    key = (operation.method.upper(), operation.path)
    roles = ["anonymous"] if key in ANONYMOUS_ONLY else ROLES
    path_names = [p.name for p in operation.path_parameters]
    cases = st.one_of(
        operation.as_strategy(GenerationMode.POSITIVE),
        operation.as_strategy(GenerationMode.NEGATIVE),
    )
    failures: list[str] = []

    @settings(
        max_examples=EXAMPLES,
        derandomize=SEED is None,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=cases, role=st.sampled_from(roles), real=_real_ids(server, path_names))
    def run(case: Any, role: str, real: dict[str, str | None]) -> None:
        if case.path_parameters is not None:
            for name, value in real.items():
                if value is not None:
                    case.path_parameters[name] = value
        headers = {}
        if role != "anonymous":
            headers["Authorization"] = f"Bearer {server.tokens[role]}"
        try:
            response = case.call(base_url=server.base_url, headers=headers)
            statuses[response.status_code] += 1
            case.validate_response(response, checks=CHECKS, headers=headers)
        except (Exception, FailureGroup) as exc:  # gathered: one run reports every operation
            detail = "".join(traceback.format_exception_only(exc)).strip()
            failures.append(f"{key[0]} {key[1]} as {role}: {detail[:3000]}")

    if SEED is not None:
        run = seed(int(SEED))(run)
    run()
    return failures[:3]
