"""A running at-stream for a test: a worker with its own topics, signers, record waits.

Everything here is synchronous, so plain ``def test_...`` functions can use it; Kafka
reads run on a private event loop in a helper thread, so an async test may call them too.
"""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Coroutine, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from app import signing
from app.broker.launcher import free_port
from app.schemes import SW_ID, SW_SIGNATURE, SW_TIMESTAMP, TV_SECRET_FIELD, sw_sign
from at_stream.testing.brokers import docker_client, image_present

T = TypeVar("T")
LOGICAL_TOPICS = ("signals", "orders", "fills", "dead-letters")
APP_VERSION = "0.1.0"
IMAGE = os.environ.get("AT_STREAM_IMAGE", f"at-stream:{APP_VERSION}")


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def run_sync(make: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine to completion on its own loop, in a thread: safe inside a loop."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(lambda: asyncio.run(make())).result()


# --- signers --------------------------------------------------------------------------


@dataclass(frozen=True)
class Signer:
    """Signs a body for one provider: the body to send and its headers."""

    provider: str  # the provider id; "default" is served at /webhook/signals
    scheme: str  # "legacy" | "standard-webhooks" | "tradingview"
    secret: str

    @property
    def path(self) -> str:
        return (
            "/webhook/signals"
            if self.provider == "default"
            else f"/webhook/signals/{self.provider}"
        )

    def sign(self, body: bytes, *, msg_id: str | None = None) -> tuple[bytes, dict[str, str]]:
        headers = {"Content-Type": "application/json"}
        if self.scheme == "legacy":
            stamp, sig = signing.sign(self.secret, body)
            headers.update({signing.TIMESTAMP_HEADER: stamp, signing.SIGNATURE_HEADER: sig})
        elif self.scheme == "standard-webhooks":
            msg_id = msg_id or unique("msg")
            stamp = str(int(time.time()))
            headers.update(
                {
                    SW_ID: msg_id,
                    SW_TIMESTAMP: stamp,
                    SW_SIGNATURE: sw_sign(self.secret, msg_id, stamp, body),
                }
            )
        elif self.scheme == "tradingview":
            payload = json.loads(body)
            payload[TV_SECRET_FIELD] = self.secret
            body = json.dumps(payload).encode()
        else:
            raise ValueError(f"unknown scheme {self.scheme!r}")
        return body, headers


def default_signers() -> dict[str, Signer]:
    """One signer per scheme, each with a fresh secret; keys are the scheme names."""
    sw_secret = "whsec_" + base64.b64encode(os.urandom(24)).decode()
    return {
        "legacy": Signer("default", "legacy", "legacy-" + uuid.uuid4().hex),
        "standard-webhooks": Signer("sw", "standard-webhooks", sw_secret),
        "tradingview": Signer("tv", "tradingview", "tv-" + uuid.uuid4().hex),
    }


def providers_toml(signers: Mapping[str, Signer]) -> str:
    """The providers file of the signers (all but the env-configured ``default``)."""
    parts = []
    for s in signers.values():
        if s.provider == "default":
            continue
        allow = 'allow_ips = ["127.0.0.1/32", "::1/128"]\n' if s.scheme == "tradingview" else ""
        parts.append(
            f'[[providers]]\nid = "{s.provider}"\nscheme = "{s.scheme}"\n'
            f'secrets = [{{ value = "{s.secret}" }}]\n{allow}'
            "rate_limit = { per_second = 10000, burst = 10000 }\n"
        )
    return "\n".join(parts)


# --- records --------------------------------------------------------------------------


@dataclass(frozen=True)
class Record:
    """One Kafka record: the JSON value decoded (``None`` if it is not JSON)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    raw: bytes | None
    value: Any
    headers: dict[str, str]

    def __getitem__(self, name: str) -> Any:
        return self.value[name]


def _matches(value: Any, match: Mapping[str, Any]) -> bool:
    return isinstance(value, dict) and all(
        name in value and value[name] == want for name, want in match.items()
    )


async def _read(
    bootstrap: str, topic: str, match: Mapping[str, Any], count: int, timeout: float
) -> list[Record]:
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
    )
    await consumer.start()
    found: list[Record] = []
    try:
        deadline = time.monotonic() + timeout
        while len(found) < count and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=250)
            for records in batch.values():
                for r in records:
                    try:
                        value = json.loads(r.value) if r.value is not None else None
                    except ValueError:
                        value = None
                    if _matches(value, match):
                        headers = {k: v.decode(errors="replace") for k, v in r.headers}
                        found.append(
                            Record(r.topic, r.partition, r.offset, r.key, r.value, value, headers)
                        )
        return found
    finally:
        await consumer.stop()


def read_records(
    bootstrap: str, topic: str, match: Mapping[str, Any], count: int, timeout: float
) -> list[Record]:
    return run_sync(lambda: _read(bootstrap, topic, match, count, timeout))


# --- the worker -----------------------------------------------------------------------


@dataclass
class Worker:
    """One at-stream worker: a local process or a container, on its own topics."""

    bootstrap: str
    prefix: str
    port: int
    env: dict[str, str]
    directory: Path
    mode: str  # "process" | "container"
    image: str = IMAGE
    topics: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None
    container: Any = None  # a docker-py Container

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.directory / "worker.log"

    def start(self) -> None:
        if self.mode == "container":
            if self.container is not None:
                self.container.start()  # the same container again: its data dir kept
                return
            client = docker_client(timeout=30)
            if client is None:
                raise RuntimeError("no Docker engine answers")
            providers = self.directory / "providers.toml"
            env = dict(self.env)
            volumes = {}
            if providers.exists():
                env["AT_STREAM_PROVIDERS_FILE"] = "/etc/at-stream/providers.toml"
                volumes[str(providers)] = {"bind": "/etc/at-stream/providers.toml", "mode": "ro"}
            env.pop("AT_STREAM_DATA_DIR", None)  # the image's own /data/worker
            self.container = client.containers.run(
                self.image,
                detach=True,
                network_mode="host",
                environment=env,
                volumes=volumes,
                name=self.prefix,
                labels={"at-stream.test": "worker"},
            )
            return
        with self.log_path.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "app.cli", "worker", "-l", "info"],
                cwd=self.directory,
                env={**self._process_env()},
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )

    def _process_env(self) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("AT_STREAM_") and k != "API_KEY_HMAC_SECRET"
        }
        env.update(self.env)
        providers = self.directory / "providers.toml"
        if providers.exists():
            env["AT_STREAM_PROVIDERS_FILE"] = str(providers)
        return env

    def running(self) -> bool:
        if self.mode == "container":
            if self.container is None:
                return False
            self.container.reload()
            return bool(self.container.status == "running")
        return self.proc is not None and self.proc.poll() is None

    def exit_code(self) -> int | None:
        if self.mode == "container":
            if self.container is None:
                return None
            self.container.reload()
            if self.container.status == "running":
                return None
            return int(self.container.attrs["State"]["ExitCode"])
        return None if self.proc is None else self.proc.poll()

    def logs(self, lines: int = 60) -> str:
        if self.mode == "container" and self.container is not None:
            text = self.container.logs(tail=lines).decode(errors="replace")
            return str(text)
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def wait_ready(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.running():
                raise AssertionError(f"worker exited {self.exit_code()}:\n{self.logs()}")
            try:
                with urllib.request.urlopen(self.url + "/readyz", timeout=2) as resp:
                    if resp.status == 200:
                        self._wait_router()
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.25)
        raise AssertionError(f"worker not ready in {timeout}s:\n{self.logs()}")

    def _wait_router(self, timeout: float = 10.0) -> None:
        """After /readyz: until a keyed read answers below 500 (its owner known), <= 10 s.

        /readyz can answer 200 a moment before the router knows the owners of the keys;
        a keyed GET has no side effect and answers 404 as soon as it does.
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(self.url + "/positions/ready-probe/PROBE", timeout=2):
                    return
            except urllib.error.HTTPError as err:
                if err.code < 500:
                    return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.1)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int | None:
        """Send ``sig`` and wait for the exit; SIGKILL after ``timeout``. The exit code."""
        if self.mode == "container":
            if self.container is None or not self.running():
                return self.exit_code()
            self.container.kill(signal=int(sig))
            try:
                self.container.wait(timeout=timeout)
            except Exception:
                self.container.kill()
                self.container.wait(timeout=10)
            return self.exit_code()
        if self.proc is None or self.proc.poll() is not None:
            return self.exit_code()
        self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        return self.proc.returncode

    def remove(self) -> None:
        """Stop and, for a container, remove it (its logs copied to ``log_path`` first)."""
        self.stop()
        if self.container is not None:
            try:
                self.log_path.write_bytes(self.container.logs())
            finally:
                self.container.remove(force=True)
                self.container = None


