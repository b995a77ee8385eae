"""Test your own code against a real at-stream: a pytest plugin and its helpers.

Installed with at-stream, the plugin (``at_stream.testing.plugin``, entry point
``pytest11``) gives every test suite the fixtures ``at_stream``, ``at_stream_worker``,
``at_stream_broker`` and ``at_stream_signers``::

    def test_my_strategy(at_stream):
        answer = at_stream.post_signal({"symbol": "AAPL", "side": "buy", ...})
        fill = at_stream.wait_for("fills", signal_id=answer["signal_id"])
"""

from at_stream.testing.brokers import Broker, any_broker, docker_available
from at_stream.testing.harness import AtStream, Record, Signer, Worker, running_worker

__all__ = [
    "AtStream",
    "Broker",
    "Record",
    "Signer",
    "Worker",
    "any_broker",
    "docker_available",
    "running_worker",
]
