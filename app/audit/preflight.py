"""Before the worker starts: create or migrate the audit schema, or stop on a newer one.

A store that does not answer does not stop the worker (the sink waits for it and
migrates then); a schema newer than the code does, with one line (``SchemaTooNew``).
"""

from __future__ import annotations

import asyncio
import logging

from app.audit.errors import StoreUnavailable
from app.audit.store import open_store, redact
from app.settings import Settings

log = logging.getLogger(__name__)


async def _migrate(url: str) -> int:
    store = open_store(url)
    try:
        return await store.migrate()
    finally:
        await store.close()


def check_schema(settings: Settings) -> None:
    if not settings.audit_sink:
        return
    url = settings.audit_store_url
    try:
        version = asyncio.run(_migrate(url))
    except StoreUnavailable as exc:
        log.warning("audit store %s not reachable at start (%s): the sink will wait for it",
                    redact(url), exc.reason)  # fmt: skip
        return
    log.info("audit store %s at schema version %d", redact(url), version)
