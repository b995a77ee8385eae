"""NatsToKafka.handle: ack only after Kafka's ack, NAK with the delay when Kafka refuses.

The NATS client and the producer are stand-ins that record what they are asked (a unit
test of the loop's bookkeeping; tests/integration/test_bridge*.py run the real servers).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiokafka.errors import KafkaTimeoutError
from nats.aio.msg import Msg
from pydantic import SecretStr

from app.bridge.inbound import NatsToKafka
from app.providers import Provider, ProviderSecret, Scheme

BODY = {"symbol": "AAPL", "side": "buy", "quantity": "1", "order_type": "market",
        "price": "100", "account": "paper-1", "strategy": "demo"}  # fmt: skip


class Client:
    def __init__(self) -> None:
        self.published: list[tuple[str, bytes]] = []

    async def publish(self, subject: str, payload: bytes = b"", **_: Any) -> None:
        self.published.append((subject, payload))


class Producer:
    def __init__(self, fail: bool) -> None:
        self.fail = fail
        self.sent: list[tuple[str, bytes]] = []

    async def send(self, topic: str, value: bytes, **_: Any) -> asyncio.Future[Any]:
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        if self.fail:
            fut.set_exception(KafkaTimeoutError())
        else:
            self.sent.append((topic, value))
            fut.set_result(None)
        return fut


def message(client: Client, seq: int, body: bytes, delivered: int = 1) -> Msg:
    reply = f"$JS.ACK.trading-events.durable.{delivered}.{seq}.{seq}.1700000000000000000.0"
    return Msg(_client=client, subject="trading.signals.in", reply=reply, data=body,  # type: ignore[arg-type]
               headers={"Nats-Msg-Id": f"m-{seq}"})  # fmt: skip


def bridge(producer: Producer) -> NatsToKafka:
    secret = ProviderSecret(value=SecretStr("a-secret-of-the-test"))
    provider = Provider(id="default", scheme=Scheme.LEGACY, secrets=(secret,))
    return NatsToKafka(None, provider, bootstrap="127.0.0.1:1", client_id="t",  # type: ignore[arg-type]
                       signals_topic="signals", dead_letter_topic="dead-letters", batch_size=10,
                       nak_delay=2.5, write_timeout=0.1, producer=producer)  # fmt: skip


async def test_acked_after_kafkas_ack_valid_and_invalid_alike() -> None:
    client, producer = Client(), Producer(fail=False)
    good = message(client, 1, json.dumps(BODY).encode(), delivered=2)
    bad = message(client, 2, b"{nope")
    await bridge(producer).handle([good, bad])
    assert [t for t, _ in producer.sent] == ["signals", "dead-letters"]
    assert [p for _, p in client.published] == [b"", b""]  # an empty reply is JetStream's ack


async def test_nakd_with_the_delay_when_kafka_does_not_ack() -> None:
    client, producer = Client(), Producer(fail=True)
    await bridge(producer).handle([message(client, 3, json.dumps(BODY).encode())])
    ((_, payload),) = client.published
    assert payload == b'-NAK {"delay": 2500000000}'


async def test_our_own_publishes_are_acked_and_not_taken_in() -> None:
    client, producer = Client(), Producer(fail=False)
    msg = message(client, 4, json.dumps(BODY).encode())
    msg.headers = {"At-Stream-Origin": "kafka"}
    await bridge(producer).handle([msg])
    assert producer.sent == [] and [p for _, p in client.published] == [b""]
