"""Benchmark harness of at-stream: ``python -m bench [--quick|--smoke] [--out DIR]``.

It brings up its own local Kafka (KRaft, temp dir, free port) and worker processes, runs
every scenario with its baseline minutes apart, and writes ``results.json``, PNG plots and
``BENCHMARKS.md``. See ``docs/BENCHMARKS.md`` for what each scenario measures.
"""
