"""Serving an app until the process is asked to stop."""

from __future__ import annotations

import asyncio
import gc
import os
import signal

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from intercom_destination.deadlines import Deadlines
from intercom_destination.serving import bind, serve
from tests.waiting import until

pytestmark = pytest.mark.anyio


async def test_what_exists_once_serving_started_is_left_out_of_garbage_collection() -> None:
    async def frozen(request: Request) -> JSONResponse:
        return JSONResponse({"frozen": gc.get_freeze_count()})

    sock, url = bind("127.0.0.1", 0)
    server = asyncio.create_task(
        serve(Starlette(routes=[Route("/", frozen)]), sock, Deadlines(10, 30))
    )
    async with httpx.AsyncClient(base_url=url) as client:

        async def answered() -> httpx.Response | None:
            try:
                return await client.get("/")
            except httpx.ConnectError:
                return None

        response = await until(answered, "the server answers")
    os.kill(os.getpid(), signal.SIGTERM)  # as a process manager stops it
    await asyncio.wait_for(server, 30)

    assert response.json()["frozen"] > 1000
    assert gc.get_freeze_count() == 0
