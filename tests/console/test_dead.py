"""The dead letters page and API: listed, replayed and purged, one or all."""

from __future__ import annotations

import pytest

from intercom_destination.store import Store
from tests.console.conftest import NOW, Connect, api_post, csrf_of
from tests.store.helpers import event

pytestmark = pytest.mark.anyio


async def make_dead(store: Store, *message_ids: str, reason: str) -> list[int]:
    """One dead letter per messageId, each in its own lane, dead for `reason`; their ids."""
    await store.enqueue([event(m, user_id=f"user-{m}") for m in message_ids])
    for lease in await store.lease("w", 100, 30, NOW):
        await store.dead(lease, reason, now=NOW)
    return [
        letter.event.id
        for letter in await store.dead_letters()
        if letter.event.message_id in message_ids
    ]


async def test_the_page_lists_each_dead_letter_with_its_reason(
    store: Store, connect: Connect
) -> None:
    await make_dead(store, "m1", "m2", reason="400 parameter_invalid: <email>")
    async with connect() as client:
        page = await client.get("/dead")
    assert page.status_code == 200
    assert 'href="/events/m1"' in page.text
    assert 'href="/events/m2"' in page.text
    assert "user-m1" in page.text
    # The reason is text, never markup.
    assert "400 parameter_invalid: &lt;email&gt;" in page.text
    assert "<email>" not in page.text


async def test_replaying_one_puts_it_back_in_its_lane(store: Store, connect: Connect) -> None:
    first, second = await make_dead(store, "m1", "m2", reason="500")
    async with connect() as client:
        token = csrf_of((await client.get("/dead")).text)
        answer = await client.post(
            "/dead/replay", data={"csrf": token, "id": str(first), "confirmed": "1"}
        )
        after = await client.get(answer.headers["location"])
    assert answer.status_code == 303
    assert "Replayed 1 dead letter." in after.text
    assert [letter.event.id for letter in await store.dead_letters()] == [second]
    [lease] = await store.lease("w", 10, 30, NOW)
    assert lease.event.message_id == "m1"


async def test_purging_all_empties_the_dead_letters(store: Store, connect: Connect) -> None:
    await make_dead(store, "m1", "m2", "m3", reason="500")
    async with connect() as client:
        token = csrf_of((await client.get("/dead")).text)
        answer = await client.post(
            "/dead/purge",
            data={"csrf": token, "all": "1", "confirmed": "1"},
            follow_redirects=True,
        )
    assert "Purged 3 dead letters." in answer.text
    assert "No dead letters" in answer.text
    assert await store.dead_letters() == []


async def test_the_api_lists_in_pages_and_replays_by_id(store: Store, connect: Connect) -> None:
    ids = await make_dead(store, "m1", "m2", "m3", reason="500 Internal Server Error")
    async with connect() as client:
        first = (await client.get("/api/dead", params={"limit": 2})).json()
        rest = (await client.get("/api/dead", params={"after": first["next_after"]})).json()
        replayed = await api_post(client, "/api/dead/replay", {"id": ids[1:]})
    assert [letter["message_id"] for letter in first["letters"]] == ["m1", "m2"]
    assert first["letters"][0]["reason"] == "500 Internal Server Error"
    assert first["letters"][0]["event"]["messageId"] == "m1"
    assert [letter["message_id"] for letter in rest["letters"]] == ["m3"]
    assert rest["next_after"] is None
    assert replayed.json() == {"replayed": 2}
    assert [letter.event.id for letter in await store.dead_letters()] == ids[:1]


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ({}, "id: name dead letters by id, or by reason shape, or give all"),
        ({"all": True, "id": [1]}, "id: name dead letters by id, or by reason shape, or give all"),
        ({"shape": 5}, "shape: must be a dead-letter group's shape, a string"),
        ({"id": ["one"]}, "id: each must be a dead letter's id, a number"),
    ],
)
async def test_a_replay_must_name_what_it_replays(
    connect: Connect, body: dict[str, object], problem: str
) -> None:
    async with connect() as client:
        answer = await api_post(client, "/api/dead/replay", body)
    assert answer.status_code == 400
    assert answer.json() == {"error": problem}


async def test_a_bad_page_parameter_is_named(connect: Connect) -> None:
    async with connect() as client:
        answer = await client.get("/api/dead", params={"limit": "many"})
    assert answer.status_code == 400
    assert answer.json() == {"error": "limit: not a number"}


