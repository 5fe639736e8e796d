"""Ingest against thousands of hostile bodies (seeded, so a failure repeats): never a 5xx while
the store is up, every event a 2xx acknowledges is stored, nothing of a refused request or item.

Each body is built from pieces that each stress one part of reading a request: events with
fields missing, of the wrong type or absurd (timestamps past the year 9999, nesting past the
recursion limit, lone UTF-16 surrogates, huge numbers), envelopes likewise, gzip, single-event
paths, and bytes flipped, cut or added. The store's backlog, read after every request, is the
truth the answers are checked against.
"""

from __future__ import annotations

import gzip
import json
import random
from collections import Counter
from pathlib import Path

import httpx
import pytest

from intercom_destination.store import Store, open_store
from tests.ingest.conftest import NOW, Ingest, settings
from tests.ingest.helpers import stored

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

SEED = 19
BODIES = 3_000

TIMESTAMPS = [
    '"2026-11-28T22:59:59Z"',
    '"2026-11-28T23:59:59+01:00"',
    '"2015-2-02T00:30:08.276Z"',
    '"9999-12-31T23:59:59Z"',
    '"9999-12-31T23:59:59-01:00"',
    '"0001-01-01T00:00:00Z"',
    '"0001-01-01T00:00:00+01:00"',
    '"yesterday"',
    '""',
    "1700000000",
    "1700000000123",
    "1e20",
    "-1e20",
    "1e400",
    "1" + "0" * 400,
    '"' + "1" * 400 + '"',
    '"' + "1" * 5_000 + '"',
    "null",
    "true",
    "[]",
]
STRINGS = [
    '""',
    '"u"',
    '"\\u00e9t\\u00e9"',
    '"日本語"',
    '"\\ud83d\\ude00"',
    '"\\\\ud800"',
    '"\\"quoted\\""',
    '"' + "x" * 120 + '"',
]
#: Strings no text holds: lone surrogates.
LONE = ['"\\ud800"', '"a\\udc00b"', '"\\udbff\\ud800"']
SCALARS = [*STRINGS, "0", "-1", "1.5", "1e400", "123456789012345678901234567890", "true", "null"]
#: The messageId of an event whose messageId is another value than the one it was given.
OTHER = "other"
TYPES = ['"track"', '"identify"', '"page"', '"screen"', '"group"', '"alias"', '"Track"', '"visit"']


