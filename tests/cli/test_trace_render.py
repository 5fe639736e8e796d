"""How `trace` renders the stories delivery cannot easily produce on demand."""

from __future__ import annotations

from typing import Any

import msgspec

from intercom_destination.commands.trace import render
from intercom_destination.store import (
    Attempt,
    Found,
    OutcomeName,
    Refusal,
    Story,
    Trace,
    TracedAttempt,
    TracedCall,
    Waits,
)

AT = 1_796_000_000.0


def found(outcome: OutcomeName, reason: str | None, at: float = AT, calls: int = 1) -> Found:
    return Found(
        id=1,
        at=at,
        message_id="m1",
        lane="u1",
        type="track",
        event="Signed Up",
        user_id="u1",
        anonymous_id=None,
        email=None,
        outcome=outcome,
        reason=reason,
        calls=calls,
    )


PARKED = Story(
    message_id="m1",
    state="parked",
    lane="u1",
    type="track",
    received_at=AT,
    body=b'{"type":"track"}',
    attempts=0,
    waits=None,
    history=(),
    outcomes=(),
    traces=(),
    pruned=False,
)


def story(**fields: Any) -> Story:
    return msgspec.structs.replace(PARKED, **fields)


def test_a_parked_event_says_what_it_waits_for() -> None:
    text = render(
        story(
            waits=Waits(waiting_for="contact:u1", until=AT + 3600),
            outcomes=(found("parked", "contact:u1", calls=0),),
        )
    ).splitlines()
    assert "state     set aside, waiting" in text
    assert "waits for contact:u1 until 2026-11-30T01:53:20Z" in text
    assert "attempt 1  2026-11-30T00:53:20Z  parked, 0 calls: contact:u1" in text


def test_a_dead_letter_shows_its_refusal_and_a_request_without_answer() -> None:
    trace = Trace(
        operations=({"op": "create_event", "method": "POST", "path": "/events"},),
        calls=(
            TracedCall(
                at=AT,
                method="POST",
                path="/events",
                body=None,
                status=None,
                request_id=None,
                duration=30.0,
                error="POST /events: ReadTimeout",
            ),
        ),
        refusals=(Refusal(kind="event_name", name="Signed Up", reason="budget full"),),
    )
    text = render(
        story(
            state="dead",
            history=(Attempt(AT, "budget full"),),
            outcomes=(found("dead", "budget full"),),
            traces=(TracedAttempt(at=AT, trace=trace),),
        )
    ).splitlines()
    assert "  plan      POST /events" in text
    assert "  POST /events  no answer  30000 ms" in text
    assert "    answered  POST /events: ReadTimeout" in text
    assert "  refused   event_name 'Signed Up': budget full" in text
    assert text[-2:] == ["dead-letter history", "  2026-11-30T00:53:20Z  budget full"]


def test_a_story_whose_traces_were_pruned_says_so() -> None:
    text = render(
        story(
            state=None,
            lane=None,
            received_at=None,
            body=None,
            pruned=True,
            outcomes=(found("delivered", None),),
        )
    ).splitlines()
    assert "state     no longer in the store" in text
    assert text[-1] == "traces    the traces of its older attempts were pruned"
