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
- ``a:``: the offset of the last ``orders`` record applied here.

A batch's writes reach the table only after every record it produced is acknowledged,
and ``a:`` is written last: a record at or below ``a:`` is applied and its records are in
the log, so a redelivery skips it.
"""

from __future__ import annotations

import json

from app.main import app, settings
from app.positions import Position
from app.tables import partition_get, raw_table
from app.tables.batch import PartitionWrites
from app.trading.engine import Book
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
STATES = b"t:"


class PartitionStore:
    """The :class:`app.trading.engine.Store` of one partition, over a batch's writes."""

    def __init__(self, writes: PartitionWrites, partition: int) -> None:
        self.writes = writes
        self.partition = partition

    def _get(self, key: bytes) -> bytes | None:
        return self.writes.get(books, self.partition, key)

    def _put(self, key: bytes, value: bytes) -> None:
        self.writes.put(books, self.partition, key, value)

    def book(self, symbol: str) -> Book:
        raw = self._get(b"b:" + symbol.encode())
        return Book(symbol=symbol) if raw is None else Book.model_validate_json(raw)

    def put_book(self, book: Book) -> None:
        self._put(b"b:" + book.symbol.encode(), book.dumps())

    def holding(self, account: str, symbol: str) -> Position | None:
        raw = self._get(f"h:{account}|{symbol}".encode())
        return None if raw is None else Position.loads(raw)

    def holdings(self, account: str) -> dict[str, Position]:
        held = {}
        for symbol in self._symbols(account):
            position = self.holding(account, symbol)
            if position is not None:
                held[symbol] = position
        return held

    def _symbols(self, account: str) -> list[str]:
        raw = self._get(f"s:{account}".encode())
        return [] if raw is None else json.loads(raw)

    def put_holding(self, position: Position) -> None:
        self._put(b"h:" + position.key, position.dumps())
        symbols = self._symbols(position.account)
        if position.symbol not in symbols:
            symbols.append(position.symbol)
            self._put(f"s:{position.account}".encode(), json.dumps(symbols).encode())

    def trading(self) -> TradingStates:
        raw = self._get(STATES)
        return TradingStates() if raw is None else TradingStates.model_validate_json(raw)

    def put_trading(self, states: TradingStates) -> None:
        self._put(STATES, states.model_dump_json().encode())

    def risk(self, account: str) -> AccountRisk | None:
        raw = self._get(f"r:{account}".encode())
        return None if raw is None else AccountRisk.model_validate_json(raw)

    def put_risk(self, risk: AccountRisk) -> None:
        self._put(f"r:{risk.account}".encode(), risk.dumps())

    def seen(self, order_id: str) -> bool:
        return self._get(f"o:{order_id}".encode()) is not None

    def see(self, order_id: str) -> None:
        self._put(f"o:{order_id}".encode(), b"1")

    def applied(self) -> int:
        """The offset of the last record applied to this partition (-1: none)."""
        raw = self._get(APPLIED)
        return -1 if raw is None else int(raw)

    def set_applied(self, offset: int) -> None:
        self.writes.restage_last(books, self.partition, APPLIED, str(offset).encode())


def trading_states(partition: int) -> TradingStates | None:
    """The trading states as one partition of this worker has them (None: not here)."""
    raw = partition_get(books, partition, STATES)
    return None if raw is None else TradingStates.model_validate_json(raw)
