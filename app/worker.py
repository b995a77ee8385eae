"""The worker class the Faust CLI runs: Faust's own, minus a costly terminal spinner,
plus a fast restore of the tables before Faust's own recovery (``app.restore``) and a
drain of the webhook before Faust stops on SIGTERM (``app.lifecycle``)."""

from __future__ import annotations

import asyncio
import logging
import signal

import faust

log = logging.getLogger(__name__)


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

    def _schedule_shutdown(self, signal: signal.Signals) -> None:
        """On SIGTERM/SIGINT: drain the webhook first (``app.lifecycle``), then Faust's stop."""
        from app.lifecycle import drain
        from app.main import settings

        if drain.draining:
            return
        drain.begin(settings.shutdown_timeout_seconds)
        stop = super()._schedule_shutdown

        async def drain_then_stop() -> None:
            if not await drain.idle(settings.request_deadline_seconds + 1):
                log.warning("requests still in flight after their deadline; stopping")
            stop(signal)

        self._drain_future = asyncio.ensure_future(drain_then_stop())
