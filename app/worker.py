"""The worker class the Faust CLI runs: Faust's own, minus a costly terminal spinner."""

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

    def _setup_spinner_handler(self, logger: logging.Logger, level: int) -> None:
        self.spinner = None