async def test_the_page_groups_dead_letters_by_reason(store: Store, connect: Connect) -> None:
    await make_dead(store, "a1", "a2", "a3", reason="500 Internal Server Error")
    await make_dead(store, "b1", reason="400 parameter_invalid: email")
    async with connect() as client:
        page = (await client.get("/dead")).text
        api = (await client.get("/api/dead")).json()
    groups = [(group["count"], group["shape"]) for group in api["groups"]]
    assert groups == [(3, "500 Internal Server Error"), (1, "400 parameter_invalid: email")]
    assert api["groups"][0]["sample_message_id"] == "a1"
    assert "Replay group" in page
    assert 'name="shape" value="500 Internal Server Error"' in page


async def test_reasons_differing_in_a_quoted_id_show_as_one_group_with_a_sample(
    store: Store, connect: Connect
) -> None:
    await make_dead(store, "a1", reason="the identify of user 'd1' never came")
    await make_dead(store, "a2", reason="the identify of user 'd2' never came")
    async with connect() as client:
        page = (await client.get("/dead")).text
        api = (await client.get("/api/dead")).json()
    [group] = api["groups"]
    assert (group["count"], group["shape"]) == (2, "the identify of user '…' never came")
    assert (group["sample_message_id"], group["sample_reason"]) == (
        "a1",
        "the identify of user 'd1' never came",
    )
    assert 'name="shape" value="the identify of user &#39;…&#39; never came"' in page
    assert "the identify of user &#39;d1&#39; never came" in page


async def test_replaying_a_group_through_the_api_takes_every_reason_of_its_shape(
    store: Store, connect: Connect
) -> None:
    await make_dead(store, "a1", reason="the identify of user 'd1' never came")
    await make_dead(store, "a2", reason="the identify of user 'd2' never came")
    kept = await make_dead(store, "b1", reason="404 user 'd3' not found")
    async with connect() as client:
        answer = await api_post(
            client, "/api/dead/replay", {"shape": "the identify of user '…' never came"}
        )
    assert answer.json() == {"replayed": 2}
    assert [letter.event.id for letter in await store.dead_letters()] == kept


async def test_replaying_a_group_takes_only_its_reason(store: Store, connect: Connect) -> None:
    await make_dead(store, "a1", "a2", reason="500 Internal Server Error")
    kept = await make_dead(store, "b1", reason="400 parameter_invalid: email")
    async with connect() as client:
        token = csrf_of((await client.get("/dead")).text)
        answer = await client.post(
            "/dead/replay",
            data={"csrf": token, "shape": "500 Internal Server Error", "confirmed": "1"},
            follow_redirects=True,
        )
    assert "Replayed 2 dead letters." in answer.text
    assert [letter.event.id for letter in await store.dead_letters()] == kept


async def test_purging_a_group_through_the_api(store: Store, connect: Connect) -> None:
    await make_dead(store, "a1", "a2", reason="500 Internal Server Error")
    kept = await make_dead(store, "b1", reason="400 parameter_invalid: email")
    async with connect() as client:
        answer = await api_post(client, "/api/dead/purge", {"shape": "500 Internal Server Error"})
    assert answer.json() == {"purged": 2}
    assert [letter.event.id for letter in await store.dead_letters()] == kept


@pytest.mark.parametrize(
    ("action", "fields", "question"),
    [
        ("replay", {"id": "ID"}, "Replay dead letter ID?"),
        ("purge", {"all": "1"}, "Purge every dead letter?"),
        ("purge", {"shape": "500"}, "Purge the dead letters that died for: 500?"),
    ],
)
async def test_without_the_script_a_page_asks_first(
    store: Store, connect: Connect, action: str, fields: dict[str, str], question: str
) -> None:
    [letter] = await make_dead(store, "m1", reason="500")
    fields = {name: value.replace("ID", str(letter)) for name, value in fields.items()}
    question = question.replace("ID", str(letter))
    async with connect() as client:
        token = csrf_of((await client.get("/dead")).text)
        asked = await client.post(f"/dead/{action}", data={"csrf": token, **fields})
        assert await store.dead_letters() != []
        again = {"csrf": csrf_of(asked.text), "confirmed": "1", **fields}
        done = await client.post(f"/dead/{action}", data=again)
    assert asked.status_code == 200
    assert f"<h1>{question}</h1>" in asked.text
    for name, value in fields.items():
        assert f'<input type="hidden" name="{name}" value="{value}">' in asked.text
    assert done.status_code == 303
    assert await store.dead_letters() == []
