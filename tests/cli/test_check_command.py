"""`intercom-destination check` against a live sandbox over real HTTP."""

from __future__ import annotations

import socket
from collections.abc import Callable
from contextlib import AbstractContextManager

import httpx
import pytest
from click.testing import CliRunner, Result

from intercom_destination.cli import main
from intercom_destination.delivery.connection import NO_INTERCOM

TOKEN = "dG9rOmNoZWNrLWNvbW1hbmQ="
StartSandbox = Callable[..., AbstractContextManager[str]]


def check(api_url: str | None, token: str | None = TOKEN, **settings: str) -> Result:
    # None removes the variable, so nothing set outside the test takes part.
    env = {
        "INTERCOM_ACCESS_TOKEN": token,
        "INTERCOM_API_URL": api_url,
        "INTERCOM_REGION": None,
        "INTERCOM_API_VERSION": None,
        **settings,
    }
    return CliRunner().invoke(main, ["check"], env=env)


def define(sandbox: str, name: str, model: str) -> None:
    httpx.post(
        f"{sandbox}/data_attributes",
        json={"name": name, "model": model, "data_type": "string"},
        headers={"Authorization": "Bearer any"},
    ).raise_for_status()


@pytest.mark.slow
def test_a_good_token_shows_the_workspace_and_its_custom_attributes(sandbox: str) -> None:
    for name, model in [("plan", "contact"), ("score", "contact"), ("tier", "company")]:
        define(sandbox, name, model)
    result = check(sandbox)
    app_id = httpx.get(f"{sandbox}/_sandbox/state").json()["app_id"]
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        f"API: {sandbox} (INTERCOM_API_URL), Intercom-Version 2.14",
        "Token: accepted, admin Sandbox Admin",
        f"Workspace: intercom-destination sandbox (id {app_id}, region US)",
        "Custom attributes: 3 of Intercom's 250 (both models, archived ones included); "
        "the destination creates more while under 200 (max_custom_attributes)",
        "  contact: 2 (plan, score)",
        "  company: 1 (tier)",
    ]
    calls = httpx.get(f"{sandbox}/_sandbox/calls").json()["counts"]
    assert calls == {
        "POST /data_attributes": {"200": 3},
        "GET /me": {"200": 1},
        "GET /data_attributes": {"200": 2},
    }


def test_the_configured_version_and_attribute_policy_are_shown(sandbox: str) -> None:
    result = check(
        sandbox, INTERCOM_API_VERSION="2.11", INTERCOM_DESTINATION_AUTO_CREATE_ATTRIBUTES="false"
    )
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == f"API: {sandbox} (INTERCOM_API_URL), Intercom-Version 2.11"
    assert lines[3:] == [
        "Custom attributes: 0 of Intercom's 250 (both models, archived ones included); "
        "the destination creates none (auto_create_attributes is off)",
        "  contact: 0",
        "  company: 0",
    ]
    versions = {
        c["intercom_version"] for c in httpx.get(f"{sandbox}/_sandbox/calls").json()["calls"]
    }
    assert versions == {"2.11"}


@pytest.mark.slow
def test_a_refused_token_says_to_check_the_region_too(start_sandbox: StartSandbox) -> None:
    with start_sandbox("--token", "dG9rOnJpZ2h0") as url:
        result = check(url)
    assert result.exit_code == 1
    assert "Intercom refused the access token (401 unauthorized" in result.stderr
    assert "check INTERCOM_REGION too" in result.stderr
    assert TOKEN not in result.output


@pytest.mark.slow
def test_a_token_copied_with_its_line_break_is_used_without_it(
    start_sandbox: StartSandbox,
) -> None:
    with start_sandbox("--token", TOKEN) as url:
        result = check(url, token=f"{TOKEN}\r\n")
    assert result.exit_code == 0, result.output
    assert "Token: accepted, admin Sandbox Admin" in result.stdout


def test_a_token_with_a_control_character_is_refused_before_any_request(sandbox: str) -> None:
    result = check(sandbox, token=f"{TOKEN[:8]}\n{TOKEN[8:]}")
    assert result.exit_code == 2
    assert "settings: access_token: contains a control or invisible character" in result.stderr
    assert TOKEN[:8] not in result.output
    assert TOKEN[8:] not in result.output
    assert httpx.get(f"{sandbox}/_sandbox/calls").json()["counts"] == {}


def test_an_api_url_that_is_not_http_is_named() -> None:
    result = check("ftp://127.0.0.1:8089")
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: no request to Intercom can be sent as configured (GET /me: "
        "NonHttpUrlClientError: ftp://127.0.0.1:8089/me (check INTERCOM_API_URL))\n"
    )


def test_an_unreachable_api_is_named(sandbox: str) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    result = check(closed)
    assert result.exit_code == 1
    assert f"cannot reach Intercom at {closed} (GET /me: ClientConnectorError" in result.stderr
    assert TOKEN not in result.output


def test_an_intercom_failure_is_reported(sandbox: str) -> None:
    faults = {"error_rate": 1.0, "error_statuses": [503]}
    httpx.post(f"{sandbox}/_sandbox/faults", json=faults).raise_for_status()
    result = check(sandbox)
    assert result.exit_code == 1
    assert "Intercom answered with an error: 503 service_unavailable" in result.stderr


def test_no_token_is_a_clear_error_before_any_request(sandbox: str) -> None:
    result = check(sandbox, token=None)
    assert result.exit_code == 1
    assert "no Intercom access token: set INTERCOM_ACCESS_TOKEN" in result.stderr
    assert httpx.get(f"{sandbox}/_sandbox/calls").json()["counts"] == {}


def test_the_no_token_hint_names_the_sandbox_commands_own_address() -> None:
    sandbox_port = next(p.default for p in main.commands["sandbox"].params if p.name == "port")
    assert NO_INTERCOM.endswith(f"INTERCOM_API_URL=http://127.0.0.1:{sandbox_port}")
