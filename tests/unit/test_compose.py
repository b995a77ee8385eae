"""Static checks of docker-compose.redpanda.yml and the Dockerfile.

Nothing here starts a container: the compose file is read with PyYAML and checked
against the settings object, the Redpanda listeners and the image's CMD.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit

import pytest
import yaml

from app.settings import Settings, env_name

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.redpanda.yml"
DOCKERFILE = ROOT / "Dockerfile"

REQUIRED_SERVICES = (
    "redpanda",
    "console",
    "nats",
    "postgres",
    "worker",
    "worker-2",
    "prometheus",
    "grafana",
)
WITHOUT_HEALTHCHECK = frozenset({"console"})
NATS_CLIENT_PORT = 4222


# -- helpers ----------------------------------------------------------------------------


def _environment(service: dict[str, Any]) -> dict[str, str | None]:
    """A service's environment as a mapping, whether written as a list or a mapping."""
    raw = service.get("environment") or {}
    if isinstance(raw, dict):
        return {str(k): None if v is None else str(v) for k, v in raw.items()}
    env: dict[str, str | None] = {}
    for item in cast(list[Any], raw):
        name, sep, value = str(item).partition("=")
        env[name] = value if sep else None
    return env


def _tokens(command: Any) -> list[str]:
    """A compose ``command`` (string or list) as a flat list of argv words."""
    if isinstance(command, str):
        return shlex.split(command)
    return [word for item in cast(list[Any], command) for word in shlex.split(str(item))]


def _flag(words: list[str], flag: str) -> str:
    """The value of ``--flag value`` or ``--flag=value`` in ``words``."""
    for i, word in enumerate(words):
        if word == flag and i + 1 < len(words):
            return words[i + 1]
        if word.startswith(flag + "="):
            return word.removeprefix(flag + "=")
    raise AssertionError(f"{flag} not found in {words!r}")


def _listeners(value: str) -> dict[str, tuple[str, int]]:
    """``name://host:port,...`` as ``{name: (host, port)}``."""
    out: dict[str, tuple[str, int]] = {}
    for entry in value.split(","):
        parts = urlsplit(entry.strip())
        assert parts.hostname, f"bad listener {entry!r}"
        assert parts.port, f"bad listener {entry!r}"
        out[parts.scheme] = (parts.hostname, parts.port)
    return out


def _container_ports(service: dict[str, Any]) -> set[int]:
    """Container-side ports a service publishes (short or long syntax)."""
    ports: set[int] = set()
    for entry in service.get("ports") or []:
        if isinstance(entry, dict):
            target = cast(dict[str, Any], entry)["target"]
        else:
            target = str(entry).rsplit(":", 1)[-1].split("/", 1)[0]
        ports.add(int(target))
    return ports


def _dockerfile_cmd(text: str) -> list[str]:
    """The exec-form argv of the Dockerfile's last CMD instruction."""
    joined = text.replace("\\\n", " ")
    cmds = [
        line.strip()[len("CMD") :].strip()
        for line in joined.splitlines()
        if line.strip().upper().startswith("CMD ")
    ]
    assert cmds, "the Dockerfile has no CMD"
    argv = json.loads(cmds[-1])
    assert isinstance(argv, list), "CMD should use the exec (JSON) form"
    return [str(word) for word in argv]


# -- fixtures ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert isinstance(data, dict), "the compose file should be a mapping"
    return cast(dict[str, Any], data)


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return cast(dict[str, dict[str, Any]], compose["services"])


