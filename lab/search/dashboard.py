"""Optuna's own dashboard for a study, served on loopback from a background thread.

``lab tune --dashboard`` and ``lab sweep --dashboard`` print its address; a notebook
calls ``show(storage)`` to see the study live, inline, while workers add trials.
One server per storage URL per process: asking again returns the running one.
"""

from __future__ import annotations

import socketserver
import threading
from dataclasses import dataclass
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from lab.search.storage import check_url, driver_url, storage_errors

HOST = "127.0.0.1"
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
        server = make_server(HOST, port, app, server_class=_ThreadingServer, handler_class=_QuietHandler)
        thread = threading.Thread(target=server.serve_forever, name="optuna-dashboard", daemon=True)
        thread.start()
        dashboard = Dashboard(f"http://{HOST}:{server.server_port}/dashboard/", url, server, thread)
        _servers[url] = dashboard
        return dashboard


def show(storage: str, height: int = 640, port: int = 0) -> Any:
    """The dashboard inline in a notebook (an IFrame), served from this kernel on loopback."""
    from IPython.display import IFrame

    return IFrame(serve(storage, port).url, width="100%", height=height)
