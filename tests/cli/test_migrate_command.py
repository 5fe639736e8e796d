"""`migrate`: the store's schema, created or upgraded on the operator's word."""

from __future__ import annotations

from pathlib import Path

import pytest

from intercom_destination.store.postgres import schema as postgres_schema
from intercom_destination.store.sqlite import schema as sqlite_schema
from tests.cli.running import environment, run
from tests.conftest import POSTGRESQL


@pytest.fixture(params=["sqlite", POSTGRESQL])
def env(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str | None]:
    env = environment(tmp_path / "store.db", None)
    if request.param == "postgresql":
        env["DATABASE_URL"] = request.getfixturevalue("postgres_url")
    return env


def test_migrate_creates_the_schema_then_has_nothing_to_do(env: dict[str, str | None]) -> None:
    created = run(env, "migrate")
    again = run(env, "migrate")

    schema = postgres_schema if str(env["DATABASE_URL"]).startswith("postgres") else sqlite_schema
    latest = len(schema.MIGRATIONS)
    assert (created.exit_code, created.stdout) == (0, f"created the schema, version {latest}\n")
    assert again.stdout == f"the schema is at version {latest}, the latest: nothing to do\n"


@pytest.mark.postgres
def test_migrate_upgrades_a_schema_the_fleet_refuses(
    postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = environment(tmp_path / "unused.db", None)
    env["DATABASE_URL"] = postgres_url
    run(env, "migrate")
    latest = len(postgres_schema.MIGRATIONS)
    later = ["CREATE TABLE later (note text)"]
    latest = len(postgres_schema.MIGRATIONS)
    monkeypatch.setattr(postgres_schema, "MIGRATIONS", [*postgres_schema.MIGRATIONS, later])

    refused = run(env, "status")
    migrated = run(env, "migrate")

    assert refused.exit_code == 1
    assert "run `intercom-destination migrate`" in refused.stderr
    assert migrated.stdout == f"migrated the schema from version {latest} to {latest + 1}\n"
    assert run(env, "status").exit_code == 0


def test_migrate_names_a_database_it_cannot_reach_without_its_password(tmp_path: Path) -> None:
    env = environment(tmp_path / "unused.db", None)
    env["DATABASE_URL"] = "postgresql://app:hunter2@127.0.0.1:1/events"

    result = run(env, "migrate")

    assert result.exit_code == 1
    assert "DATABASE_URL: cannot connect to PostgreSQL" in result.stderr
    assert "hunter2" not in result.stderr + result.stdout
