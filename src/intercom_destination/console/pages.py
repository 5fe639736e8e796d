"""The console's HTML pages; each shows what an /api/ path answers."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route
from starlette.templating import Jinja2Templates

from intercom_destination.console import actions
from intercom_destination.console.api import DEAD_LETTERS_PAGE
from intercom_destination.console.requests import console_of, int_param, posted
from intercom_destination.console.views import dead_letter_page
from intercom_destination.spec import InvalidEvent

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
    console = console_of(request)
    ids = actions.which_dead_letters(await posted(request, console.csrf))
    return _after_change("replayed", await console.store.replay(ids, now=console.clock()))


async def dead_purge(request: Request) -> Response:
    console = console_of(request)
    ids = actions.which_dead_letters(await posted(request, console.csrf))
    return _after_change("purged", await console.store.purge(ids))


def _after_change(verb: str, count: int) -> Response:
    # Post, then redirect, then get: reloading the page does not replay or purge again.
    return RedirectResponse(f"/dead?{verb}={count}", status_code=303)


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
        accepted = await actions.send_event(console, event)
        sent = {"messageId": event.message_id, "accepted": accepted}
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
    Route("/dead", dead),
    Route("/dead/replay", dead_replay, methods=["POST"]),
    Route("/dead/purge", dead_purge, methods=["POST"]),
    Route("/tester", tester),
    Route("/tester", tester_post, methods=["POST"]),
    Route("/tester/plan", tester_plan, methods=["POST"]),
]