def worker_mode() -> str:
    """``container`` when a Docker engine answers and has the at-stream image, else ``process``.

    ``AT_STREAM_TEST_WORKER=container|process`` forces one.
    """
    forced = os.environ.get("AT_STREAM_TEST_WORKER", "")
    if forced in ("container", "process"):
        return forced
    client = docker_client()
    if client is None:
        return "process"
    try:
        return "container" if image_present(client, IMAGE) else "process"
    finally:
        client.close()


def new_worker(
    bootstrap: str,
    directory: Path,
    *,
    signers: Mapping[str, Signer],
    prefix: str | None = None,
    mode: str | None = None,
    **extra: str,
) -> Worker:
    """A worker (not started yet) with its own app id, topics and port."""
    prefix = prefix or unique("at")
    topics = {t: f"{prefix}-{t}" for t in LOGICAL_TOPICS}
    legacy = [s for s in signers.values() if s.provider == "default"]
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "AT_STREAM_APP_ID": prefix,
        "AT_STREAM_SIGNALS_TOPIC": topics["signals"],
        "AT_STREAM_ORDERS_TOPIC": topics["orders"],
        "AT_STREAM_FILLS_TOPIC": topics["fills"],
        "AT_STREAM_DEAD_LETTER_TOPIC": topics["dead-letters"],
        "AT_STREAM_WEB_PORT": str(free_port()),
        "AT_STREAM_DATA_DIR": str(directory / "data"),
        **extra,
    }
    if legacy:
        env["API_KEY_HMAC_SECRET"] = legacy[0].secret
    directory.mkdir(parents=True, exist_ok=True)
    toml = providers_toml(signers)
    if toml:
        (directory / "providers.toml").write_text(toml)
    return Worker(
        bootstrap=bootstrap,
        prefix=prefix,
        port=int(env["AT_STREAM_WEB_PORT"]),
        env=env,
        directory=directory,
        mode=mode or worker_mode(),
        topics=topics,
    )


