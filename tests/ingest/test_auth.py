"""Write keys: from the Basic header or the body, refused when unknown or missing, never
required in a header."""

from __future__ import annotations

import logging

import httpx
import pytest

from intercom_destination.ingest import WriteKeys, exposure_problem
from intercom_destination.ingest.auth import basic_username
from intercom_destination.settings import Secret
from intercom_destination.store import Store
from tests.ingest.conftest import Ingest, MakeIngest
from tests.ingest.helpers import basic, batch, stored, track

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    ("headers", "body_key"),
    [
        (basic("WRITEKEY_PY:"), None),  # the documented form
        (basic("WRITEKEY_PY"), None),  # without the colon, which "might work"
        ({}, "WRITEKEY_PY"),  # body only: analytics-swift, -kotlin, node <= 2.3
        (basic("WRITEKEY_PY:"), "WRITEKEY_PY"),  # both: python, node 3, analytics.js 1.84
        ({"Authorization": "Bearer some-oauth-token"}, "WRITEKEY_PY"),  # OAuth: body decides
    ],
)
async def test_the_write_key_is_taken_from_the_header_or_the_body(
    headers: dict[str, str], body_key: str | None, client: httpx.AsyncClient, store: Store
) -> None:
    body = {"batch": [track("m1")]} | ({"writeKey": body_key} if body_key else {})

    response = await client.post("/v1/batch", json=body, headers=headers)

    assert response.status_code == 200, response.text
    assert list(await stored(store)) == ["m1"]


async def test_v1_b_takes_the_first_items_write_key(
    client: httpx.AsyncClient, store: Store
) -> None:
    body = {"batch": [track("m1", writeKey="WRITEKEY_AJS"), track("m2")]}

    response = await client.post("/v1/b", content=httpx.Request("POST", "/", json=body).content)

    assert response.status_code == 200, response.text
    assert sorted(await stored(store)) == ["m1", "m2"]


async def test_a_single_event_carries_its_write_key(
    client: httpx.AsyncClient, store: Store
) -> None:
    response = await client.post("/v1/t", json=track("m1", writeKey="WRITEKEY_AJS"))

    assert response.status_code == 200, response.text
    assert list(await stored(store)) == ["m1"]


@pytest.mark.parametrize(
    ("headers", "body_key"),
    [
        (basic("NOT-OURS:"), None),
        ({}, "NOT-OURS"),
        # The header wins, as at Segment: a known key in the body does not rescue it.
        (basic("NOT-OURS:"), "WRITEKEY_PY"),
        ({}, "WRITEKEY_PY-and-more"),
        ({}, "WRITEKEY_P"),
    ],
)
async def test_an_unknown_write_key_is_refused_with_a_400_naming_the_problem(
    headers: dict[str, str],
    body_key: str | None,
    client: httpx.AsyncClient,
    store: Store,
    ingest: Ingest,
) -> None:
    body = {"batch": [track("m1")]} | ({"writeKey": body_key} if body_key else {})

    response = await client.post("/v1/batch", json=body, headers=headers)

    # 400, not 401: analytics-swift (without httpConfig) retries every other status forever.
    assert response.status_code == 400
    assert response.json() == {
        "success": False,
        "code": "invalid_write_key",
        "message": "unknown write key: this destination accepts only the keys in "
        "SEGMENT_WRITE_KEYS",
    }
    assert await stored(store) == {}
    assert ingest.metric("ingest_refused_requests_total", reason="invalid_write_key") == 1
    assert ingest.metric("ingest_events_received_total") == 0


@pytest.mark.parametrize(
    "body", [{"batch": [track("m1")]}, {"batch": [track("m1")], "writeKey": ""}, {"batch": []}]
)
async def test_a_request_without_a_write_key_is_refused(
    body: dict[str, object], client: httpx.AsyncClient, store: Store
) -> None:
    response = await client.post("/v1/batch", json=body)

    assert response.status_code == 400
    assert response.json()["code"] == "missing_write_key"
    assert await stored(store) == {}


async def test_the_write_key_is_never_logged(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)

    await client.post("/v1/batch", json=batch(track("m1"), write_key="SECRET-LOOKING-KEY"))
    await client.get("/v1/projects/SECRET-LOOKING-KEY/settings")

    ours = [r for r in caplog.records if r.name.startswith("intercom_destination")]
    assert [record.getMessage() for record in ours] == ["request refused"] * 2
    for record in ours:
        assert "SECRET-LOOKING-KEY" not in repr(record.__dict__)


async def test_without_write_keys_any_request_is_accepted(
    make_ingest: MakeIngest, store: Store
) -> None:
    ingest = make_ingest(write_keys=())

    async with ingest.client() as client:
        anything = await client.post("/v1/batch", json=batch(track("m1"), write_key="whatever"))
        nothing = await client.post("/v1/track", json=track("m2"))

    assert (anything.status_code, nothing.status_code) == (200, 200)
    assert sorted(await stored(store)) == ["m1", "m2"]


@pytest.mark.parametrize(
    ("header", "username"),
    [
        ("Basic V1JJVEVLRVlfUFk6", "WRITEKEY_PY"),  # recorded from analytics-python
        ("basic V1JJVEVLRVlfUFk", "WRITEKEY_PY"),  # no colon, no padding, lower-case scheme
        ("Basic dXNlcjpwYXNzd29yZA==", "user"),  # a password is ignored
        ("Basic OnBhc3N3b3Jk", None),  # no username
        ("Basic %%%", None),
        ("Basic //79", None),  # not UTF-8
        ("Bearer V1JJVEVLRVlfUFk6", None),
        ("", None),
        (None, None),
    ],
)
def test_basic_username(header: str | None, username: str | None) -> None:
    assert basic_username(header) == username


def test_keys_are_compared_whole() -> None:
    keys = WriteKeys([Secret("first-key"), Secret("second-key")])

    keys.check(None, "second-key")
    for wrong in ("second-ke", "second-key ", "SECOND-KEY", "first-keysecond-key"):
        with pytest.raises(Exception, match="unknown write key"):
            keys.check(None, wrong)


@pytest.mark.parametrize(
    ("host", "refused"),
    [
        ("127.0.0.1", False),
        ("::1", False),
        ("localhost", False),
        ("0.0.0.0", True),
        ("10.1.2.3", True),
        ("::", True),
        ("example.com", True),
    ],
)
def test_without_write_keys_ingest_listens_only_on_loopback(host: str, refused: bool) -> None:
    assert (exposure_problem(WriteKeys([]), host) is not None) is refused
    assert exposure_problem(WriteKeys([Secret("key")]), host) is None
