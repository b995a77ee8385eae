"""at-stream's metrics follow Prometheus' conventions: a ``# HELP`` each, ``_total``
counters, ``_seconds`` histograms, base units, and labels that cannot carry an id."""

from __future__ import annotations

import re

from prometheus_client import REGISTRY
from prometheus_client.metrics import MetricWrapperBase

import app.audit.metrics
import app.metrics
import app.web.auth

MODULES = (app.metrics, app.audit.metrics, app.web.auth)
# every label at-stream uses, each with a documented bound (README "Metrics")
BOUNDED_LABELS = {"provider", "scheme", "outcome", "field", "topic", "source", "partition",
                  "table", "view", "direction", "subject", "kind", "state"}  # fmt: skip
UNITS = ("_seconds", "_records", "_messages", "_keys", "_tasks", "_acks", "_partitions",
         "_flight", "_up", "_enabled")  # fmt: skip


def ours() -> list[MetricWrapperBase]:
    found = [value for module in MODULES for value in vars(module).values()
             if isinstance(value, MetricWrapperBase)]  # fmt: skip
    assert len(found) >= 36
    return found


def test_every_metric_is_registered_with_help_and_our_prefix() -> None:
    registered = {m.name for m in REGISTRY.collect()}
    for metric in ours():
        name = metric._name
        assert name.startswith("at_stream_") and name in registered, name
        assert metric._documentation.strip(), f"{name} has no HELP"


def test_names_follow_the_conventions() -> None:
    for metric in ours():
        name, kind = metric._name, metric._type
        assert re.fullmatch(r"at_stream_[a-z0-9_]+", name), name
        if kind == "counter":  # prometheus_client appends _total to the exposed name
            assert not name.endswith("_total"), name
        elif kind == "histogram":
            assert name.endswith("_seconds"), name
        else:
            assert kind == "gauge" and name.endswith(UNITS), name


def test_labels_are_the_bounded_ones() -> None:
    for metric in ours():
        assert set(metric._labelnames) <= BOUNDED_LABELS, (metric._name, metric._labelnames)
