"""The dashboard and the alert rules, proven against a real Prometheus scraping a worker.

Debian's ``prometheus`` package (it ships ``promtool``) is installed by the test command
when it is missing and we are root; where it cannot be, the test fails with one line that
names what to install (never a skip). A live worker under a little load, with the NATS
bridge on (a real nats-server) and the audit sink on (SQLite), is scraped every second by
a Prometheus configured from the compose stack's ``ops/prometheus/prometheus.yml`` (its
job, path and rule file; only the target and the intervals are the test's); then every
PromQL expression of every dashboard panel and every alert rule is evaluated through
Prometheus's HTTP API (each parses; each panel's returns data), every metric they name
must be one the worker exports, and ``promtool test rules`` unit-tests the rules with
synthetic series.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from app.bridge.server import LocalNats
from app.broker.launcher import free_port
from at_stream.testing.debian import apt_install
from tests.integration.bridge_support import bridge_env, legacy_signal, nats_server, publish_legacy
from tests.integration.support import ROOT, Worker, post_signal, signal_body, unique

__all__ = ["nats_server"]  # the fixture

OPS = ROOT / "ops"
DASHBOARD = OPS / "grafana" / "dashboards" / "at-stream.json"
ALERTS = OPS / "prometheus" / "alerts.yml"
ALERT_TESTS = OPS / "prometheus" / "alerts.test.yml"
COMPOSE_CONFIG = OPS / "prometheus" / "prometheus.yml"
# what an operator must see of the optional parts, each read by some panel
HEALTH_ON_THE_DASHBOARD = {
    "at_stream_bridge_enabled", "at_stream_bridge_nats_up", "at_stream_bridge_messages_total",
    "at_stream_bridge_kafka_lag_records", "at_stream_bridge_nats_pending_messages",
    "at_stream_bridge_errors_total", "at_stream_audit_sink_enabled", "at_stream_audit_store_up",
    "at_stream_audit_lag_records", "at_stream_audit_records_written_total",
    "at_stream_audit_write_errors_total",
}  # fmt: skip
_NAME = re.compile(r"\b[a-zA-Z_:][a-zA-Z0-9_:]*\b(?!\s*\()")  # not a function call
_GROUPING = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_KEYWORDS = {"and", "or", "unless", "offset", "bool"}


def ensure_prometheus() -> tuple[str, str]:
    """The prometheus and promtool binaries; installs Debian's package if root and missing."""
    if not (shutil.which("prometheus") and shutil.which("promtool")):
        apt_install("prometheus")
    prometheus, promtool = shutil.which("prometheus"), shutil.which("promtool")
    if not (prometheus and promtool):
        pytest.fail("prometheus is not installed: apt-get install prometheus", pytrace=False)
    return prometheus, promtool


def panel_queries() -> list[tuple[str, str]]:
    dashboard = json.loads(DASHBOARD.read_text())
    return [(p["title"], t["expr"]) for p in dashboard["panels"] for t in p["targets"]]


def alert_rules() -> list[dict[str, Any]]:
    doc = yaml.safe_load(ALERTS.read_text())
    return [rule for group in doc["groups"] for rule in group["rules"]]


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression reads (not functions, labels or keywords)."""
    text = re.sub(r'"[^"]*"', '""', expr)
    text = re.sub(r"\{[^}]*\}", "{}", text)
    text = re.sub(r"\[[^\]]*\]", "[]", text)
    text = _GROUPING.sub(" ", text)
    return {n for n in _NAME.findall(text) if n not in _KEYWORDS}


def exported(metrics_text: str) -> set[str]:
    """Every series name the worker's /metrics exposes (histogram and counter suffixes too)."""
    names = set()
    for line in metrics_text.splitlines():
        if line and not line.startswith("#"):
            names.add(re.split(r"[{ ]", line, maxsplit=1)[0])
    return names


def test_promtool_unit_tests_every_alert_rule() -> None:
    _, promtool = ensure_prometheus()
    check = subprocess.run([promtool, "check", "rules", str(ALERTS)], capture_output=True,
                           text=True, check=False)  # fmt: skip
    assert check.returncode == 0, check.stdout + check.stderr
    tested = subprocess.run([promtool, "test", "rules", str(ALERT_TESTS)], capture_output=True,
                            text=True, check=False, cwd=ALERT_TESTS.parent)  # fmt: skip
    assert tested.returncode == 0, tested.stdout + tested.stderr
    covered = {t["alertname"] for case in yaml.safe_load(ALERT_TESTS.read_text())["tests"]
               for t in case["alert_rule_test"]}  # fmt: skip
    assert {r["alert"] for r in alert_rules()} == covered  # every alert has a test


def prometheus_config(target: str) -> dict[str, Any]:
    """The compose stack's Prometheus config, scraping ``target`` every second: the same
    job, metrics path and rule file (mounted at /etc/prometheus/alerts.yml there)."""
    config: dict[str, Any] = yaml.safe_load(COMPOSE_CONFIG.read_text())
    assert config["rule_files"] == ["/etc/prometheus/alerts.yml"]
    config["rule_files"] = [str(ALERTS)]
    config["global"].update(scrape_interval="1s", evaluation_interval="1s")
    [job] = config["scrape_configs"]
    job["static_configs"] = [{"targets": [target]}]
    return config


