"""Send a webhook request to the worker that owns its dedupe key, and readiness.

Every worker can answer any request: one that does not own the key's partition of the
``deliveries`` table forwards the request (body and headers) to the owner and relays
the answer. The forwarding worker vouches for the caller's address with an HMAC under
a key all workers derive from the same providers, so an outside caller cannot claim
another address by sending the header itself.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from typing import Any

import aiohttp
from faust import web
from yarl import URL

from app.errors import NotReady
from app.faust_internals import owner_url
from app.lifecycle import drain
from app.main import providers, settings
from app.tables import partition_of
from app.tables.deliveries import deliveries
from app.web.signal_writer import writer

log = logging.getLogger(__name__)

FORWARDED_IP = "X-At-Stream-Client-IP"
FORWARDED_SIG = "X-At-Stream-Forward-Signature"
RETRY = {"Retry-After": "1"}
_HOP_HEADERS = {"host", "content-length", "connection", "transfer-encoding"}


def _cluster_key() -> bytes:
    secrets = sorted(s.value.get_secret_value() for p in providers.values() for s in p.secrets)
    material = "\x1f".join([settings.app_id, *secrets])
    return hashlib.sha256(b"at-stream-forward\x1f" + material.encode()).digest()


_KEY = _cluster_key()


def _vouch(ip: str, body_digest: str) -> str:
    return hmac.new(_KEY, f"{ip}\n{body_digest}".encode(), hashlib.sha256).hexdigest()


def client_ip(request: Any, body: bytes) -> str | None:
    """The caller's address: the socket's, or the one a peer worker vouched for."""
    vouched = request.headers.get(FORWARDED_IP)
    sig = request.headers.get(FORWARDED_SIG)
    if vouched and sig:
        expected = _vouch(vouched, hashlib.sha256(body).hexdigest())
        if hmac.compare_digest(expected, sig):
            return str(vouched)
    return str(request.remote) if request.remote else None


def checks(app: Any) -> dict[str, bool]:
    """Each local readiness condition, by name (the broker is checked by ``/readyz``)."""
    recovery = app.tables.recovery
    signals = writer()
    return {
        "not_stopping": not drain.draining,
        "webhook_producer_connected": bool(signals is not None and signals.connected),
        "not_rebalancing": not app.rebalancing,
        "tables_recovered": bool(recovery.completed.is_set() and not recovery.in_recovery),
        "partitions_assigned": _assigned(app),
        "key_owners_known": _owners_known(app),
    }


def _assigned(app: Any) -> bool:
    """Partitions assigned to this worker (False too while its consumer is not started)."""
    try:
        return bool(app.consumer.assignment())
    except Exception:  # ConsumerNotStarted during start-up
        return False


def _owners_known(app: Any) -> bool:
    """The assignor can name the worker that owns a key (it can lag the assignment)."""
    return owner_url(app, deliveries.changelog_topic.get_topic_name(), 0) is not None


def ready(app: Any) -> bool:
    """Partitions assigned, tables recovered, no rebalance under way, the webhook's producer
    connected, key owners known, not stopping."""
    return all(checks(app).values())


def owner_of(app: Any, table: Any, key: bytes) -> URL:
    """The web URL of the worker that owns ``key``'s partition of ``table``.

    From the assignor's map and the partition Kafka's default partitioner gives the key
    (as every topic and table here is partitioned), not Faust's ``Router.key_store``: that
    asks the producer's topic metadata first, which lacks a changelog topic the producer
    has not written to yet (and, after a broker hang, for minutes).
    """
    topic = table.changelog_topic.get_topic_name()
    url = owner_url(app, topic, partition_of(key, settings.topic_partitions))
    if url is None:  # no assignment known yet (start-up, rebalance)
        raise NotReady("the owner of this key is not known yet", headers=RETRY)
    return URL(url)


def is_me(app: Any, url: URL) -> bool:
    return _same(url, URL(str(app.conf.canonical_url)))


def _owner(app: Any, key: str) -> URL:
    """The web URL of the worker that owns ``key``'s partition of ``deliveries``."""
    return owner_of(app, deliveries, key.encode())


def _same(a: URL, b: URL) -> bool:
    return (a.host, a.port) == (b.host, b.port)


async def forward_to_owner(view: Any, request: Any, key: str, body: bytes) -> web.Response | None:
    """Relay to the owner's answer, or None when this worker is the owner."""
    app = view.app
    if request.headers.get(FORWARDED_SIG):
        return None  # forwarded once already: never bounce again
    owner = _owner(app, key)
    if _same(owner, URL(str(app.conf.canonical_url))):
        return None
    ip = str(request.remote or "")
    headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_HEADERS}
    headers[FORWARDED_IP] = ip
    headers[FORWARDED_SIG] = _vouch(ip, hashlib.sha256(body).hexdigest())
    url = owner.with_path(request.path).with_query(request.query_string)
    log.debug("forwarding %s to %s", key, url)
    try:
        return await _relay(view, app, url, body, headers)
    except aiohttp.ClientError as exc:  # the owner is stopping, restarting or unreachable
        log.info("owner of %s did not answer: %s", key, type(exc).__name__)
        raise NotReady("the worker that owns this key did not answer", headers=RETRY) from None


async def _relay(
    view: Any, app: Any, url: URL, body: bytes, headers: dict[str, str]
) -> web.Response:
    async with app.http_client.post(url, data=body, headers=headers) as resp:
        payload = await resp.read()
        keep = {
            k: v
            for k, v in resp.headers.items()
            if k.lower() in {"x-correlation-id", "retry-after"}
        }
        answer: web.Response = view.bytes(
            payload, content_type=resp.content_type, status=resp.status, headers=keep
        )
        return answer
