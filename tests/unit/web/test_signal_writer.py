"""The webhook's producer is bounded by the request deadline (issue 10).

A write the broker has not acknowledged by the deadline is answered 503; it must then
expire within about two deadlines, not be retried for Faust's 20-minute producer request
timeout. These read aiokafka's private fields (a child process: importing ``app.main``
needs the settings), so an aiokafka upgrade that renames them fails here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
PROBE = """
import asyncio, json
import app.main
from app.web.signal_writer import SignalWriter

async def main():
    producer = SignalWriter()._producer
    print(json.dumps({
        "request_timeout_ms": producer._request_timeout_ms,
        "metadata_timeout_ms": producer.client._request_timeout_ms,
        "batch_ttl_s": producer._message_accumulator._batch_ttl,
        "acks": producer._sender._acks,
        "idempotent": producer._txn_manager is not None,
    }))

asyncio.run(main())
"""


@pytest.mark.parametrize(
    ("env", "timeout_ms"),
    [
        ({"AT_STREAM_REQUEST_DEADLINE_SECONDS": "2"}, 2000),
        ({"AT_STREAM_REQUEST_DEADLINE_SECONDS": "2",
          "AT_STREAM_WEBHOOK_WRITE_TIMEOUT_SECONDS": "5"}, 5000),
    ],
    ids=["the-deadline", "write-timeout"],
)  # fmt: skip
def test_the_webhook_producer_gives_up_with_the_deadline(
    tmp_path: Path, env: dict[str, str], timeout_ms: int
) -> None:
    base = {k: v for k, v in os.environ.items() if not k.startswith("AT_STREAM_")}
    done = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=tmp_path,
        env={**base, **env, "API_KEY_HMAC_SECRET": "writer-test-secret", "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found == {
        "request_timeout_ms": timeout_ms,  # a produce request
        "metadata_timeout_ms": timeout_ms,  # send()'s wait for the topic's metadata
        "batch_ttl_s": timeout_ms / 1000,  # an unsent batch expires
        "acks": -1,  # acks=all
        "idempotent": False,  # aiokafka never expires an idempotent producer's batches
    }
