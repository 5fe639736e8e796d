from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import httpx
import psycopg
import pytest


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


# -- the sandbox (a local Intercom) as a subprocess -----------------------------------------

_LISTENING = re.compile(r"listening on (http://\S+)")
#: How long a starting sandbox may take before the test run gives up on it.
_STARTUP_SECONDS = 30


@contextmanager
def _running_sandbox(directory: Path, *args: str) -> Iterator[str]:
    """`python -m intercom_destination sandbox --port 0 ARGS` until the block ends; yields its
    base URL, read from the line it prints."""
    stdout, stderr = directory / "stdout.txt", directory / "stderr.txt"
    env = {k: v for k, v in os.environ.items() if k != "INTERCOM_SANDBOX_TOKEN"}
    command = [sys.executable, "-m", "intercom_destination", "sandbox", "--port", "0"]
    with stdout.open("wb") as out, stderr.open("wb") as err:
        process = subprocess.Popen(
            [*command, "--no-access-log", *args], stdout=out, stderr=err, env=env
        )
    try:
        yield _wait_until_serving(process, stdout, stderr)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_until_serving(process: subprocess.Popen[bytes], stdout: Path, stderr: Path) -> str:
    deadline = time.monotonic() + _STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the sandbox exited with {process.returncode}: {stderr.read_text()}")
        found = _LISTENING.search(stdout.read_text())
        if found:
            url = found.group(1)
            try:
                httpx.get(f"{url}/_sandbox/config", timeout=5).raise_for_status()
            except httpx.TransportError:
                pass
            else:
                return url
        time.sleep(0.05)
    pytest.fail(f"the sandbox did not start: {stderr.read_text()}")


@pytest.fixture(scope="session")
def start_sandbox(
    tmp_path_factory: pytest.TempPathFactory,
) -> Callable[..., AbstractContextManager[str]]:
    """Starts a sandbox of one's own: `with start_sandbox("--token", "t") as url: ...`."""

    def start(*args: str) -> AbstractContextManager[str]:
        return _running_sandbox(tmp_path_factory.mktemp("sandbox"), *args)

    return start


@pytest.fixture(scope="session")
def sandbox_url(start_sandbox: Callable[..., AbstractContextManager[str]]) -> Iterator[str]:
    """The base URL of one sandbox shared by the whole test session (in whatever state the
    previous test left it; use `sandbox` for a clean one)."""
    with start_sandbox() as url:
        yield url


@pytest.fixture
def sandbox(sandbox_url: str) -> str:
    """The session's sandbox, reset before the test: an empty workspace, the starting
    configuration, the real clock, no faults, no recorded calls. Point clients at this URL."""
    httpx.post(f"{sandbox_url}/_sandbox/reset", timeout=10).raise_for_status()
    return sandbox_url


# -- PostgreSQL, for the scale-out store ----------------------------------------------------

#: The server the PostgreSQL tests use: CI machines run one here, with trust auth.
POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://127.0.0.1:5432/test")
#: The PostgreSQL case of a fixture parametrized over the kinds of store.
POSTGRESQL = pytest.param("postgresql", marks=pytest.mark.postgres)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that needs the server is slow too, so that the fast suite (`-m "not slow"`)
    runs in seconds on a machine without one."""
    for item in items:
        if item.get_closest_marker("postgres") is not None:
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """`POSTGRES_URL` once a server answers there. Without one the test is skipped, saying
    why, except on CI (`CI=true`), where the run fails."""
    try:
        psycopg.connect(POSTGRES_URL, connect_timeout=5).close()
    except psycopg.OperationalError as error:
        message = f"no PostgreSQL server at {POSTGRES_URL} (set TEST_POSTGRES_URL): {error}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return POSTGRES_URL


@pytest.fixture
def postgres_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A URL of the test server whose `search_path` is a new, empty schema, dropped after
    the test: every test starts clean, and test runs never see one another's tables."""
    # Checked before the server is looked for, so that a machine without one finds it too.
    if request.node.get_closest_marker("postgres") is None:
        pytest.fail(f"{request.node.nodeid} uses PostgreSQL: mark it `pytest.mark.postgres`")
    postgres_server: str = request.getfixturevalue("postgres_server")
    schema = f"test_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(postgres_server, autocommit=True) as connection:
        connection.execute(f"CREATE SCHEMA {schema}")
    parts = urllib.parse.urlsplit(postgres_server)
    parameters = [*urllib.parse.parse_qsl(parts.query), ("options", f"-c search_path={schema}")]
    # libpq reads `+` as itself, not as a space.
    query = urllib.parse.urlencode(parameters, quote_via=urllib.parse.quote)
    yield parts._replace(query=query).geturl()
    with psycopg.connect(postgres_server, autocommit=True) as connection:
        connection.execute(f"DROP SCHEMA {schema} CASCADE")
