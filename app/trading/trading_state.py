"""Trading states, like NautilusTrader's: ACTIVE, REDUCING, HALTED, per account and global.

- ``active``: every order that passes the other checks may trade.
- ``reducing``: only orders that reduce a position pass (never one that opens, adds or
  crosses through zero).
- ``halted``: no order passes.

An account's effective state is the stricter of its own and the global state. The kill
switch changes a state with a :class:`TradingStateChange`: an event (for a log and a
changelog-backed table; the wiring is not here) whose application is idempotent and
order-independent for redeliveries: a change is applied only if it is newer than the one
that set the current state (``at``, then ``change_id`` to break ties), so replaying the
log any number of times gives the same states.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from app.models import Name

GLOBAL = "*"
"""The scope of the global state."""


class TradingState(StrEnum):
    ACTIVE = "active"
    REDUCING = "reducing"
    HALTED = "halted"

    @property
    def strictness(self) -> int:
        return _STRICTNESS[self]


_STRICTNESS = {TradingState.ACTIVE: 0, TradingState.REDUCING: 1, TradingState.HALTED: 2}


def stricter(a: TradingState, b: TradingState) -> TradingState:
    return a if a.strictness >= b.strictness else b


class TradingStateRequest(BaseModel):
    """The body of ``POST /trading-state``: the change an operator asks for."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    scope: Name | Literal["*"] = Field("*", description="An account, or * for every account.")
    state: TradingState
    reason: str = Field("", max_length=500)


class TradingStateChange(BaseModel):
    """A kill-switch command: set ``scope`` (an account, or ``*`` for all) to ``state``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    v: Literal[1] = 1
    change_id: str = Field(min_length=1, max_length=128)
    scope: Name | Literal["*"]
    state: TradingState
    reason: str = Field("", max_length=500)
    actor: str = Field("", max_length=128, description="Who asked (token name, CLI user).")
    at: AwareDatetime

    def dumps(self) -> bytes:
        return self.model_dump_json().encode()


class ScopeState(BaseModel):
    """The state of one scope and the change that set it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    state: TradingState = TradingState.ACTIVE
    change_id: str | None = None
    reason: str = ""
    at: datetime | None = None


class TradingStates(BaseModel):
    """Every scope's state; scopes never changed are ACTIVE."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    scopes: dict[str, ScopeState] = {}

    def of(self, scope: str) -> TradingState:
        found = self.scopes.get(scope)
        return found.state if found else TradingState.ACTIVE

    @property
    def global_state(self) -> TradingState:
        return self.of(GLOBAL)

    def effective(self, account: str) -> TradingState:
        """The state an order of ``account`` is checked against."""
        return stricter(self.global_state, self.of(account))


def _newer(change: TradingStateChange, current: ScopeState) -> bool:
    if current.at is None or current.change_id is None:
        return True
    return (change.at, change.change_id) > (current.at, current.change_id)


def apply_change(states: TradingStates, change: TradingStateChange) -> tuple[TradingStates, bool]:
    """The states after ``change``, and whether it changed anything (False: a redelivery or
    a change older than the scope's current one)."""
    current = states.scopes.get(change.scope, ScopeState())
    if not _newer(change, current):
        return states, False
    new = ScopeState(
        state=change.state, change_id=change.change_id, reason=change.reason, at=change.at
    )
    return TradingStates(scopes={**states.scopes, change.scope: new}), True
