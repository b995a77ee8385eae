"""The NATS JetStream bridge: Kafka topics out to the old ``trading-events`` stream, legacy
signals in. Pure mappings in ``outbound_map``, ``inbound_map`` and ``config``; the loops in
``outbound`` and ``inbound``; the worker's service in ``service``; a local nats-server for
``make run`` and the tests in ``server``. README.md, "NATS bridge", documents it."""