class AtStream:
    """What a test talks to: post signals, wait for records, read the worker's state."""

    def __init__(self, worker: Worker, signers: Mapping[str, Signer]) -> None:
        self.worker = worker
        self.signers = dict(signers)

    @property
    def bootstrap(self) -> str:
        return self.worker.bootstrap

    @property
    def url(self) -> str:
        return self.worker.url

    @property
    def topics(self) -> dict[str, str]:
        return dict(self.worker.topics)

    def topic(self, name: str) -> str:
        """The worker's real topic for a logical name (``fills``...); others as given."""
        return self.worker.topics.get(name, name)

    def post_signal(
        self,
        signal_: Mapping[str, Any] | bytes,
        *,
        scheme: str = "legacy",
        signer: Signer | None = None,
        headers: Mapping[str, str] | None = None,
        expect: int | None = 202,
        retry_for: float = 30.0,
    ) -> Any:
        """POST a signal signed for ``scheme`` (or by ``signer``); the JSON answer.

        ``expect`` is the status it must answer (``None``: any); a problem+json body is
        returned as is when it is expected. A 503 (not ready: start-up, rebalance) is
        retried with the same signed request, as a provider would, for up to ``retry_for``
        seconds.
        """
        body = signal_ if isinstance(signal_, bytes) else json.dumps(dict(signal_)).encode()
        signer = signer or self.signers[scheme]
        body, signed = signer.sign(body)
        request = urllib.request.Request(
            self.url + signer.path, data=body, method="POST", headers={**signed, **(headers or {})}
        )
        deadline = time.monotonic() + retry_for
        while True:
            try:
                with urllib.request.urlopen(request, timeout=30) as resp:
                    status, text = resp.status, resp.read()
            except urllib.error.HTTPError as err:
                status, text = err.code, err.read()
                retry_after = str(err.headers.get("Retry-After") or "")
                if status == 503 and expect != 503 and time.monotonic() < deadline:
                    wait = float(retry_after) if retry_after.isdigit() else 1.0
                    time.sleep(min(wait, 1.0))
                    continue
            break
        answer = json.loads(text) if text else None
        if expect is not None and status != expect:
            raise AssertionError(f"POST {signer.path}: {status} (wanted {expect}): {answer}")
        return answer

    def get(self, path: str) -> Any:
        """GET a read-API path (``/positions``, ``/signals/<id>``...): its JSON, 200 only."""
        with urllib.request.urlopen(self.url + path, timeout=10) as resp:
            return json.loads(resp.read())

    def wait_for(self, topic: str, *, timeout: float = 30.0, **match: Any) -> Record:
        """The first record on ``topic`` whose JSON value has every ``match`` field equal.

        Reads from the beginning of the topic; AssertionError after ``timeout`` seconds.
        """
        found = read_records(self.bootstrap, self.topic(topic), match, 1, timeout)
        if not found:
            raise AssertionError(f"no record on {self.topic(topic)} with {match} in {timeout}s")
        return found[0]

    def records(
        self, topic: str, count: int, *, timeout: float = 30.0, **match: Any
    ) -> list[Record]:
        """At least ``count`` matching records of ``topic`` (all read before the timeout)."""
        found = read_records(self.bootstrap, self.topic(topic), match, count, timeout)
        if len(found) < count:
            raise AssertionError(f"{len(found)} of {count} records on {self.topic(topic)}")
        return found


@contextmanager
def running_worker(
    bootstrap: str, directory: Path, signers: Mapping[str, Signer], **kwargs: Any
) -> Iterator[Worker]:
    worker = new_worker(bootstrap, directory, signers=signers, **kwargs)
    worker.start()
    try:
        worker.wait_ready()
        yield worker
    finally:
        worker.remove()
