"""Pure logic turning a signal into an order and an order into a fill."""

from __future__ import annotations

from app.ids import fill_id_for, order_id_for
from app.models import Fill, Order, Signal


def order_for(signal: Signal) -> Order:
    """The one order a signal causes; same signal, same order, byte for byte."""
    return Order(
        order_id=order_id_for(signal.signal_id),
        signal_id=signal.signal_id,
        account=signal.account,
        strategy=signal.strategy,
        symbol=signal.symbol,
        side=signal.side,
        quantity=signal.quantity,
        order_type=signal.order_type,
        limit_price=signal.limit_price,
        stop_price=signal.stop_price,
        price=signal.price,
        time_in_force=signal.time_in_force,
        created_at=signal.received_at,
    )


def immediate_fill(order: Order) -> Fill:
    """Fill the whole order at once: at its limit, else its stop, else its reference price."""
    price = order.limit_price or order.stop_price or order.price
    if price is None:  # guarded by SignalIn's validation; kept for orders from elsewhere
        raise ValueError(f"order {order.order_id} has no price to fill at")
    return Fill(
        fill_id=fill_id_for(order.order_id),
        order_id=order.order_id,
        signal_id=order.signal_id,
        account=order.account,
        symbol=order.symbol,
        side=order.side,
        quantity=order.quantity,
        price=price,
        order_quantity=order.quantity,
        filled_at=order.created_at,
    )
