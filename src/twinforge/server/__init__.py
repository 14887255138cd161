"""``twinforge serve``: the HTTP/WebSocket API (:mod:`twinforge.server.api`) and the web app
(``web/``, static files calling that API) over one :class:`~twinforge.app.Workspace`."""

from twinforge.server.api import create_app

__all__ = ["create_app"]
