"""Errors of the audit store (under the one root, ``app.errors.AtStreamError``)."""

from __future__ import annotations

from app.errors import AtStreamError, ProblemError


class AuditError(AtStreamError):
    """Something about the audit store."""


class StoreUnavailable(AuditError):
    """The database did not answer or refused the operation (retry later)."""

    def __init__(self, url: str, reason: str) -> None:
        self.url = url
        self.reason = reason
        super().__init__(f"audit store {url} unavailable: {reason}")


class SchemaTooNew(AuditError):
    """The database's schema is newer than this code knows: start-up stops."""

    def __init__(self, url: str, found: int, known: int) -> None:
        self.found = found
        self.known = known
        super().__init__(
            f"audit store {url} has schema version {found}, this at-stream knows up to "
            f"{known}: upgrade at-stream, or point AT_STREAM_AUDIT_URL at another database"
        )


class StoreDown(ProblemError):
    status, slug, title = 503, "audit-store-unavailable", "The audit store is unavailable"
