"""The console's HTML pages; each shows what an /api/ path answers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.datastructures import ImmutableMultiDict
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route
from starlette.templating import Jinja2Templates

from intercom_destination.console import actions, chart
from intercom_destination.console.context import Console
from intercom_destination.console.events import OUTCOMES, event_query, is_final
from intercom_destination.console.overview import WINDOWS, overview_view, window_of
from intercom_destination.console.requests import console_of, int_param, posted
from intercom_destination.console.views import DEAD_LETTERS_PAGE, dead_letter_page, stored_document
from intercom_destination.spec import InvalidEvent
from intercom_destination.spec.decode import EVENT_TYPES
from intercom_destination.store import SEARCH_KEYS

#: What the tester's text area holds until something is pasted.
EXAMPLE_EVENT = """{
  "type": "track",
  "userId": "u1",
  "event": "Order Completed",
  "properties": {"revenue": 19.99, "currency": "EUR"}
}"""


def render(request: Request, template: str, status_code: int = 200, **values: Any) -> Response:
    templates: Jinja2Templates = request.app.state.templates
    context = {"csrf": console_of(request).csrf.value, **values}
    return templates.TemplateResponse(request, template, context, status_code=status_code)


async def overview(request: Request) -> Response:
    console = console_of(request)
    window = window_of(request)
    found = await console.store.overview(console.clock(), WINDOWS[window])
    view = overview_view(found, console.settings, window)
    budgets = [
        ("Event names", view.event_names),
        ("Contact attributes", view.attributes["contact"]),
        ("Company attributes", view.attributes["company"]),
    ]
    return render(
        request,
        "overview.html",
        view=view,
        windows=WINDOWS,
        chart=chart.svg(view.starts, view.series, view.step),
        budgets=budgets,
    )


async def events(request: Request) -> Response:
    query = event_query(request)
    page = await console_of(request).store.search(query)
    older = None
    if page.next is not None:
        older = request.url.include_query_params(before=page.next)
    return render(
        request,
        "events.html",
        query=query,
        page=page,
        older=older,
        keys=SEARCH_KEYS,
        outcomes=OUTCOMES,
        types=EVENT_TYPES,
    )


async def story(request: Request) -> Response:
    """The whole story of one event; with `?follow=1`, its body alone, for a page that
    follows the event until its outcome is final (the tester, once it sent one)."""
    following = request.query_params.get("follow") == "1"
    message_id = request.path_params["message_id"]
    found = await console_of(request).store.story(message_id)
    if found is None:
        raise HTTPException(404, f"the store knows no event with messageId {message_id!r}")
    return render(
        request,
        "story_body.html" if following else "story.html",
        story=found,
        state=found.state or "forgotten",
        final=is_final(found),
        following=following,
        event=stored_document(found.body) if found.body is not None else None,
    )


async def dead(request: Request) -> Response:
    console = console_of(request)
    after = int_param(request, "after", 0, low=0, high=2**62)
    page = await dead_letter_page(console.store, after=after, limit=DEAD_LETTERS_PAGE)
    done = {
        verb: int_param(request, verb, 0, low=0, high=2**62)
        for verb in ("replayed", "purged")
        if verb in request.query_params
    }
    return render(request, "dead.html", page=page, done=done)


async def dead_replay(request: Request) -> Response:
    consequence = "They go back to their lanes for delivery."
    return await _change(request, "replay", "replayed", actions.replay, consequence)


async def dead_purge(request: Request) -> Response:
    consequence = "They are deleted for good."
    return await _change(request, "purge", "purged", actions.purge, consequence)


async def _change(
    request: Request,
    action: str,
    done: str,
    change: Callable[[Console, ImmutableMultiDict[str, Any]], Awaitable[int]],
    consequence: str,
) -> Response:
    console = console_of(request)
    fields = await posted(request, console.csrf)
    if not _confirmed(fields):
        return _confirm(request, action, fields, consequence)
    # Post, then redirect, then get: reloading the page does not replay or purge again.
    return RedirectResponse(f"/dead?{done}={await change(console, fields)}", status_code=303)


def _confirmed(fields: ImmutableMultiDict[str, Any]) -> bool:
    # The page's script asks in a dialog and adds this field; without it, a page asks.
    return fields.get("confirmed") == "1"


def _confirm(
    request: Request, action: str, fields: ImmutableMultiDict[str, Any], consequence: str
) -> Response:
    """A page asking whether to go on, posting the same fields again once confirmed."""
    chosen = actions.chosen_dead_letters(fields)
    if chosen.shape is not None:
        which = f"the dead letters that died for: {chosen.shape}"
    elif chosen.ids is not None:
        which = "dead letter" + ("s " if len(chosen.ids) > 1 else " ")
        which += ", ".join(str(i) for i in chosen.ids)
    else:
        which = "every dead letter"
    kept = [(name, value) for name, value in fields.multi_items() if name != "csrf"]
    return render(
        request,
        "confirm.html",
        action=action,
        question=f"{action.capitalize()} {which}?",
        consequence=consequence,
        fields=kept,
    )


async def tester(request: Request) -> Response:
    console = console_of(request)
    event = actions.read_pasted(console, EXAMPLE_EVENT)
    tried = actions.try_event(console, event)
    return render(request, "tester.html", text=EXAMPLE_EVENT, tried=tried, sent=None)


async def tester_post(request: Request) -> Response:
    console = console_of(request)
    fields = await posted(request, console.csrf)
    event = actions.pasted_event(console, fields)
    tried = actions.try_event(console, event)
    sent = None
    if fields.get("action") == "send" and not isinstance(event, InvalidEvent):
        sent = actions.sent_answer(event, await actions.send_event(console, event))
    status = 400 if tried.error else 200
    return render(
        request, "tester.html", status, text=fields.get("event", ""), tried=tried, sent=sent
    )


async def tester_plan(request: Request) -> Response:
    """The plan part of the tester page, for its script to show as the event is typed."""
    console = console_of(request)
    event = actions.pasted_event(console, await posted(request, console.csrf))
    return render(request, "plan.html", tried=actions.try_event(console, event))


routes = [
    Route("/", overview),
    Route("/events", events),
    Route("/events/{message_id:path}", story),
    Route("/dead", dead),
    Route("/dead/replay", dead_replay, methods=["POST"]),
    Route("/dead/purge", dead_purge, methods=["POST"]),
    Route("/tester", tester),
    Route("/tester", tester_post, methods=["POST"]),
    Route("/tester/plan", tester_plan, methods=["POST"]),
]
