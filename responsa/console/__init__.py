"""The web console at `/console`: responses, conversations, background jobs, files and vector
stores, recordings, and a playground, for a person to look at rather than read JSON.

    if console.enabled(settings):       # in create_app: the routes
        console.install(app)
    console.start(app, settings, guard, sealer)   # in the lifespan: sessions and issuer sign-in

Pages are rendered on the server (`pages.py`, Jinja2 templates in `templates/`); the little
JavaScript in `static/console.js` signs in, cancels jobs, follows live streams with EventSource
and runs the playground through `actions.py`. The console reads through the same `Store` and
engine as the API, under the same authentication (`auth/sessions.py`: a session cookie).
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from fastapi import FastAPI
from starlette.responses import RedirectResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from responsa.auth.guard import Guard, is_console, is_loopback
from responsa.auth.oidc_login import OidcLogin
from responsa.auth.sessions import Sessions
from responsa.config import Settings
from responsa.console import actions, pages
from responsa.crypto import Sealer
from responsa.errors import ResponsaError, Unauthorized

STATIC = Path(__file__).parent / "static"


def enabled(settings: Settings) -> bool:
    """On unless set off; by default only on a server bound to loopback (elsewhere, set
    `console: true` to serve it, behind the API's authentication)."""
    if settings.console is not None:
        return settings.console
    return is_loopback(settings.bind_host)


def install(app: FastAPI) -> None:
    app.include_router(actions.router)
    app.include_router(pages.router)
    app.mount("/console/static", StaticFiles(directory=STATIC), name="console-static")


def start(app: FastAPI, settings: Settings, guard: Guard, sealer: Sealer) -> None:
    """At start, once the server key is known: the guard reads session cookies, and the
    sign-in page offers the issuer when `auth.oidc.console_client_id` is set."""
    guard.sessions = Sessions(sealer)
    oidc = settings.oidc
    app.state.oidc_login = OidcLogin(oidc, sealer) if oidc is not None and oidc.console_client_id else None


def refused(scope: Scope, error: ResponsaError) -> Response | None:
    """A page load the guard refused for want of a session goes to the sign-in page; anything
    else (a script's call, another refusal) gets the API's JSON error."""
    path = scope["path"]
    if not isinstance(error, Unauthorized) or scope.get("method") != "GET":
        return None
    if not is_console(path) or path.startswith("/console/api/"):
        return None
    return RedirectResponse(f"/console/login?next={quote(path)}", status_code=303)
