"""HTTP views of the worker, grouped in blueprints."""

from __future__ import annotations

import faust


def register(app: faust.App) -> None:
    from app.web import http_errors
    from app.web.health import blueprint as health
    from app.web.openapi import blueprint as openapi
    from app.web.queries import blueprint as queries
    from app.web.trading import blueprint as trading
    from app.web.webhook import blueprint as webhook

    health.register(app, url_prefix="")
    webhook.register(app, url_prefix="/webhook")
    openapi.register(app, url_prefix="")
    queries.register(app, url_prefix="")
    trading.register(app, url_prefix="")
    http_errors.install()
