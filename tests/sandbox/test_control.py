"""What surrounds the operations, over real HTTP: auth, rate limits, faults, the control
endpoints, and the state file."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

import httpx
import pytest

RATE_HEADERS = ("x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset")
StartSandbox = Callable[..., AbstractContextManager[str]]


def codes(response: httpx.Response) -> list[str]:
    return [error["code"] for error in response.json()["errors"]]


@pytest.mark.parametrize("authorization", [None, "Bearer", "Basic dXNlcjpwYXNz", "token"])
def test_a_request_without_a_bearer_token_is_a_401_without_rate_limit_headers(
    sandbox: str, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    response = httpx.get(f"{sandbox}/me", headers=headers)
    assert response.status_code == 401
    assert response.json()["errors"] == [
        {"code": "unauthorized", "message": "Access Token Invalid"}
    ]
    assert not any(name in response.headers for name in RATE_HEADERS)


def test_any_bearer_token_is_accepted_by_default(sandbox: str) -> None:
    response = httpx.get(f"{sandbox}/me", headers={"Authorization": "Bearer anything"})
    assert response.status_code == 200
    assert all(name in response.headers for name in RATE_HEADERS)


@pytest.mark.slow
def test_with_a_token_only_that_token_is_accepted(start_sandbox: StartSandbox) -> None:
    with start_sandbox("--token", "s3cret") as url:
        assert httpx.get(f"{url}/me", headers={"Authorization": "Bearer s3cret"}).status_code == 200
        wrong = httpx.get(f"{url}/me", headers={"Authorization": "Bearer other"})
        assert wrong.status_code == 401
        assert httpx.get(f"{url}/_sandbox/config").json()["token_required"] is True


def test_every_answer_carries_the_window_and_past_the_limit_is_a_429_until_the_reset(
    intercom: httpx.Client, control: httpx.Client
) -> None:
    control.post("/clock", json={"now": 1_700_000_004}).raise_for_status()
    control.post("/config", json={"rate_limit": 3}).raise_for_status()
    answers = [intercom.get("/me"), intercom.get("/contacts/0"), intercom.post("/events", json={})]
    assert [r.status_code for r in answers] == [200, 404, 400]
    assert [r.headers["x-ratelimit-remaining"] for r in answers] == ["2", "1", "0"]
    assert {r.headers["x-ratelimit-limit"] for r in answers} == {"3"}
    assert {r.headers["x-ratelimit-reset"] for r in answers} == {"1700000010"}
    refused = intercom.get("/me")
    assert refused.status_code == 429
    assert refused.json()["errors"] == [
        {"code": "rate_limit_exceeded", "message": "Exceeded rate limit of 3 in 10_seconds"}
    ]
    assert (refused.headers["x-ratelimit-remaining"], refused.headers["x-ratelimit-reset"]) == (
        "0",
        "1700000010",
    )
    control.post("/clock", json={"advance": 6}).raise_for_status()
    again = intercom.get("/me")
    assert (again.status_code, again.headers["x-ratelimit-reset"]) == (200, "1700000020")


def test_a_forced_429_window(intercom: httpx.Client, control: httpx.Client) -> None:
    control.post("/clock", json={"now": 1_700_000_000}).raise_for_status()
    control.post("/faults", json={"throttle_seconds": 30}).raise_for_status()
    refused = intercom.get("/me")
    assert (refused.status_code, refused.headers["x-ratelimit-reset"]) == (429, "1700000030")
    assert codes(refused) == ["rate_limit_exceeded"]
    control.post("/clock", json={"advance": 30}).raise_for_status()
    assert intercom.get("/me").status_code == 200


def statuses(intercom: httpx.Client, count: int) -> list[int]:
    return [intercom.get("/me").status_code for _ in range(count)]


def test_injected_errors_follow_the_seed(intercom: httpx.Client, control: httpx.Client) -> None:
    faults = {"error_rate": 0.5, "seed": 42}
    control.post("/faults", json=faults).raise_for_status()
    first = statuses(intercom, 30)
    control.post("/faults", json=faults).raise_for_status()
    assert statuses(intercom, 30) == first
    assert set(first) == {200, 500, 503}
    assert control.get("/faults").json()["errors_injected"] == first.count(500) + first.count(503)


def test_an_injected_error_is_intercoms_5xx_body(
    intercom: httpx.Client, control: httpx.Client
) -> None:
    control.post(
        "/faults",
        json={
            "error_rate": 1,
            "error_statuses": [503],
            "max_errors": 1,
            "endpoints": ["POST /events"],
        },
    ).raise_for_status()
    assert intercom.get("/me").status_code == 200
    failed = intercom.post("/events", json={"event_name": "x", "created_at": 1, "user_id": "u"})
    assert (failed.status_code, codes(failed)) == (503, ["service_unavailable"])
    assert "x-ratelimit-remaining" in failed.headers
    retried = intercom.post("/events", json={"event_name": "x", "created_at": 1, "user_id": "u"})
    assert retried.status_code == 404


def test_an_error_after_commit_loses_only_the_answer(
    intercom: httpx.Client, control: httpx.Client
) -> None:
    lost = {"error_rate": 1, "after_commit": 1, "max_errors": 1, "endpoints": ["POST /events"]}
    control.post("/faults", json=lost).raise_for_status()
    intercom.post("/contacts", json={"external_id": "u1"}).raise_for_status()
    event = {"event_name": "x", "created_at": 1, "user_id": "u1"}
    assert intercom.post("/events", json=event).status_code in (500, 503)
    assert [e["event_name"] for e in control.get("/state").json()["events"]] == ["x"]
    # Sent again, it is Intercom's duplicate: accepted, and not recorded twice.
    assert intercom.post("/events", json=event).status_code == 202
    assert len(control.get("/state").json()["events"]) == 1


def test_a_window_that_refuses_every_token(intercom: httpx.Client, control: httpx.Client) -> None:
    control.post("/clock", json={"now": 1_700_000_000}).raise_for_status()
    control.post("/faults", json={"unauthorized_seconds": 30}).raise_for_status()
    refused = intercom.get("/me")
    assert (refused.status_code, codes(refused)) == (401, ["unauthorized"])
    assert not any(name in refused.headers for name in RATE_HEADERS)
    control.post("/clock", json={"advance": 30}).raise_for_status()
    assert intercom.get("/me").status_code == 200


def test_added_latency_delays_the_answer(intercom: httpx.Client, control: httpx.Client) -> None:
    control.post("/faults", json={"latency_ms": 300, "endpoints": ["GET /me"]}).raise_for_status()
    started = time.monotonic()
    assert intercom.get("/me").status_code == 200
    # A sleep never ends early, so this lower bound holds however loaded the machine is.
    assert time.monotonic() - started >= 0.3


@pytest.mark.parametrize("archived", [False, True])
def test_a_forced_409_race_creates_the_contact_and_names_it(
    intercom: httpx.Client, control: httpx.Client, archived: bool
) -> None:
    control.post(
        "/faults", json={"conflicts": 1, "conflicts_archived": archived}
    ).raise_for_status()
    raced = intercom.post("/contacts", json={"external_id": "u1"})
    assert raced.status_code == 409
    (contact,) = control.get("/state").json()["contacts"]
    assert contact["archived"] is archived
    article = "An archived contact" if archived else "A contact"
    assert raced.json()["errors"][0]["message"] == (
        f"{article} matching those details already exists with id={contact['id']}"
    )
    if archived:
        intercom.post(f"/contacts/{contact['id']}/unarchive").raise_for_status()
    assert intercom.put(f"/contacts/{contact['id']}", json={"name": "Ada"}).status_code == 200
    assert intercom.post("/contacts", json={"external_id": "u2"}).status_code == 200


def test_calls_are_counted_per_endpoint_and_status_with_their_version(
    sandbox: str, intercom: httpx.Client, control: httpx.Client
) -> None:
    intercom.post("/contacts", json={"external_id": "u1"})
    intercom.post("/contacts", json={"external_id": "u1"})
    httpx.get(f"{sandbox}/contacts/abc", headers={"Authorization": "Bearer t"})
    httpx.get(f"{sandbox}/me")
    calls = control.get("/calls").json()
    assert calls["counts"] == {
        "POST /contacts": {"200": 1, "409": 1},
        "GET /contacts/{contact_id}": {"404": 1},
        "GET /me": {"401": 1},
    }
    assert [(c["path"], c["intercom_version"]) for c in calls["calls"]] == [
        ("/contacts", "2.14"),
        ("/contacts", "2.14"),
        ("/contacts/abc", None),
        ("/me", None),
    ]


def test_reset_empties_the_workspace_and_undoes_changes(
    intercom: httpx.Client, control: httpx.Client
) -> None:
    intercom.post("/contacts", json={"external_id": "u1"}).raise_for_status()
    control.post("/config", json={"rate_limit": 5, "search_lag": 9}).raise_for_status()
    control.post("/faults", json={"error_rate": 1}).raise_for_status()
    control.post("/clock", json={"now": 1}).raise_for_status()
    before = control.get("/state").json()["app_id"]
    control.post("/reset").raise_for_status()
    state = control.get("/state").json()
    assert (state["contacts"], state["events"], state["data_attributes"]) == ([], [], [])
    assert control.get("/calls").json() == {"counts": {}, "calls": []}
    # A new workspace: a destination must not take its cache of the old one for this one.
    assert intercom.get("/me").json()["app"]["id_code"] == state["app_id"] != before
    config = control.get("/config").json()
    assert (config["rate_limit"], config["search_lag"]) == (1666, 0)
    assert control.get("/clock").json()["frozen"] is False
    assert intercom.post("/contacts", json={"external_id": "u1"}).status_code == 200


def test_a_company_deleted_as_an_admin_would_leaves_its_users(
    intercom: httpx.Client, control: httpx.Client
) -> None:
    contact = intercom.post("/contacts", json={"external_id": "u1"}).json()
    company = intercom.post("/companies", json={"company_id": "c1"}).json()
    intercom.post(f"/contacts/{contact['id']}/companies", json={"id": company["id"]})

    control.delete(f"/companies/{company['id']}").raise_for_status()

    assert intercom.get("/companies", params={"company_id": "c1"}).status_code == 404
    assert intercom.get(f"/contacts/{contact['id']}").json()["companies"]["data"] == []
    assert control.delete(f"/companies/{company['id']}").status_code == 404


def test_a_bad_control_request_is_a_400(control: httpx.Client) -> None:
    response = control.post("/faults", json={"error_rate": 2})
    assert response.status_code == 400
    assert control.post("/config", json={"unknown": 1}).status_code == 400
    assert control.post("/save").status_code == 409


@pytest.mark.slow
def test_the_state_file_survives_a_restart(start_sandbox: StartSandbox, tmp_path: Path) -> None:
    state_file = tmp_path / "workspace.json"
    headers = {"Authorization": "Bearer t"}
    with (
        start_sandbox("--state", str(state_file)) as url,
        httpx.Client(base_url=url, headers=headers) as intercom,
    ):
        body = {"name": "plan", "model": "contact", "data_type": "string"}
        intercom.post("/data_attributes", json=body).raise_for_status()
        contact = intercom.post(
            "/contacts", json={"external_id": "u1", "custom_attributes": {"plan": "pro"}}
        ).json()
        event = {"event_name": "signed-up", "created_at": 1_700_000_000, "user_id": "u1"}
        intercom.post("/events", json=event).raise_for_status()
        saved = httpx.post(f"{url}/_sandbox/save").json()
        assert saved == {"saved": str(state_file)}
        assert [c["id"] for c in json.loads(state_file.read_text())["contacts"]] == [contact["id"]]
        intercom.post("/companies", json={"company_id": "c1"}).raise_for_status()
    # Stopping the sandbox wrote the company created after the save.
    assert [c["company_id"] for c in json.loads(state_file.read_text())["companies"]] == ["c1"]

    with (
        start_sandbox("--state", str(state_file)) as url,
        httpx.Client(base_url=url, headers=headers) as intercom,
    ):
        restored = intercom.get(f"/contacts/{contact['id']}").json()
        assert restored["custom_attributes"] == {"plan": "pro"}
        assert restored["workspace_id"] == contact["workspace_id"]
        assert intercom.get("/me").json()["app"]["id_code"] == contact["workspace_id"]
        assert intercom.post("/contacts", json={"external_id": "u1"}).status_code == 409
        assert intercom.get("/companies", params={"company_id": "c1"}).status_code == 200
        assert len(httpx.get(f"{url}/_sandbox/state").json()["events"]) == 1


@pytest.mark.slow
def test_a_state_file_that_is_not_one_stops_the_start(tmp_path: Path) -> None:
    state_file = tmp_path / "workspace.json"
    state_file.write_text('{"contacts": "many"}')
    command = [sys.executable, "-m", "intercom_destination", "sandbox", "--port", "0"]
    result = subprocess.run(
        [*command, "--state", str(state_file)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1
    assert "is not a sandbox state file" in result.stderr
