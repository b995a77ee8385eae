"""Venue adapters: where orders go to be executed (app/venues/base.py is the interface).

``alpaca``: Alpaca paper trading over its REST API (``app.venues.alpaca``). The fill
simulator, the default venue, implements the same interface.
"""
