"""End to end: `delete --suppress` while `serve` runs on the same store file."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.e2e.running import serving
from tests.waiting import wait_until

pytestmark = pytest.mark.slow

ADA, BOB = "ada-e2e-93c1", "bob-e2e-40aa"


def test_a_person_deleted_while_serve_runs_is_gone_and_refused_from_then_on(
    sandbox: str, tmp_path: Path
) -> None:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("INTERCOM_", "SEGMENT_"))},
        "INTERCOM_API_URL": sandbox,
        "INTERCOM_ACCESS_TOKEN": "e2e-token",
        "DATABASE_URL": f"sqlite:///{tmp_path}/store.db",
    }

    def external_ids() -> set[str]:
        contacts = httpx.get(f"{sandbox}/_sandbox/state").json()["contacts"]
        return {contact.get("external_id") for contact in contacts}

    def suppressed(url: str) -> float:
        metrics = httpx.get(f"{url}/metrics").text
        found = re.search(
            r"^intercom_destination_ingest_events_suppressed_total (\S+)$", metrics, re.M
        )
        assert found is not None
        return float(found.group(1))

    with serving(env, tmp_path / "serve.txt") as url:
        batch = [
            {"type": "identify", "userId": ADA, "traits": {"email": f"{ADA}@example.com"}},
            {"type": "identify", "userId": BOB, "traits": {"email": f"{BOB}@example.com"}},
        ]
        httpx.post(f"{url}/v1/batch", json={"batch": batch}).raise_for_status()
        wait_until(lambda: {ADA, BOB} <= external_ids(), "both are delivered")

        deleted = subprocess.run(
            [
                sys.executable,
                "-m",
                "intercom_destination",
                "delete",
                "--user-id",
                ADA,
                "--suppress",
            ],
            env=env,
            capture_output=True,
            text=True,
        )

        assert deleted.returncode == 0, deleted.stderr
        assert "deletion 1 done: 1 of 1 person deleted: 1 stored event and 1 Intercom" in (
            deleted.stdout
        )
        assert external_ids() == {BOB}
        later = {"type": "track", "userId": ADA, "event": "Came Back"}
        assert httpx.post(f"{url}/v1/batch", json={"batch": [later]}).status_code == 200
        assert suppressed(url) == 1.0
        store_files = [f for f in tmp_path.rglob("*") if f.is_file() and "store.db" in str(f)]
        for file in store_files:
            assert ADA.encode() not in file.read_bytes(), file.name
    assert external_ids() == {BOB}
