"""The execution step's state, per partition of ``orders``: changelog-backed RocksDB table.

Written only by the orders agent, through its batch's ``PartitionWrites``, always in the
partition of the ``orders`` record that changed it (quotes and kill-switch changes are on
every partition, so every partition has its own copy of a symbol's book and of the
trading states). Keys:

- ``b:<symbol>``: the symbol's :class:`~app.trading.engine.Book` (last quote, resting orders);
- ``h:<account|symbol>``: the executed position (an :class:`app.positions.Position`);
- ``s:<account>``: the symbols the account has held here (a JSON list), for account-wide risk;
- ``t:``: the :class:`~app.trading.trading_state.TradingStates` (kill switch);
- ``r:<account>``: the account's :class:`~app.trading.risk.AccountRisk`;
- ``o:<order id>``: an order id seen (executed once);
- ``v:<order id>``: an order at an external venue, followed (a :class:`WorkingOrder`);
- ``y:``: the symbols whose book here has resting orders (a JSON list, for the clock);
- ``a:``: the offset of the last ``orders`` record applied here.

A batch's writes reach the table only after every record it produced is acknowledged,
and ``a:`` is written last: a record at or below ``a:`` is applied and its records are in
the log, so a redelivery skips it.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any

from app.faust_internals import partition_db
from app.main import app, settings
from app.positions import Position
from app.tables import partition_get, raw_table
from app.tables.batch import PartitionWrites
from app.trading.engine import Book
from app.trading.orders import WorkingOrder
from app.trading.risk import AccountRisk
from app.trading.trading_state import TradingStates

books = raw_table(
    app,
    "execution-books",
    settings,
    "b:<symbol> book, h:<account|symbol> executed position, t: trading states, "
    "r:<account> risk, o:<order id> seen, a: last offset applied.",
)

APPLIED = b"a:"
VENUE = b"v:"
RESTING = b"y:"
STATES = b"t:"


class PartitionStore:
    """The :class:`app.trading.engine.Store` of one partition, over a batch's writes.

    Values are decoded once per batch and kept as objects (they are immutable); what
    changed is encoded once, by :meth:`flush`, which the caller runs after the batch's
    last command and before the writes reach the table.
    """

    def __init__(self, writes: PartitionWrites, partition: int) -> None:
        self.writes = writes
        self.partition = partition
        self._objects: dict[bytes, Any] = {}
        self._dirty: dict[bytes, Callable[[Any], bytes | None]] = {}
        self._applied: int | None = None

    def _get(self, key: bytes, decode: Callable[[bytes], Any]) -> Any:
        if key in self._objects:
            return self._objects[key]
        raw = self.writes.get(books, self.partition, key)
        value = None if raw is None else decode(raw)
        self._objects[key] = value
        return value

    def _put(self, key: bytes, value: Any, encode: Callable[[Any], bytes | None]) -> None:
        self._objects[key] = value
        self._dirty[key] = encode

    def flush(self) -> None:
        """Stage every value changed in this batch, then the applied offset, last."""
        for key, encode in self._dirty.items():
            self.writes.put(books, self.partition, key, encode(self._objects[key]))
        self._dirty.clear()
        if self._applied is not None:
            self.writes.restage_last(books, self.partition, APPLIED, str(self._applied).encode())

    def book(self, symbol: str) -> Book:
        found: Book | None = self._get(b"b:" + symbol.encode(), Book.model_validate_json)
        return _empty_book(symbol) if found is None else found

    def put_book(self, book: Book) -> None:
        self._put(b"b:" + book.symbol.encode(), book, Book.dumps)
        resting = self.resting_symbols()
        if bool(book.open) != (book.symbol in resting):
            others = [s for s in resting if s != book.symbol]
            self._put(RESTING, sorted([*others, book.symbol]) if book.open else others, _json)

    def resting_symbols(self) -> list[str]:
        found: list[str] | None = self._get(RESTING, json.loads)
        return [] if found is None else found

    def holding(self, account: str, symbol: str) -> Position | None:
        found: Position | None = self._get(f"h:{account}|{symbol}".encode(), Position.loads)
        return found

    def holdings(self, account: str) -> dict[str, Position]:
        held = {}
        for symbol in self._symbols(account):
            position = self.holding(account, symbol)
            if position is not None:
                held[symbol] = position
        return held

    def _symbols(self, account: str) -> list[str]:
        found: list[str] | None = self._get(f"s:{account}".encode(), json.loads)
        return [] if found is None else found

    def put_holding(self, position: Position) -> None:
        self._put(b"h:" + position.key, position, Position.dumps)
        symbols = self._symbols(position.account)
        if position.symbol not in symbols:
            self._put(f"s:{position.account}".encode(), [*symbols, position.symbol], _json)

    def trading(self) -> TradingStates:
        found: TradingStates | None = self._get(STATES, TradingStates.model_validate_json)
        return NO_STATES if found is None else found

    def put_trading(self, states: TradingStates) -> None:
        self._put(STATES, states, _model_json)

    def risk(self, account: str) -> AccountRisk | None:
        found: AccountRisk | None = self._get(
            f"r:{account}".encode(), AccountRisk.model_validate_json
        )
        return found

    def put_risk(self, risk: AccountRisk) -> None:
        self._put(f"r:{risk.account}".encode(), risk, AccountRisk.dumps)

    def seen(self, order_id: str) -> bool:
        return self._get(f"o:{order_id}".encode(), bytes) is not None

    def see(self, order_id: str) -> None:
        self._put(f"o:{order_id}".encode(), b"1", bytes)

    def venue_order(self, order_id: str) -> WorkingOrder | None:
        found: WorkingOrder | None = self._get(VENUE + order_id.encode(), WorkingOrder.loads)
        return found

    def put_venue_order(self, state: WorkingOrder) -> None:
        """Followed while open; a closed order's key is deleted."""
        key = VENUE + state.order_id.encode()
        self._put(key, state, WorkingOrder.dumps if state.is_open else _deleted)

    def applied(self) -> int:
        """The offset of the last record applied to this partition (-1: none)."""
        if self._applied is None:
            raw = self.writes.get(books, self.partition, APPLIED)
            self._applied = -1 if raw is None else int(raw)
        return self._applied

    def set_applied(self, offset: int) -> None:
        """Staged by :meth:`flush`, as the partition's last write."""
        self._applied = offset


