"""aiohttp's own error answers become problem documents (a real aiohttp server)."""

from __future__ import annotations

import asyncio
import inspect
import json
from collections.abc import AsyncIterator

import pytest
from aiohttp import web, web_protocol

from app.web import http_errors


def test_the_hook_we_wrap_is_where_we_expect_it() -> None:
    """Fails when an aiohttp upgrade moves or reshapes RequestHandler.handle_error."""
    params = list(inspect.signature(http_errors._original).parameters)
    assert params == ["self", "request", "status", "exc", "message"]


@pytest.fixture
async def server() -> AsyncIterator[int]:
    http_errors.install()
    assert web_protocol.RequestHandler.handle_error is http_errors.handle_error

    async def boom(request: web.Request) -> web.Response:
        raise RuntimeError("secret internals: /srv/app.py line 12")

    app = web.Application()
    app.router.add_get("/boom", boom)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield port
    finally:
        await runner.cleanup()


async def _raw(port: int, request: bytes) -> tuple[int, dict[str, str], bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    await writer.drain()
    data = await asyncio.wait_for(reader.read(), timeout=5)
    writer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), {k.lower(): v for k, v in headers.items()}, body


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"NOT-HTTP\r\n\r\n",
        b"GET /boom HTTP/1.1\r\nHost: x\r\nX-Long: " + b"a" * 20000 + b"\r\n\r\n",
        b"GET /boom HTTP/1.1\r\nHost: x\r\nBad Header Name: 1\r\n\r\n",
    ],
)
async def test_unparseable_requests_get_a_problem_document(
    server: int, request_bytes: bytes
) -> None:
    status, headers, body = await _raw(server, request_bytes)
    assert 400 <= status < 500
    assert headers["content-type"].startswith("application/problem+json")
    problem = json.loads(body)
    assert problem["status"] == status
    assert problem["type"].endswith("/malformed-request")


async def test_an_escaped_exception_is_a_500_problem_without_internals(server: int) -> None:
    status, headers, body = await _raw(server, b"GET /boom HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status == 500
    assert headers["content-type"].startswith("application/problem+json")
    problem = json.loads(body)
    assert problem["type"].endswith("/internal-error")
    assert b"secret" not in body and b"Traceback" not in body
