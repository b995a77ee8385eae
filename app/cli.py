"""``at-stream``: Faust's CLI (worker, send, tables, ...) plus the project's commands.

Project commands run without loading the Faust app (no broker, no secret needed):
``broker start|stop|status``, ``nats start|stop|status``, ``dev``, ``sample``, ``schema``.
Every other command goes to Faust with the app of ``app.main``.
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import io
import logging
import os
import secrets
import shlex
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import orjson

from app.admin import ensure_topics
from app.bridge.server import LocalNats, local_nats_for
from app.broker import LocalKafka
from app.errors import AtStreamError
from app.logs import faust_level
from app.models import schemas
from app.settings import Settings, load_settings

log = logging.getLogger(__name__)

SAMPLE_BODY = (
    '{"symbol":"AAPL","side":"buy","quantity":"10","order_type":"market",'
    '"price":"187.25","account":"paper-1","strategy":"demo"}'
)


def local_broker(settings: Settings) -> LocalKafka:
    return LocalKafka(settings.broker_dir, port=settings.broker_port, heap=settings.broker_heap)


def sample_command(settings: Settings) -> str:
    """A shell one-liner that signs the sample signal at send time and POSTs it.

    It reads the secret when it runs, from ``API_KEY_HMAC_SECRET`` or else this
    directory's ``.env``: the secret itself is never printed (nor so logged).
    """
    url = f"http://{settings.web_host}:{settings.web_port}/webhook/signals"
    env = shlex.quote(str(Path(".env").resolve()))
    return (
        f"SECRET=\"${{API_KEY_HMAC_SECRET:-$(sed -n 's/^API_KEY_HMAC_SECRET=//p' {env} | "
        'head -n1)}"; '
        f"BODY={shlex.quote(SAMPLE_BODY)}; TS=$(date +%s); "
        'SIG=$(printf \'%s.%s\' "$TS" "$BODY" | openssl dgst -sha256 -hmac "$SECRET" | '
        "sed 's/^.* //'); "
        f"curl -sS -i -X POST {url} -H 'Content-Type: application/json' "
        '-H "X-Signature-Timestamp: $TS" -H "X-Signature: sha256=$SIG" -d "$BODY"'
    )


def announce_when_ready(settings: Settings, timeout: float = 300.0) -> threading.Thread:
    """Print where the webhook listens, and the sample command, once ``/readyz`` says 200."""
    base = f"http://{settings.web_host}:{settings.web_port}"

    def wait() -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(base + "/readyz", timeout=2) as resp:
                    if resp.status == 200:
                        break
            except (OSError, ValueError):
                pass
            time.sleep(0.5)
        else:
            return
        print(f"\nWebhook: POST {base}/webhook/signals  (ready)")
        print("Send a signed sample signal (copy-paste into another shell):\n")
        print("  " + sample_command(settings) + "\n")
        env = shlex.quote(str(Path(".env").resolve()))
        print("Read the positions (the API token is in .env):\n")
        print(f"  curl -sS -H \"Authorization: Bearer $(sed -n 's/^AT_STREAM_API_TOKEN=//p' "
              f"{env} | head -n1)\" {base}/positions\n", flush=True)  # fmt: skip

    thread = threading.Thread(target=wait, name="announce-ready", daemon=True)
    thread.start()
    return thread


def cmd_broker(args: argparse.Namespace) -> int:
    settings = load_settings()
    if not settings.uses_local_broker:
        print(f"KAFKA_BOOTSTRAP_SERVERS is set ({settings.kafka_bootstrap_servers}); "
              "the local broker is not used")  # fmt: skip
        return 0
    broker = local_broker(settings)
    if args.action == "start":
        started = broker.start()
        state = "started" if started else "already running"
        print(f"Kafka {state} at {broker.bootstrap} (data: {broker.directory})")
    elif args.action == "stop":
        print("Kafka stopped" if broker.stop() else "Kafka was not running")
    else:
        running = broker.running()
        print(f"Kafka {'running' if running else 'not running'} at {broker.bootstrap}")
        return 0 if running else 3
    return 0


def nats_server(settings: Settings) -> LocalNats | None:
    """The local nats-server of ``NATS_URL`` (in ``var/nats``), None if NATS_URL is remote."""
    return local_nats_for(settings.nats_url, settings.broker_dir.parent / "nats")


def cmd_nats(args: argparse.Namespace) -> int:
    server = nats_server(load_settings())
    if server is None:
        print("NATS_URL names another host; the local nats-server is not used")
        return 0
    if args.action == "start":
        print(f"nats-server {'started' if server.start() else 'already running'} at {server.url}")
    elif args.action == "stop":
        print("nats-server stopped" if server.stop() else "nats-server was not running")
    else:
        running = server.running()
        print(f"nats-server {'running' if running else 'not running'} at {server.url}")
        return 0 if running else 3
    return 0


def ensure_dev_secret() -> None:
    """For ``dev`` on a fresh machine: a random webhook secret and API token in ``.env``
    unless they are set (the read API is then never open to an anonymous caller)."""
    env = Path(".env")
    text = env.read_text() if env.exists() else ""
    for name in ("API_KEY_HMAC_SECRET", "AT_STREAM_API_TOKEN"):
        if os.environ.get(name) or name in text:
            continue
        with env.open("a") as fh:
            fh.write(f"{name}={secrets.token_urlsafe(24)}\n")
        print(f"wrote a random dev {name} to .env")


def cmd_dev(args: argparse.Namespace) -> int:
    ensure_dev_secret()
    os.environ.setdefault("AT_STREAM_LOG_FORMAT", "human")  # a person reads make run's log
    settings = load_settings()
    if settings.uses_local_broker:
        broker = local_broker(settings)
        state = "started" if broker.start() else "already running"
        print(f"Kafka {state} at {broker.bootstrap}  (stop it: at-stream broker stop)")
    # -- NATS bridge (issue 13): on in make run; a local nats-server unless NATS_URL is remote
    if "AT_STREAM_BRIDGE_ENABLED" not in (
        Path(".env").read_text() if Path(".env").exists() else ""
    ):
        os.environ.setdefault("AT_STREAM_BRIDGE_ENABLED", "true")
    settings = load_settings()
    local_nats = nats_server(settings)
    if settings.bridge_enabled and local_nats is not None:
        state = "started" if local_nats.start() else "already running"
        print(f"nats-server (JetStream) {state} at {local_nats.url}  (stop: at-stream nats stop)")
    # -- end of the NATS bridge block
    start_audit_api(settings)
    announce_when_ready(settings)
    return run_faust(["worker", "-l", faust_level(settings.log_level)])


def start_audit_api(settings: Settings) -> None:
    """``at-stream audit serve`` as a child of ``make run``, stopped when the worker stops."""
    api = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "audit", "serve"], stdin=subprocess.DEVNULL
    )

    def stop() -> None:
        if api.poll() is None:
            api.terminate()
            try:
                api.wait(10)
            except subprocess.TimeoutExpired:
                api.kill()

    atexit.register(stop)
    print(
        f"audit API at http://{settings.audit_api_host}:{settings.audit_api_port}/docs"
        "  (at-stream audit trace <id> in a terminal)"
    )


def cmd_config(args: argparse.Namespace) -> int:
    """The effective configuration (secrets masked); ``--check``: one line per problem."""
    from app import config_report

    found = config_report.problems()
    if args.check or found:
        for line in found:
            print(f"at-stream config: {line}", file=sys.stderr)
        if found:
            return 2
        print("configuration is valid")
        return 0
    print(config_report.render(config_report.effective(load_settings(), os.environ)))
    return 0


def cmd_sample(args: argparse.Namespace) -> int:
    print(sample_command(load_settings()))
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    from app.trading import commands, events

    every = schemas() | events.schemas() | commands.schemas()
    for topic, schema in every.items():
        path = out / f"{topic}.v{schema['properties']['v']['const']}.schema.json"
        path.write_bytes(orjson.dumps(schema, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))
        print(path)
    return 0


def cmd_tap(argv: list[str]) -> int:
    from app import tap

    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)  # tap says what went wrong
    return tap.main(argv)


def run_faust(argv: list[str]) -> int:
    settings = load_settings()
    settings.providers()  # fails here, naming the variable, if none is configured
    if argv and argv[0] == "worker":
        asyncio.run(ensure_topics(settings))
        from app.audit.preflight import check_schema  # issue 14: a too-new schema stops here

        check_schema(settings)
    from app.main import app  # imported late: it connects the app to the settings

    sys.argv = ["at-stream", *argv]
    app.main()  # Faust's click CLI; it exits the process itself
    return 0


def line_buffered_output() -> None:
    """Each line reaches the file or pipe when it is written, not at exit.

    Python block-buffers stdout when it is not a terminal. Faust logs to stdout, so a
    SIGKILL or an OOM kill lost the worker's last lines (a crash test's log missed its
    restart's lines), and ``at-stream reset`` piped to ``tee`` or a script said "start the
    workers" only once it had stopped waiting for them.
    """
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(line_buffering=True)


COMMANDS = {
    "broker": cmd_broker,
    "config": cmd_config,
    "dev": cmd_dev,
    "nats": cmd_nats,
    "sample": cmd_sample,
    "schema": cmd_schema,
}


TRADING_COMMANDS = {"halt", "resume", "trading-state", "cancel"}


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="at-stream", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    b = sub.add_parser("broker", help="start, stop or show the local Kafka (KRaft) broker")
    b.add_argument("action", choices=["start", "stop", "status"])
    sub.add_parser(
        "dev",
        help="start the local broker (unless KAFKA_BOOTSTRAP_SERVERS), the local nats-server "
        "(unless NATS_URL is remote) and the worker with the NATS bridge on",
    )
    n = sub.add_parser("nats", help="start, stop or show the local nats-server (JetStream)")
    n.add_argument("action", choices=["start", "stop", "status"])
    sub.add_parser("sample", help="print a shell command that sends a signed sample signal")
    c = sub.add_parser(
        "config", help="print the effective configuration and where each value came from"
    )
    c.add_argument("--check", action="store_true", help="validate; one line per problem")
    s = sub.add_parser("schema", help="write the JSON Schema of every topic's value type")
    s.add_argument("--out", default="schemas")
    return p


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    line_buffered_output()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s %(message)s")
    try:
        if argv and argv[0] == "tap":
            return cmd_tap(argv[1:])
        if argv and argv[0] == "audit":  # issue 14: trace, export, serve, migrate, retention
            from app.audit.cli import main as audit_main

            return audit_main(argv[1:])
        if argv and argv[0] in TRADING_COMMANDS:  # issue 12: the kill switch and cancels
            from app.web.cli import main as trading_main

            return trading_main(argv)
        if argv and argv[0] == "reset":
            from app import reset

            logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
            return reset.main(argv[1:])
        if argv and argv[0] in COMMANDS:
            args = parser().parse_args(argv)
            return COMMANDS[args.command](args)
        if not argv or argv[0] in {"-h", "--help"}:
            parser().print_help()
            print("\nat-stream tap TOPIC ...: read any topic (at-stream tap --help)")
            print("at-stream reset ...: move the group's offsets, rebuild tables (--help)")
            print("at-stream audit ...: trace, export, serve the audit trail (--help)")
            print("at-stream halt|resume|trading-state|cancel ...: kill switch, cancels (--help)")
            print("Faust commands (worker, send, tables, agents, ...): at-stream worker --help")
            return 0
        return run_faust(argv)
    except AtStreamError as exc:
        print(f"at-stream: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
