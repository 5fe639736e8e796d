"""Who gets in, which POSTs count, and what every answer says about framing and caching."""

from __future__ import annotations

import pytest

from intercom_destination.console import exposure_problem
from intercom_destination.settings import Secret, Settings
from tests.console.conftest import Connect

pytestmark = pytest.mark.anyio

PASSWORD = "correct horse battery staple"


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "[::1]", "localhost", "127.0.0.2"])
def test_loopback_needs_no_password(host: str) -> None:
    assert exposure_problem(None, host) is None


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "::", "console.example.com"])
def test_any_other_address_needs_a_password(host: str) -> None:
    problem = exposure_problem(None, host)
    assert problem is not None
    assert host in problem
    assert "CONSOLE_PASSWORD" in problem
    assert exposure_problem(Secret(PASSWORD), host) is None


async def test_without_a_password_only_loopback_names_are_answered(connect: Connect) -> None:
    async with connect() as client:
        assert (await client.get("/dead")).status_code == 200
        assert (await client.get("http://localhost:8089/dead")).status_code == 200
        assert (await client.get("http://[::1]:8089/dead")).status_code == 200
        # A page elsewhere that rebinds its own name to 127.0.0.1 gets nothing.
        refused = await client.get("http://attacker.example:8089/dead")
    assert refused.status_code == 403
    assert "CONSOLE_PASSWORD" in refused.text


async def test_with_a_password_every_request_carries_it(connect: Connect) -> None:
    settings = Settings(console_password=Secret(PASSWORD))
    async with connect(settings, base_url="http://console.example.com") as client:
        missing = await client.get("/dead")
        wrong = await client.get("/api/dead", auth=("", "guess"))
        right = await client.get("/api/dead", auth=("anyone", PASSWORD))
        malformed = await client.get("/dead", headers={"Authorization": "Basic !!!"})
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"].startswith('Basic realm="')
    assert wrong.status_code == 401
    assert malformed.status_code == 401
    assert right.status_code == 200
    assert PASSWORD not in missing.text + wrong.text + right.text


async def test_a_post_without_the_csrf_token_changes_nothing(connect: Connect) -> None:
    async with connect() as client:
        form = await client.post("/dead/purge", data={"all": "1"})
        api = await client.post("/api/dead/purge", json={"all": True})
        forged = await client.post(
            "/api/dead/purge", json={"all": True}, headers={"X-CSRF-Token": "forged"}
        )
        token = (await client.get("/api/csrf")).json()["token"]
        accepted = await client.post(
            "/api/dead/purge", json={"all": True}, headers={"X-CSRF-Token": token}
        )
    assert form.status_code == 403
    assert api.status_code == 403
    assert forged.status_code == 403
    assert "CSRF" in api.json()["error"]
    assert accepted.json() == {"purged": 0}


async def test_pages_may_not_be_framed_nor_load_from_elsewhere(connect: Connect) -> None:
    async with connect() as client:
        page = await client.get("/tester")
        refused = await client.get("http://attacker.example/tester")
    for answer in (page, refused):
        assert answer.headers["x-frame-options"] == "DENY"
        policy = answer.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in policy
        assert "default-src 'self'" in policy


async def test_the_assets_are_served_from_the_package(connect: Connect) -> None:
    async with connect() as client:
        page = (await client.get("/tester")).text
        css = await client.get("/static/console.css")
        js = await client.get("/static/console.js")
    assert 'href="/static/console.css"' in page
    assert 'src="/static/console.js"' in page
    assert css.status_code == js.status_code == 200
    assert css.headers["content-type"].startswith("text/css")
    # Nothing is fetched from elsewhere: no address in the page or its assets.
    for text in (page, css.text, js.text):
        assert "http://" not in text
        assert "https://" not in text
