"""The webhook's ceiling: a bare aiohttp handler, signature check and JSON parse only.

Run as its own process: ``python -m bench.bare_handler --port N --secret S``. No broker, no
schema validation, no Faust: what is left is HTTP, ``app.signing.verify`` and the JSON parse
the real webhook does (``app.gateway.parse_json``).
"""

from __future__ import annotations

import argparse
import logging

import orjson
from aiohttp import web

from app import signing
from app.gateway import parse_json

log = logging.getLogger(__name__)


def make_app(secret: str) -> web.Application:
    async def signals(request: web.Request) -> web.Response:
        body = await request.read()
        verdict = signing.verify(
            secret,
            body,
            request.headers.get(signing.TIMESTAMP_HEADER),
            request.headers.get(signing.SIGNATURE_HEADER),
        )
        if not verdict.ok:
            return web.Response(status=401, text=verdict.reason)
        raw = parse_json(body)
        if not isinstance(raw, dict):
            return web.Response(status=400)
        return web.Response(
            body=orjson.dumps({"status": "accepted"}),
            status=202,
            content_type="application/json",
        )

    async def healthz(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/webhook/signals", signals)
    app.router.add_get("/healthz", healthz)
    return app


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--secret", required=True)
    args = p.parse_args()
    logging.basicConfig(level=logging.WARNING)
    web.run_app(
        make_app(args.secret), host="127.0.0.1", port=args.port, access_log=None, print=None
    )


if __name__ == "__main__":
    main()