@pytest.fixture(scope="module")
def worker(services: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return services["worker"]


@pytest.fixture(scope="module")
def worker_env(worker: dict[str, Any]) -> dict[str, str | None]:
    return _environment(worker)


# -- tests ------------------------------------------------------------------------------


def test_no_version_key(compose: dict[str, Any]) -> None:
    assert "version" not in compose, "the top-level version key is obsolete"


@pytest.mark.parametrize("name", REQUIRED_SERVICES)
def test_service_exists(services: dict[str, dict[str, Any]], name: str) -> None:
    assert name in services


def test_images_are_pinned(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        image = service.get("image")
        if image is None:
            assert "build" in service, f"{name} has neither image nor build"
            continue
        image = str(image)
        if "@sha256:" in image:
            continue
        last = image.rsplit("/", 1)[-1]
        assert ":" in last, f"{name}: image {image!r} has no tag"
        tag = last.rsplit(":", 1)[1]
        assert tag, f"{name}: image {image!r} has an empty tag"
        assert tag != "latest", f"{name}: image {image!r} is not pinned"


def test_healthchecks(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        if name in WITHOUT_HEALTHCHECK:
            continue
        check = service.get("healthcheck")
        assert isinstance(check, dict), f"{name} has no healthcheck"
        assert check.get("test"), f"{name}: healthcheck has no test"
        assert not check.get("disable"), f"{name}: healthcheck is disabled"


def test_named_volumes_are_declared(
    compose: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    declared = set(compose.get("volumes") or {})
    for name, service in services.items():
        for mount in service.get("volumes") or []:
            if isinstance(mount, dict):
                source = str(cast(dict[str, Any], mount).get("source", ""))
            else:
                source = str(mount).split(":", 1)[0]
            if source and not source.startswith((".", "/", "~", "$")):
                assert source in declared, f"{name}: volume {source!r} is not declared"


def test_worker_depends_on_healthy_broker_and_nats(worker: dict[str, Any]) -> None:
    depends = worker.get("depends_on")
    assert isinstance(depends, dict), "worker.depends_on should use the long syntax"
    for needed in ("redpanda", "nats"):
        assert depends.get(needed, {}).get("condition") == "service_healthy", needed


def test_worker_env_names_are_settings(worker_env: dict[str, str | None]) -> None:
    known = {env_name(field) for field in Settings.model_fields}
    unknown = sorted(set(worker_env) - known)
    assert not unknown, f"worker sets variables that Settings does not read: {unknown}"


def test_worker_web_port_is_published(
    worker: dict[str, Any], worker_env: dict[str, str | None]
) -> None:
    port = worker_env.get("AT_STREAM_WEB_PORT")
    assert port is not None, "worker should set AT_STREAM_WEB_PORT"
    assert int(port) in _container_ports(worker)


def test_worker_kafka_address_is_a_redpanda_listener(
    services: dict[str, dict[str, Any]], worker_env: dict[str, str | None]
) -> None:
    bootstrap = worker_env.get("KAFKA_BOOTSTRAP_SERVERS")
    assert bootstrap, "worker should set KAFKA_BOOTSTRAP_SERVERS"
    words = _tokens(services["redpanda"]["command"])
    listen = _listeners(_flag(words, "--kafka-addr"))
    advertised = _listeners(_flag(words, "--advertise-kafka-addr"))
    by_port = {port: name for name, (_, port) in listen.items()}
    for address in bootstrap.removeprefix("kafka://").split(","):
        host, _, port_text = address.strip().rpartition(":")
        port = int(port_text)
        assert host == "redpanda", f"{address!r} does not name the redpanda service"
        assert port in by_port, f"redpanda does not listen on {port}: {listen}"
        # The client reconnects to what this listener advertises, so that too must be
        # reachable from inside the compose network.
        listener = by_port[port]
        assert advertised.get(listener) == (host, port), (
            f"listener {listener!r} advertises {advertised.get(listener)}, not {address}"
        )


def test_worker_nats_url_names_the_nats_service(worker_env: dict[str, str | None]) -> None:
    url = worker_env.get("NATS_URL")
    assert url, "worker should set NATS_URL"
    parts = urlsplit(url)
    assert parts.scheme == "nats"
    assert parts.hostname == "nats"
    assert parts.port == NATS_CLIENT_PORT


def test_dockerfile_cmd_matches_worker_command(worker: dict[str, Any]) -> None:
    cmd = _dockerfile_cmd(DOCKERFILE.read_text(encoding="utf-8"))
    assert _tokens(worker["command"]) == cmd


# -- observability: the files the real-Prometheus test proves ----------------------------


def _mounts(service: dict[str, Any]) -> dict[str, str]:
    """Bind mounts of a service: container path -> host path (relative to the repo)."""
    out = {}
    for volume in service.get("volumes", []):
        host, _, rest = str(volume).partition(":")
        if host.startswith("./"):
            out[rest.split(":")[0]] = host.removeprefix("./")
    return out


def test_every_dependency_waits_for_health(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        for dep, how in (service.get("depends_on") or {}).items():
            assert how == {"condition": "service_healthy"}, (name, dep)
            assert "healthcheck" in services[dep], (name, dep)


def test_second_worker_is_the_same_worker_with_its_own_port_and_data(
    services: dict[str, dict[str, Any]],
) -> None:
    first, second = services["worker"], services["worker-2"]
    assert second["command"] == first["command"] and second["build"] == first["build"]
    one, two = _environment(first), _environment(second)
    assert set(two) <= {env_name(f) for f in Settings.model_fields}
    assert {k: v for k, v in two.items() if k != "AT_STREAM_WEB_ADVERTISED_HOST"} == {
        k: v for k, v in one.items() if k != "AT_STREAM_WEB_ADVERTISED_HOST"}  # fmt: skip
    assert (one["AT_STREAM_WEB_ADVERTISED_HOST"], two["AT_STREAM_WEB_ADVERTISED_HOST"]) == (
        "worker", "worker-2")  # fmt: skip
    assert first["volumes"] != second["volumes"] and first["ports"] != second["ports"]


def test_prometheus_mounts_the_tested_rules_and_scrapes_every_worker(
    services: dict[str, dict[str, Any]],
) -> None:
    mounts = _mounts(services["prometheus"])
    assert mounts["/etc/prometheus/alerts.yml"] == "ops/prometheus/alerts.yml"  # the tested file
    config = yaml.safe_load((ROOT / mounts["/etc/prometheus/prometheus.yml"]).read_text())
    assert config["rule_files"] == ["/etc/prometheus/alerts.yml"]
    [job] = config["scrape_configs"]
    assert job["job_name"] == "at-stream"  # what the dashboard and the rules select
    targets = set(job["static_configs"][0]["targets"])
    workers = {n: s for n, s in services.items() if n.startswith("worker")}
    assert targets == {f"{n}:{_environment(s)['AT_STREAM_WEB_PORT']}" for n, s in workers.items()}


def test_grafana_provisions_the_tested_dashboard_and_the_prometheus_service(
    services: dict[str, dict[str, Any]],
) -> None:
    mounts = _mounts(services["grafana"])
    dashboards = ROOT / mounts["/var/lib/grafana/dashboards"]
    assert (dashboards / "at-stream.json").exists()  # the file test_prometheus.py evaluates
    provisioning = ROOT / mounts["/etc/grafana/provisioning"]
    [source] = yaml.safe_load((provisioning / "datasources/prometheus.yml").read_text())[
        "datasources"]  # fmt: skip
    assert urlsplit(source["url"]).hostname == "prometheus" and source["uid"] == "prometheus"
    [provider] = yaml.safe_load((provisioning / "dashboards/at-stream.yml").read_text())[
        "providers"]  # fmt: skip
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards"
    panels = json.loads((dashboards / "at-stream.json").read_text())["panels"]
    assert {p["datasource"]["uid"] for p in panels} == {"prometheus"}
