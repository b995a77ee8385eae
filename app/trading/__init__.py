"""The trading domain: pure code, no Faust, no Kafka, no I/O (issue 12).

- :mod:`app.trading.orders`: the order as the execution step sees it (market, limit, stop,
  stop-limit; day, gtc, ioc, fok), its validation and its working state.
- :mod:`app.trading.events`: the versioned lifecycle events (accepted, rejected with a
  reason code, partially_filled, filled, cancelled, expired) and their JSON Schema.
- :mod:`app.trading.quotes`: top-of-book quotes (bid, ask, last, sizes) per symbol.
- :mod:`app.trading.venue_config`: the simulator's per-venue/symbol configuration file.
- :mod:`app.trading.fill_models`: slippage, fill probability, partial fills, latency,
  fees and venue rejects, each a pure, seeded function.
- :mod:`app.trading.matching`: one matching step, an order state and a quote in, the new
  state and its lifecycle events out.
- :mod:`app.trading.risk`: pre-trade risk checks (one reason code per failing check).
- :mod:`app.trading.trading_state`: ACTIVE / REDUCING / HALTED per account and global, and
  the kill switch's idempotent state changes.
- :mod:`app.trading.intents`: ``order`` / ``target_position`` / ``close`` intents,
  TradingView's ``strategy.position_size`` and the strategy-to-accounts fan-out.

Every function here is deterministic: the same inputs (and seed) give the same outputs,
byte for byte. Randomness is drawn from a hash of the seed and the order id, never from
global random state.
"""