class Bodies:
    """Request bodies, and what each is known to hold."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.sequence = 0

    def value(self, depth: int = 0) -> str:
        """Any JSON value, now and then nested far deeper than events ever are."""
        rng = self.rng
        roll = rng.random()
        if roll < 0.005:
            levels = rng.choice([255, 256, 257, 300, 999, 1_100, 5_000])
            opener, closer = rng.choice([("[", "]"), ('{"a":', "}")])
            return opener * levels + "1" + closer * levels
        if roll < 0.02:
            return rng.choice(LONE)
        if depth > 3 or roll < 0.5:
            return rng.choice(SCALARS)
        if roll < 0.75:
            return "[" + ",".join(self.value(depth + 1) for _ in range(rng.randrange(4))) + "]"
        return self.object(depth)

    def object(self, depth: int = 0) -> str:
        pairs = (
            f"{self.rng.choice(STRINGS)}:{self.value(depth + 1)}"
            for _ in range(self.rng.randrange(4))
        )
        return "{" + ",".join(pairs) + "}"

    def timestamp(self) -> str:
        return self.rng.choice(TIMESTAMPS if self.rng.random() < 0.3 else TIMESTAMPS[:3])

    def event(self) -> tuple[str, str | None]:
        """An event's JSON, and the messageId it is stored under: None if it has none (it is
        given a new one), OTHER if it has another value (that may name another event too)."""
        rng = self.rng
        self.sequence += 1
        message_id: str | None = f"fuzz-{self.sequence}"
        kind = rng.choice(TYPES if rng.random() < 0.1 else TYPES[:6])
        fields: dict[str, str] = {
            "type": kind,
            "messageId": json.dumps(message_id),
            rng.choice(["userId", "anonymousId"]): rng.choice(['"u1"', '"a1"', "42"]),
            "event": '"Clicked"',
            "groupId": '"g1"',
            "previousId": '"p1"',
        }
        if rng.random() < 0.5:
            fields[rng.choice(["timestamp", "originalTimestamp"])] = self.timestamp()
        if rng.random() < 0.3:
            fields["sentAt"] = self.timestamp()
        for name in ("properties", "traits", "context", "integrations"):
            if rng.random() < 0.4:
                fields[name] = self.object()
        # Now and then a field goes, or takes any value: a messageId of another type either
        # names the event otherwise or makes it invalid.
        for _ in range(rng.choice([0, 0, 0, 1, 2])):
            name = rng.choice(list(fields))
            if rng.random() < 0.5:
                del fields[name]
            else:
                fields[name] = self.value()
            if name == "messageId":
                message_id = OTHER
        if "messageId" not in fields:
            message_id = None
        return "{" + ",".join(f'"{name}":{value}' for name, value in fields.items()) + "}", (
            message_id
        )

    def batch(self) -> tuple[bytes, list[str | None]]:
        rng = self.rng
        events = [self.event() for _ in range(rng.choice([0, 1, 2, 5, 20]))]
        items = [text if rng.random() > 0.03 else self.value() for text, _ in events]
        envelope = {"batch": "[" + ",".join(items) + "]"}
        if rng.random() < 0.95:
            envelope["writeKey"] = rng.choice(['"WRITEKEY_PY"'] * 10 + ['"wrong"', "7"])
        for name in ("sentAt", "context", "integrations"):
            if rng.random() < 0.2:
                envelope[name] = self.timestamp() if name == "sentAt" else self.value()
        text = "{" + ",".join(f'"{name}":{value}' for name, value in envelope.items()) + "}"
        return text.encode(), [message_id for _, message_id in events]

    def single(self) -> tuple[bytes, list[str | None]]:
        text, message_id = self.event()
        return (text[:-1] + ',"writeKey":"WRITEKEY_PY"}').encode(), [message_id]

    def mutated(self, body: bytes) -> bytes:
        """`body` with bytes flipped, cut or added."""
        rng = self.rng
        data = bytearray(body)
        for _ in range(rng.randint(1, 3)):
            at = rng.randrange(len(data) + 1)
            match rng.randrange(3):
                case 0 if data:
                    data[min(at, len(data) - 1)] = rng.randrange(256)
                case 1:
                    del data[at:]
                case _:
                    data[at:at] = rng.choice([b"\\", b'"', b"[", b"}", b",", b"\xff", b"\\ud800"])
        return bytes(data)


async def test_no_body_gets_a_5xx_and_every_acknowledged_event_is_stored(tmp_path: Path) -> None:
    async with (
        await open_store(f"sqlite:///{tmp_path / 'store.db'}") as store,
        Ingest(store, settings()).client() as client,
    ):
        await _fuzz(client, store)


async def _fuzz(client: httpx.AsyncClient, store: Store) -> None:
    bodies = Bodies(random.Random(SEED))
    rng = bodies.rng
    #: messageIds acknowledged, and of events rejected alone or in a refused request.
    acknowledged: set[str] = set()
    refused: set[str] = set()
    statuses: Counter[int] = Counter()
    codes: Counter[str | None] = Counter()
    backlog = 0
    #: Requests acknowledged, for a client's retry of one now and then.
    taken_requests: list[tuple[str, bytes, dict[str, str], list[str | None]]] = []
    for _ in range(BODIES):
        retry = bool(taken_requests) and rng.random() < 0.03
        if retry:
            # What was taken is acknowledged again, and not stored twice.
            path, body, headers, message_ids = rng.choice(taken_requests)
        else:
            single = rng.random() < 0.2
            path = rng.choice(["/v1/track", "/v1/identify", "/v1/t"]) if single else "/v1/batch"
            body, message_ids = bodies.single() if single else bodies.batch()
            headers = {}
            if rng.random() < 0.15:
                # Which events it holds is not known any more: the store is the judge.
                body, message_ids = bodies.mutated(body), None
            if rng.random() < 0.1:
                body = gzip.compress(body)
                if rng.random() < 0.3:
                    body = body[: rng.randrange(len(body))]
                headers["Content-Encoding"] = "gzip"

        response = await client.post(path, content=body, headers=headers)

        statuses[response.status_code] += 1
        codes[response.json().get("code")] += 1
        assert response.status_code < 500, (body[:300], response.text)
        now = (await store.status(NOW)).backlog
        added, backlog = now - backlog, now
        if message_ids is None:
            assert added >= 0 if response.status_code < 400 else added == 0
            continue
        rejected = {item["index"] for item in response.json().get("rejected", [])}
        known = {index: m for index, m in enumerate(message_ids) if m not in (None, OTHER)}
        if response.status_code >= 400:
            assert added == 0, (body[:300], response.text)
            refused.update(known.values())
            continue
        taken = [m for index, m in enumerate(message_ids) if index not in rejected]
        new = {m for m in taken if m is not None and m != OTHER and m not in acknowledged}
        # What had no messageId of its own got a new one: stored too. Another value may name
        # an event taken before.
        least = len(new) + taken.count(None)
        assert least <= added <= least + taken.count(OTHER), (body[:300], response.text)
        acknowledged.update(new)
        refused.update(m for index, m in known.items() if index in rejected)
        if not retry:
            taken_requests.append((path, body, headers, message_ids))

    kept = await stored(store)
    assert len(kept) == backlog
    assert acknowledged <= kept.keys()
    assert not (refused - acknowledged) & kept.keys()
    # The bodies reach every kind of answer, and the events both ways.
    assert statuses[200] > BODIES / 4
    assert statuses[400] > BODIES / 4
    assert codes.keys() >= {"invalid_json", "invalid_events", "invalid_event", "invalid_gzip"}
    assert len(acknowledged) > 1_000
    assert len(refused) > 1_000