def test_the_test_config_is_the_compose_config_but_for_target_and_intervals() -> None:
    compose: dict[str, Any] = yaml.safe_load(COMPOSE_CONFIG.read_text())
    ours = prometheus_config("127.0.0.1:1")
    [theirs], [mine] = compose["scrape_configs"], ours["scrape_configs"]
    assert {k: v for k, v in mine.items() if k != "static_configs"} == {
        k: v for k, v in theirs.items() if k != "static_configs"}  # fmt: skip
    assert ours["rule_files"] == [str(ALERTS)] and mine["job_name"] == "at-stream"


def test_bridge_and_audit_health_are_on_the_dashboard() -> None:
    read = set().union(*(metric_names(expr) for _, expr in panel_queries()))
    assert read >= HEALTH_ON_THE_DASHBOARD, HEALTH_ON_THE_DASHBOARD - read


@pytest.fixture
def scraped(
    start_worker: Callable[..., Worker], nats_server: LocalNats, tmp_path: Path
) -> Iterator[tuple[str, Worker]]:
    """A worker under a little load (webhooks, and legacy signals through the NATS bridge),
    and a real Prometheus scraping it every second."""
    prometheus, _ = ensure_prometheus()
    stream = unique("prom")
    worker = start_worker(AT_STREAM_DEFAULT_RATE_LIMIT="0", **bridge_env(nats_server, stream))
    asyncio.run(_load(worker, nats_server))
    port = free_port()
    config = prometheus_config(f"127.0.0.1:{worker.port}")
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    log = (tmp_path / "prometheus.log").open("wb")
    proc = subprocess.Popen(
        [prometheus, f"--config.file={tmp_path / 'prometheus.yml'}",
         f"--storage.tsdb.path={tmp_path / 'tsdb'}", f"--web.listen-address=127.0.0.1:{port}"],
        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        log_path = tmp_path / "prometheus.log"
        asyncio.run(_wait_scraped(url, proc, lambda: log_path.read_text(errors="replace")))
        yield url, worker
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()


async def _load(worker: Worker, nats: LocalNats) -> None:
    await worker.wait_ready()
    legacy = [(unique("legacy"), legacy_signal("prom-legacy", i)) for i in range(3)]
    await publish_legacy(nats.url, "trading.signals.in", legacy)  # bridged nats-to-kafka
    async with aiohttp.ClientSession() as http:
        for n in range(20):
            await post_signal(http, worker, signal_body(account=f"prom-{n % 4}"))
        body = signal_body(account="prom-bad")
        bad = {"Content-Type": "application/json", "X-Signature-Timestamp": "1",
               "X-Signature": "sha256=00"}  # fmt: skip
        async with http.post(worker.url + "/webhook/signals", data=body, headers=bad) as r:
            assert r.status == 401


async def _wait_scraped(url: str, proc: subprocess.Popen[bytes], log: Callable[[], str]) -> None:
    """Until the target is up and has been scraped long enough for rates (a few samples)."""
    deadline = time.monotonic() + 60
    async with aiohttp.ClientSession() as http:
        while time.monotonic() < deadline:
            assert proc.poll() is None, log()[-2000:]
            try:
                async with http.get(url + "/api/v1/targets") as r:
                    targets = (await r.json())["data"]["activeTargets"]
                if targets and all(t["health"] == "up" for t in targets):
                    await asyncio.sleep(8)  # samples for [1m] rates, and a metrics tick
                    return
            except (aiohttp.ClientError, KeyError):
                pass
            await asyncio.sleep(0.5)
    raise AssertionError("prometheus never scraped the worker: " + log()[-2000:])


def _query(url: str, expr: str) -> dict[str, Any]:
    import requests

    answer: dict[str, Any] = requests.get(url + "/api/v1/query", params={"query": expr},
                                          timeout=10).json()  # fmt: skip
    return answer


def test_every_panel_query_returns_data_from_a_live_worker(scraped: tuple[str, Worker]) -> None:
    url, worker = scraped
    import requests

    names = exported(requests.get(worker.url + "/metrics", timeout=10).text) | {"up"}
    assert panel_queries()
    for title, expr in panel_queries():
        unknown = metric_names(expr) - names
        assert not unknown, f"panel {title!r} uses metrics the worker does not export: {unknown}"
        answer = _query(url, expr)
        assert answer["status"] == "success", (title, answer)
        assert answer["data"]["result"], f"panel {title!r} returned no data: {expr}"


def test_every_alert_rule_parses_and_loads(scraped: tuple[str, Worker]) -> None:
    url, worker = scraped
    import requests

    names = exported(requests.get(worker.url + "/metrics", timeout=10).text) | {"up"}
    for rule in alert_rules():
        unknown = metric_names(rule["expr"]) - names
        assert not unknown, f"alert {rule['alert']} uses metrics not exported: {unknown}"
        assert _query(url, rule["expr"])["status"] == "success", rule["alert"]
    loaded = requests.get(url + "/api/v1/rules", timeout=10).json()["data"]["groups"]
    health = {r["name"]: r["health"] for g in loaded for r in g["rules"]}
    assert set(health) == {r["alert"] for r in alert_rules()}
    assert set(health.values()) <= {"ok", "unknown"}, health  # unknown: not evaluated yet


def test_metric_names_are_found_in_expressions() -> None:
    expr = 'sum by (le) (rate(a_b_bucket{x="y(z)"}[5m])) / on(job) c:d and up{job="j"} == 0.5'
    assert metric_names(expr) == {"a_b_bucket", "c:d", "up"}
