"""Optuna's own dashboard for a study, served on loopback from a background thread, read-only.

``lab tune --dashboard`` and ``lab sweep --dashboard`` print its address; a notebook
calls ``show(storage)`` to see the study live, inline, while workers add trials.
One server per storage URL per process: asking again returns the running one.

optuna-dashboard has no authentication, and its API deletes studies, renames them and
tells trials. Two guards sit in front of it (``guarded``): only GET and HEAD pass (a
viewer never needs more; a write is 405), and only a loopback Host header does
(127.0.0.1, localhost or [::1], with this server's port): a web page that rebinds its own
domain name to 127.0.0.1 sends its own name as Host and is refused (403).
"""

from __future__ import annotations

import socketserver
import threading
from dataclasses import dataclass
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from lab.search.storage import check_url, driver_url, storage_errors

HOST = "127.0.0.1"
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
READ_METHODS = ("GET", "HEAD")
_servers: dict[str, Dashboard] = {}
_lock = threading.Lock()


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
        """No access log on stderr: a notebook cell or a training log would fill with it."""


class _ThreadingServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True  # the browser polls; a slow request must not hold the others or the process


@dataclass
class Dashboard:
    """A running optuna-dashboard: its address and how to stop it."""

    url: str
    storage: str
    server: Any
    thread: threading.Thread

    def study_url(self, study_id: int = 1) -> str:
        return f"{self.url}studies/{study_id}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)
        with _lock:
            if _servers.get(self.storage) is self:
                del _servers[self.storage]


def serve(storage: str, port: int = 0) -> Dashboard:
    """Serve optuna-dashboard for this storage URL on 127.0.0.1 (a free port unless given); reuse a running one."""
    import optuna_dashboard

    check_url(storage)
    url = driver_url(storage)
    with _lock:
        if url in _servers:
            return _servers[url]
        with storage_errors(url):
            from lab.search.storage import open_storage

            app = optuna_dashboard.wsgi(open_storage(url, heartbeat=None))
        server = make_server(HOST, port, _refuse_all, server_class=_ThreadingServer, handler_class=_QuietHandler)
        server.set_app(guarded(app, server.server_port))
        thread = threading.Thread(target=server.serve_forever, name="optuna-dashboard", daemon=True)
        thread.start()
        dashboard = Dashboard(f"http://{HOST}:{server.server_port}/dashboard/", url, server, thread)
        _servers[url] = dashboard
        return dashboard


def guarded(app: Any, port: int) -> Any:
    """The WSGI app behind the two guards: read-only methods, and a loopback Host with this port."""

    def guarded_app(environ: dict[str, Any], start_response: Any) -> Any:
        host = environ.get("HTTP_HOST", "")
        if not loopback_host(host, port):
            return _refuse(start_response, "403 Forbidden", f"Host {host!r} refused: this dashboard answers only "
                           f"http://127.0.0.1:{port}, http://localhost:{port} or http://[::1]:{port}")
        if environ.get("REQUEST_METHOD", "GET").upper() not in READ_METHODS:
            return _refuse(start_response, "405 Method Not Allowed", "this dashboard is read-only: only GET and "
                           "HEAD are allowed", [("Allow", ", ".join(READ_METHODS))])
        return app(environ, start_response)

    return guarded_app


def loopback_host(host: str, port: int) -> bool:
    """A Host header naming this machine's loopback, with this port (a browser always sends a non-default one)."""
    name, sep, given = host.rpartition(":")
    return bool(sep) and name.lower() in LOOPBACK_NAMES and given == str(port)


def _refuse(start_response: Any, status: str, message: str, headers: list[tuple[str, str]] | None = None
            ) -> list[bytes]:
    body = f"{message}\n".encode()
    start_response(status, [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body))),
                            *(headers or [])])
    return [body]


def _refuse_all(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    """The app until the guarded one is in place (make_server needs one before the port is known)."""
    return _refuse(start_response, "503 Service Unavailable", "starting")


def show(storage: str, height: int = 640, port: int = 0) -> Any:
    """The dashboard inline in a notebook (an IFrame), served from this kernel on loopback."""
    from IPython.display import IFrame

    return IFrame(serve(storage, port).url, width="100%", height=height)
