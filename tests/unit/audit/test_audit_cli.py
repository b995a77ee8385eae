"""``at-stream audit trace|export|migrate`` on a real SQLite store."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from pathlib import Path

import pytest

from app.audit.store import SQLiteStore
from app.cli import main
from tests.unit.audit.samples import chain


@pytest.fixture
def audit_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "audit.db"

    async def fill() -> None:
        store = SQLiteStore(f"sqlite:///{path}")
        await store.migrate()
        await store.write(chain(1, "cid-00000001") + chain(2, "cid-00000002", offset=1))
        await store.close()

    asyncio.run(fill())
    monkeypatch.setenv("AT_STREAM_AUDIT_URL", f"sqlite:///{path}")
    return path


def test_trace_table(audit_db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", "trace", "cid-00000001"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == [
        "step",
        "at",
        "(UTC)",
        "+ms",
        "total",
        "ms",
        "record",
        "id",
        "summary",
    ]
    assert [line.split()[0] for line in out[2:6]] == ["webhook", "signal", "order", "fill"]
    assert "signals[0]@0" in out[3] and "fills[0]@0" in out[5]
    assert "position" in out[6] and "quantity 10" in out[6]
    assert "receipt to last step 8.000 ms" in out[-1]


def test_trace_json_and_unknown(audit_db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", "trace", "--json", "cid-00000002"]) == 0
    assert json.loads(capsys.readouterr().out)["correlation_ids"] == ["cid-00000002"]
    assert main(["audit", "trace", "nope-nope"]) == 1
    assert capsys.readouterr().err.strip() == (
        "at-stream audit: no record with correlation id or signal id 'nope-nope'"
    )


def test_export_jsonl_and_csv(
    audit_db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["audit", "export", "--since", "2026-01-05T14:30:00Z"]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [e["topic"] for e in lines] == ["signals", "orders", "fills"] * 2
    assert lines[0]["payload"]["quantity"] == "10"  # the decimal as it was on the wire
    out = tmp_path / "x.csv"
    args = [
        "audit",
        "export",
        "--since",
        "2026-01-05T14:30:02Z",
        "--until",
        "2026-01-06T00:00:00+00:00",
        "--format",
        "csv",
        "--topic",
        "fills",
        "--out",
        str(out),
    ]
    assert main(args) == 0
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert len(rows) == 1 and rows[0]["topic"] == "fills" and rows[0]["kafka_offset"] == "1"
    assert rows[0]["broker_time"].startswith("2026-01-05T14:30:02")
    assert json.loads(rows[0]["payload"])["quantity"] == "10"
    assert "exported 1 records" in capsys.readouterr().err


def test_bad_input_is_one_line(audit_db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", "export", "--since", "last tuesday"]) == 2
    assert capsys.readouterr().err.strip() == (
        "at-stream: --since is not an ISO 8601 time: 'last tuesday'"
    )
    assert main(["audit", "migrate"]) == 0
    assert capsys.readouterr().out.strip() == "audit schema version 2"
