"""docs/mapping.md shows the actions' tables as they are, and its worked examples (which the
README shows too) do what it says; the reserved traits come from the tables."""

import re
import tomllib
from pathlib import Path
from typing import Any

from intercom_destination.mapping import Skip
from intercom_destination.mapping.group import RESERVED_TRAITS as COMPANY_RESERVED
from intercom_destination.mapping.identify import RESERVED_TRAITS
from intercom_destination.mapping.reference import markdown_tables
from tests.mapping.cases import operations, outcome

ROOT = Path(__file__).parents[2]
DOC = (ROOT / "docs" / "mapping.md").read_text()
README = (ROOT / "README.md").read_text()


def test_the_doc_holds_the_tables_the_actions_declare() -> None:
    generated = DOC.split("<!-- mappings: begin -->\n")[1].split("<!-- mappings: end -->")[0]
    assert generated == markdown_tables()


# The names the planner kept by hand before its fields were tables.
CONTACT_TRAITS_BEFORE = {
    "id", "userId", "user_id", "anonymousId", "anonymous_id", "email", "name",
    "firstName", "first_name", "lastName", "last_name", "phone", "avatar", "createdAt",
    "created_at", "signedUpAt", "signed_up_at", "company", "companies",
}  # fmt: skip
COMPANY_TRAITS_BEFORE = {
    "id", "company_id", "companyId", "name", "plan", "monthly_spend", "monthlySpend",
    "createdAt", "created_at", "remote_created_at", "employees", "employee_count", "size",
    "website", "industry", "remove",
}  # fmt: skip


def test_the_reserved_traits_are_the_ones_the_default_fields_read() -> None:
    assert RESERVED_TRAITS == CONTACT_TRAITS_BEFORE
    assert COMPANY_RESERVED == COMPANY_TRAITS_BEFORE


def toml_blocks(text: str) -> list[dict[str, Any]]:
    return [tomllib.loads(block) for block in re.findall(r"```toml\n(.*?)```", text, re.S)]


def examples() -> list[dict[str, Any]]:
    return toml_blocks(DOC.split("### Two worked examples")[1].split("\n## ")[0])


def test_the_readme_shows_the_worked_examples() -> None:
    assert toml_blocks(README) == examples()


def test_the_first_worked_example() -> None:
    [settings, _] = examples()
    order = {"type": "track", "userId": "u1", "event": "Order Completed"}
    ops = operations({**order, "properties": {"amount": 12.5}}, **settings)
    assert [(op["body"]["event_name"], op["body"].get("metadata")) for op in ops] == [
        ("Order Completed", {"amount": 12.5}),
        ("purchase", {"price": {"amount": 1250, "currency": "usd"}}),
    ]
    heartbeat = outcome({**order, "event": "Heartbeat"}, **settings)
    assert isinstance(heartbeat, Skip)
    assert heartbeat.reason.startswith("track: no subscription's trigger matches it")


def test_the_second_worked_example() -> None:
    [_, settings] = examples()
    traits = {
        "first": "Ada",
        "last": "Lovelace",
        "landline": "+35312345",
        "ssn": "1",
        "plan": "pro",
    }
    [upsert] = operations({"type": "identify", "userId": "u1", "traits": traits}, **settings)
    body = upsert["body"]
    assert (body["name"], body["phone"], body["custom_attributes"]) == (
        "Ada Lovelace",
        "+35312345",
        {"plan": "pro"},
    )
    internal = {"type": "identify", "userId": "u2", "traits": {"internal": True}}
    dropped = outcome(internal, **settings)
    assert isinstance(dropped, Skip)
    assert dropped.reason.startswith("filter internal users: dropped")
