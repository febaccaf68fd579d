"""The Graph emulator's HTTP side: the request handler (a request read, handed to ``GraphEmulator.handle``,
logged, answered; or its connection reset when a fault drops it), and the TLS certificates the server presents
(made once per process, RSA keys being slow to make).
"""

from __future__ import annotations

import json
import socket
import tempfile
import threading
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from requests.structures import CaseInsensitiveDict

from tests.graph.emulator_protocol import JSON_TYPE, Request, _Dropped
from tests.graph.tls import make_certificates

if TYPE_CHECKING:
    from tests.graph.emulator import GraphEmulator

_CERTIFICATES: dict[str, bytes] = {}
_CERTIFICATES_LOCK = threading.Lock()


def _certificates(folder: Path) -> tuple[Path, Path, Path]:
    """The CA and server files in ``folder``: made once per process (RSA keys are slow to make), then copied."""
    with _CERTIFICATES_LOCK:
        if not _CERTIFICATES:
            made = make_certificates(Path(tempfile.mkdtemp(prefix="graph-emulator-tls-")))
            _CERTIFICATES.update((path.name, path.read_bytes()) for path in made)
    folder.mkdir(parents=True, exist_ok=True)
    paths = tuple(folder / name for name in ("ca.pem", "server.pem", "server.key"))
    for path in paths:
        path.write_bytes(_CERTIFICATES[path.name])
    return paths  # type: ignore[return-value]


class _Handler(BaseHTTPRequestHandler):
    graph: GraphEmulator
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go in two writes: without it, 40 ms per request

    def log_message(self, format: str, *args: Any) -> None:  # quiet: the JSON log says what happened
        pass

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_PATCH(self) -> None:
        self._serve("PATCH")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def _serve(self, method: str) -> None:
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        body = _body(raw, self.headers.get("Content-Type", ""))
        request = Request(method, url.path, query, CaseInsensitiveDict(self.headers.items()), body)
        entry = {"method": method, "path": url.path, "query": query, "headers": dict(self.headers), "body": body}
        try:
            reply = self.graph.handle(request)
        except _Dropped:
            self.graph.record({**entry, "status": None})
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)  # a reset: no answer at all
            return
        self.graph.record({**entry, "status": reply.status})
        data = b"" if reply.body is None else json.dumps(reply.body).encode()
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        if data:
            self.send_header("Content-Type", JSON_TYPE if url.path.startswith("/v1.0/") else "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def _body(raw: bytes, content_type: str) -> Any:
    if not raw:
        return None
    if "application/x-www-form-urlencoded" in content_type:
        return {k: v[-1] for k, v in parse_qs(raw.decode()).items()}
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode(errors="replace")
