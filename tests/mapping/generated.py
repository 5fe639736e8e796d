"""Random Segment events and mapping settings, drawn to reach every branch of the default
mapping: reserved and odd traits, companies, revenue, nested values, the anonymous and
unidentified policies. Deterministic for a `random.Random`."""

from __future__ import annotations

import random
import string
from typing import Any

TYPES = ("identify", "track", "page", "screen", "group", "alias")
TRAIT_KEYS = (
    "id",
    "userId",
    "user_id",
    "anonymousId",
    "email",
    "name",
    "firstName",
    "first_name",
    "lastName",
    "last_name",
    "phone",
    "avatar",
    "createdAt",
    "created_at",
    "signedUpAt",
    "signed_up_at",
    "company",
    "companies",
    "plan",
    "logins",
    "beta",
    "address",
    "tags",
    "monthly_spend",
    "monthlySpend",
    "employees",
    "size",
    "website",
    "industry",
    "remote_created_at",
    "company_id",
    "remove",
    "odd.key$",
    "  ",
    "device_type",
)
PROPERTY_KEYS = (
    "revenue",
    "total",
    "currency",
    "email",
    "price",
    "plan",
    "sku",
    "quantity",
    "items",
    "coupon",
    "link",
    "url",
    "a",
    "b",
    "c",
    "d",
    "e",
    "f",
    "g",
    "bad.key",
)
TIMESTAMPS = (
    "2023-11-14T22:13:20Z",
    1700000000,
    1700000000123,
    "1700000000",
    "yesterday",
    "2015-2-02T00:30:08.276Z",
)


def value(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.randrange(14 if depth < 2 else 9)
    if kind == 0:
        return None
    if kind == 1:
        return rng.choice((True, False))
    if kind == 2:
        return rng.randrange(-5, 10**6)
    if kind == 3:
        return rng.choice((19.99, 0.0, -3.5, 1e20, 12.345, float("inf")))
    if kind == 4:
        return "".join(rng.choices(string.ascii_letters + " .$", k=rng.randrange(0, 12)))
    if kind == 5:
        return "x" * rng.choice((254, 255, 256, 300))
    if kind == 6:
        return rng.choice(TIMESTAMPS)
    if kind == 7:
        return rng.choice(("", "  ", "12.50", "usd", "EUR", "Acme Inc"))
    if kind == 8:
        return rng.choice(
            ({"amount": 100, "currency": "usd"}, {"url": "https://x.io", "value": "x"})
        )
    if kind in (9, 10):
        return {
            rng.choice(("name", "id", "a", "b.c", "plan")): value(rng, depth + 1)
            for _ in range(rng.randrange(3))
        }
    if kind == 11:
        return [value(rng, depth + 1) for _ in range(rng.randrange(3))]
    if kind == 12:
        return company(rng)
    return rng.choice(("Acme", 42, {"plan": {"name": "pro"}}))


def company(rng: random.Random) -> Any:
    if rng.random() < 0.3:
        return rng.choice(("Acme", " Acme  Inc ", 7, True, ""))
    traits = {key: value(rng, 2) for key in rng.sample(TRAIT_KEYS[20:], rng.randrange(5))}
    if rng.random() < 0.5:
        traits[rng.choice(("id", "company_id", "companyId", "name"))] = rng.choice(
            ("c1", 5, "Acme Co", "")
        )
    if rng.random() < 0.2:
        traits["remove"] = True
    return traits


def table(rng: random.Random, keys: tuple[str, ...]) -> dict[str, Any]:
    return {key: value(rng) for key in rng.sample(keys, rng.randrange(len(keys) // 2))}


def event(rng: random.Random) -> dict[str, Any]:
    kind = rng.choice(TYPES)
    obj: dict[str, Any] = {
        "type": kind,
        "messageId": f"m{rng.randrange(10**6)}",
        "timestamp": "2026-11-28T12:00:00Z",
    }
    if rng.random() < 0.7:
        obj["userId"] = rng.choice(("u1", "user-2", "3"))
    if rng.random() < 0.6 or "userId" not in obj:
        obj["anonymousId"] = "a1"
    context: dict[str, Any] = {}
    if rng.random() < 0.2:
        context["active"] = rng.choice((False, True))
    if rng.random() < 0.3:
        context["traits"] = {"email": rng.choice(("c@x.io", "", 5))}
    if rng.random() < 0.3:
        context.update(
            device={"type": "ios", "model": None}, os={"name": "iOS"}, app={"version": "1.2"}
        )
    if rng.random() < 0.2:
        context["Intercom"] = {"unsubscribed": rng.choice((True, "yes"))}
    obj["context"] = context
    if rng.random() < 0.2:
        obj["integrations"] = rng.choice(
            (
                {"Intercom": False},
                {"All": False},
                {"All": False, "Intercom": True},
                {"Intercom": {"language_override": "fr", "unsubscribedFromEmails": False}},
                {"intercom": {"unsubscribed_from_emails": True}},
            )
        )
    if kind in ("identify", "group"):
        obj["traits"] = table(rng, TRAIT_KEYS)
    if kind in ("track", "page", "screen"):
        obj["properties"] = table(rng, PROPERTY_KEYS)
    if kind == "track":
        obj["event"] = rng.choice(("Order Completed", "Signed Up", "x" * 40))
    if kind in ("page", "screen") and rng.random() < 0.7:
        obj["name"] = rng.choice(("Home", "Pricing"))
    if kind == "group":
        obj["groupId"] = rng.choice(("g1", "acme"))
    if kind == "alias":
        obj["previousId"] = "a1"
    return obj


def settings(rng: random.Random) -> dict[str, Any]:
    return {
        "collect_context": rng.random() < 0.3,
        "nested": rng.choice(("drop", "flatten", "stringify")),
        "max_metadata_keys": rng.choice((1, 3, 10)),
        "max_string_length": rng.choice((5, 255)),
        "unidentified": rng.choice(("skip", "lead")),
        "anonymous": rng.choice(("wait", "lead", "skip")),
        "page_events": rng.random() < 0.5,
        "screen_events": rng.random() < 0.5,
        "send_nulls": rng.random() < 0.3,
        "language_override_attribute": rng.choice((None, "language")),
    }
