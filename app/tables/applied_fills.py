"""How far each ``fills`` partition is applied to the positions and order-states tables,
in memory: so that the orders agent can apply the fills it has just produced itself,
and the fills agent does not decode them again.

The fills agent applies every record of ``fills`` it consumes, in offset order. The
orders agent knows the fills it produced and, from their acknowledgements, their
offsets; it may apply them as soon as they are acknowledged, but only where that is what
the fills agent would have done: when every record of the partition before them is
applied already. So each partition has a *through* offset: every record at or below it
is applied (written locally, its changelog records queued on the producer). The fills
agent sets it to the last record it handled (applied, duplicate or dead-lettered); the
orders agent applies its acknowledged fills that continue it without a gap (offset
``through + 1``, then the next, ...) and moves it to the last of them; a gap (a record
of another producer in between) or a fill that does not apply ends its run there, and
the fills agent applies the rest as it always has. The fills agent skips a record at or
below *through* without decoding it. Fills the orders agent could not apply yet (the fills
agent had not reached the record before them) wait for its next batch (:func:`waiting`,
at most ``MAX_WAITING`` a partition): when the fills agent trails by a batch, the orders
agent takes over the partition on its next one.

A marker holds for one consumer generation: a rebalance forgets it (the partition may
have moved, and come back with another worker's writes), and the fills agent sets it
again from the first record it handles. Both agents change the tables and the marker
holding :data:`lock`, so that neither sees the other's local writes before their
changelog records are queued (an offset Faust commits is flushed with them first).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import NamedTuple

from app.models import Fill

MAX_WAITING = 1_000
"""The most acknowledged fills of one partition kept for the orders agent's next batch."""

lock = asyncio.Lock()
"""Held by each agent from reading the positions and order states to queueing their
changelog records (and moving the marker)."""

_through: dict[int, tuple[int, int]] = {}  # partition -> (generation, offset)


class Own(NamedTuple):
    """A fill the orders agent produced, acknowledged at ``offset`` of its partition."""

    offset: int
    key: bytes
    correlation_id: str
    fill: Fill


_waiting: dict[int, tuple[int, list[Own]]] = {}  # partition -> (generation, by offset)


def through(partition: int, generation: int | None) -> int | None:
    """Every ``fills`` record of ``partition`` at or below this offset is applied (None:
    not known in this generation, or no generation)."""
    known = _through.get(partition)
    if generation is None or known is None or known[0] != generation:
        return None
    return known[1]


def advance(partition: int, generation: int | None, offset: int) -> None:
    """Every record of ``partition`` up to ``offset`` is applied (never moves back)."""
    if generation is None:
        return
    known = through(partition, generation)
    if known is None or offset > known:
        _through[partition] = (generation, offset)


def waiting(generation: int | None, new: dict[int, list[Own]]) -> dict[int, list[Own]]:
    """Per partition, the fills earlier batches left (of this generation), then ``new``,
    in offset order."""
    out = {p: sorted(fills, key=_offset) for p, fills in new.items()}
    for partition, (known, older) in list(_waiting.items()):
        if known != generation:
            del _waiting[partition]
        else:
            out[partition] = [*older, *out.get(partition, ())]
    return out


def _offset(fill: Own) -> int:
    return fill.offset


def keep_waiting(partition: int, generation: int | None, fills: list[Own]) -> None:
    """Keep ``fills`` for the next batch (none: forget them; more than ``MAX_WAITING``:
    the fills agent applies them)."""
    if generation is None or not fills or len(fills) > MAX_WAITING:
        _waiting.pop(partition, None)
    else:
        _waiting[partition] = (generation, fills)


def forget() -> None:
    """Forget every marker and waiting fill (for tests)."""
    _through.clear()
    _waiting.clear()


def continuing(last: int | None, offsets: Sequence[int]) -> list[int]:
    """Which of ``offsets`` (one partition's, ascending) the orders agent may apply after
    ``last`` (its *through*): their indexes, from the one at ``last + 1`` while each
    follows the one before; those at or below ``last`` are applied already."""
    if last is None:
        return []
    out: list[int] = []
    expected = last + 1
    for i, offset in enumerate(offsets):
        if offset < expected:
            continue  # the fills agent got there first
        if offset != expected:
            break  # a record of another producer in between: the fills agent's
        out.append(i)
        expected += 1
    return out
