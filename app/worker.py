"""The worker class the Faust CLI runs: Faust's own, minus a costly terminal spinner,
plus a fast restore of the tables before Faust's own recovery (``app.restore``)."""

from __future__ import annotations

import logging

import faust


class Worker(faust.Worker):
    """``faust.Worker`` without the spinner.

    At log level WARN and above, Faust's worker draws a progress spinner that turns with
    every log record, and to feed it sets the root logger to DEBUG: every ``log.debug``
    of aiokafka and Faust (several per record produced) then builds a ``LogRecord`` that
    the handler drops. That cost ~10% of the worker's CPU in the chain benchmark.
    """

    async def on_first_start(self) -> None:
        await super().on_first_start()
        from app.main import settings  # the app is loaded by now
        from app.restore import restore_before_start

        if settings.fast_restore:
            await restore_before_start(self.app.tables.values(), settings.bootstrap)

    def _setup_spinner_handler(self, logger: logging.Logger, level: int) -> None:
        self.spinner = None