NO_STATES = TradingStates()  # immutable: shared


@functools.lru_cache(maxsize=4096)
def _empty_book(symbol: str) -> Book:
    """A symbol's book before anything happened in it (immutable: shared)."""
    return Book(symbol=symbol)


def _deleted(value: Any) -> None:
    return None


def followed_orders(partition: int) -> list[WorkingOrder]:
    """The orders at an external venue that one partition of this worker follows."""
    db = partition_db(books, partition)
    out = []
    for key, raw in db.items(from_key=VENUE):
        if not bytes(key).startswith(VENUE):
            break
        out.append(WorkingOrder.loads(raw))
    return out


def holdings_of(partition: int) -> list[Position]:
    """The executed positions one partition of this worker holds."""
    db = partition_db(books, partition)
    out = []
    for key, raw in db.items(from_key=b"h:"):
        if not bytes(key).startswith(b"h:"):
            break
        out.append(Position.loads(raw))
    return out


def _json(value: Any) -> bytes:
    return json.dumps(value).encode()


def _model_json(value: Any) -> bytes:
    encoded: bytes = value.model_dump_json().encode()
    return encoded


def trading_states(partition: int) -> TradingStates | None:
    """The trading states as one partition of this worker has them (None: not here)."""
    raw = partition_get(books, partition, STATES)
    return None if raw is None else TradingStates.model_validate_json(raw)
