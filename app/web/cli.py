"""``at-stream halt|resume|trading-state|cancel``: the kill switch and cancels from a shell.

They call the worker's HTTP API (``app.web.trading``), so the change goes through the
same authenticated endpoint and the same log: ``--url`` (default
``http://AT_STREAM_WEB_HOST:AT_STREAM_WEB_PORT``), the token from ``AT_STREAM_API_TOKEN``.
Each prints the answer's JSON; a refusal prints one line and exits 1 (2 if the worker
cannot be reached).
"""

from __future__ import annotations

import argparse
import sys
import urllib.error
import urllib.request
from typing import Any

import orjson

from app.errors import AtStreamError
from app.settings import load_settings


class ApiError(AtStreamError):
    """The worker could not be reached."""


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="at-stream", description=__doc__.split("\n")[0])
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--url", help="the worker's base URL")
    sub = p.add_subparsers(dest="command", required=True)
    h = sub.add_parser(
        "halt", parents=[common], help="kill switch: halt trading (or --reducing: only reduce)"
    )
    h.add_argument("--account", help="one account (default: every account)")
    h.add_argument("--reducing", action="store_true", help="REDUCING instead of HALTED")
    h.add_argument("--reason", default="")
    r = sub.add_parser("resume", parents=[common], help="set trading back to ACTIVE")
    r.add_argument("--account", help="one account (default: the global state)")
    r.add_argument("--reason", default="")
    sub.add_parser("trading-state", parents=[common], help="show the trading states")
    c = sub.add_parser("cancel", parents=[common], help="cancel an open order by id")
    c.add_argument("order_id")
    c.add_argument("--reason", default="cancel requested")
    return p


def call(url: str, method: str, body: dict[str, Any] | None, token: str | None) -> tuple[int, Any]:
    data = None if body is None else orjson.dumps(body)
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=15) as answer:
            return answer.status, orjson.loads(answer.read() or b"null")
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        try:
            return exc.code, orjson.loads(raw)
        except orjson.JSONDecodeError:
            return exc.code, {"detail": raw.decode("utf-8", "replace")[:200]}
    except (urllib.error.URLError, OSError) as exc:
        raise ApiError(f"cannot reach the worker at {url}: {exc}") from None


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    settings = load_settings()
    base = (args.url or f"http://{settings.web_host}:{settings.web_port}").rstrip("/")
    token = settings.api_token.get_secret_value() if settings.api_token else None
    if args.command in ("halt", "resume"):
        state = "active" if args.command == "resume" else "reducing" if args.reducing else "halted"
        body = {"scope": args.account or "*", "state": state, "reason": args.reason}
        status, answer = call(base + "/trading-state", "POST", body, token)
    elif args.command == "trading-state":
        status, answer = call(base + "/trading-state", "GET", None, token)
    else:
        body = {"reason": args.reason}
        status, answer = call(f"{base}/orders/{args.order_id}/cancel", "POST", body, token)
    if status >= 400:
        detail = answer.get("detail") if isinstance(answer, dict) else answer
        sys.stderr.write(f"at-stream {args.command}: {status} {detail}\n")
        return 1
    sys.stdout.write(orjson.dumps(answer, option=orjson.OPT_INDENT_2).decode() + "\n")
    return 0
