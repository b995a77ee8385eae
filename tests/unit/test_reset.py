"""``at-stream reset``: argument parsing and the plan's rendering (no broker)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from aiokafka import TopicPartition

from app.reset import (
    STATE_TABLES,
    Move,
    consumed_topics,
    incomplete,
    parse_args,
    progress_line,
    render,
)
from app.settings import Settings


def test_one_target_is_required(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as err:
        parse_args([])
    assert err.value.code == 2
    with pytest.raises(SystemExit):
        parse_args(["--to-earliest", "--to-latest"])


def test_targets_and_options() -> None:
    args = parse_args(["--to-datetime", "2026-11-24T09:00:00", "--topic", "fills:0,1"])
    assert args.to_datetime == datetime(2026, 11, 24, 9, tzinfo=UTC)  # naive is UTC
    assert args.topic == ["fills:0,1"] and not args.execute
    args = parse_args(["--to-offset", "7", "--execute", "--data-dir", "a", "--data-dir", "b"])
    assert args.to_offset == 7 and args.execute and [str(d) for d in args.data_dir] == ["a", "b"]


@pytest.mark.parametrize(
    "argv", [["--to-offset", "-1"], ["--to-datetime", "yesterday"], ["--to-offset", "x"]]
)
def test_bad_arguments_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as err:
        parse_args(argv)
    assert err.value.code == 2
    assert capsys.readouterr().err.strip().splitlines()[-1].startswith("at-stream reset: error")


def test_consumed_topics_leave_out_the_dead_letters() -> None:
    """Dead letters and order-events are written, never consumed by the group."""
    settings = Settings(app_id="x")
    assert consumed_topics(settings) == ["signals", "orders", "fills", "quotes"]
    assert set(STATE_TABLES) == {"positions", "order-states", "execution-books"}


def test_render_counts_what_is_processed_again() -> None:
    moves = [
        Move(TopicPartition("fills", 0), 40, 0, 40),
        Move(TopicPartition("fills", 1), None, 5, 12),
    ]
    text = render(moves)
    assert "fills" in text and " - " not in text.splitlines()[1]
    assert text.splitlines()[2].split()[2] == "-"  # never committed
    assert text.endswith("47 record(s) to process again")


def test_progress_line_shows_the_rate_and_what_is_left() -> None:
    assert progress_line(0, 100, 0.0, width=10) == "rebuild [..........] 0/100"
    line = progress_line(50, 100, 2.0, width=10)
    assert line == "rebuild [#####.....] 50/100  25 records/s  2 s left"
    assert progress_line(100, 100, 4.0, width=10).endswith("25 records/s  done")
    assert progress_line(12_000, 10_000, 1.0, width=4).startswith("rebuild [####] 12000/")
    assert progress_line(3, 6, 1.0, width=2, label="positions").startswith("positions [#.] 3/6")


def test_execute_needs_every_partition_of_orders_and_fills() -> None:
    """The derived tables go; a replay of only some of their sources would not bring
    them back (--topic fills:0 would lose the positions of partition 1)."""
    known = {"orders": {0, 1}, "fills": {0, 1}}

    def moves(*tps: tuple[str, int]) -> list[Move]:
        return [Move(TopicPartition(t, p), 5, 0, 5) for t, p in tps]

    every = [("signals", 0), ("orders", 0), ("orders", 1), ("fills", 0), ("fills", 1)]
    assert incomplete(moves(*every), known) is None
    why = incomplete(moves(("orders", 0), ("orders", 1), ("fills", 0)), known)
    assert why is not None and "'fills'" in why and "partition(s) 1 too" in why
    assert "positions, order-states, execution-books" in why
    assert incomplete(moves(("signals", 0)), known) is not None
    assert incomplete([], {"orders": set(), "fills": set()}) is None  # topics not created yet
