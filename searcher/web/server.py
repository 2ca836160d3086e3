"""``searcher serve``: the application on uvicorn, on a socket bound here.

The socket is bound before uvicorn starts, so a port in use is one clear error (not a
log line and a retry), and ``--port 0`` can report the port it got.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import sys
import threading
import webbrowser
from pathlib import Path

from searcher.errors import SearcherError

LOOPBACK_NAMES = ["127.0.0.1", "localhost", "::1", "[::1]"]


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host``:``port``; ``SearcherError`` if that fails."""
    try:
        infos = socket.getaddrinfo(host.strip("[]"), port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise SearcherError(f"cannot listen on {host}: {exc.strerror}") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise SearcherError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.set_inheritable(True)
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    if ":" in host:
        host = f"[{host}]"
    if host in ("0.0.0.0", "[::]"):
        host = "127.0.0.1"
    return f"http://{host}:{port}/"


def serve(index_dir: Path, corpus_dir: Path, host: str = "127.0.0.1", port: int = 8750, open_browser: bool = False) -> None:
    """Serve the index at ``index_dir`` until interrupted."""
    import uvicorn

    from searcher.web.app import create_app

    logging.basicConfig(stream=sys.stderr, level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    loopback = is_loopback(host)
    app = create_app(index_dir, corpus_dir, allowed_hosts=LOOPBACK_NAMES if loopback else None)
    sock = bind(host, port)
    url = url_of(sock)
    if not loopback:
        print(
            f"Warning: listening on {host}: anyone who can reach this machine on port "
            f"{sock.getsockname()[1]} can read the index",
            file=sys.stderr,
        )
    print(f"Serving {index_dir} at {url} (Ctrl+C to stop)", file=sys.stderr, flush=True)
    if open_browser:
        threading.Timer(0.5, webbrowser.open, args=(url,)).start()
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off", server_header=False)
    try:
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        sock.close()
        app.state.library.close()
