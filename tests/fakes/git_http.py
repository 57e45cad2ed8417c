"""A git server over HTTP for tests: `git http-backend` run as CGI behind a tiny threaded HTTP server on 127.0.0.1,
serving the bare repositories under one folder (smart HTTP, what GitHub speaks). It records every request's path
and Authorization header, so tests can check a token travelled as a header and never in a URL; with `token` set it
answers 401 to requests without `Authorization: Basic base64(x-access-token:<token>)`."""

from __future__ import annotations

import base64
import os
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


def http_backend(root: Path, method: str, raw_path: str, content_type: str, body: bytes, *,
                 remote_user: str | None = None) -> tuple[int, list[tuple[str, str]], bytes]:
    """One request through `git http-backend` (CGI) over the bare repositories under `root`: (status, headers,
    payload). With `remote_user`, pushes (receive-pack) are allowed too."""
    path, _, query = raw_path.partition("?")
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "GIT_PROJECT_ROOT": str(root),
           "GIT_HTTP_EXPORT_ALL": "1", "PATH_INFO": path, "QUERY_STRING": query,
           "REQUEST_METHOD": method, "CONTENT_TYPE": content_type,
           "CONTENT_LENGTH": str(len(body)), "REMOTE_ADDR": "127.0.0.1"}
    if remote_user:
        env["REMOTE_USER"] = remote_user
    done = subprocess.run(["git", "http-backend"], input=body, env=env, capture_output=True, timeout=60)
    head, _, payload = done.stdout.partition(b"\r\n\r\n")
    status = 200
    headers = []
    for line in head.decode("latin-1").split("\r\n"):
        name, _, value = line.partition(":")
        if name.lower() == "status":
            status = int(value.strip().split()[0])
        elif name:
            headers.append((name, value.strip()))
    return status, headers, payload


class GitHttpServer:
    def __init__(self, root: Path, token: str | None = None) -> None:
        self.root = root
        self.token = token
        self.requests: list[tuple[str, str | None]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_: object) -> None:
                pass

            def _serve(self) -> None:
                auth = self.headers.get("Authorization")
                fake.requests.append((self.path, auth))
                if fake.token is not None:
                    wanted = "Basic " + base64.b64encode(f"x-access-token:{fake.token}".encode()).decode()
                    if auth != wanted:
                        self.send_response(401)
                        self.send_header("WWW-Authenticate", 'Basic realm="git"')
                        self.end_headers()
                        return
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                status, headers, payload = http_backend(fake.root, self.command, self.path,
                                                        self.headers.get("Content-Type", ""), body)
                self.send_response(status)
                for name, value in headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = _serve  # noqa: N815
            do_POST = _serve  # noqa: N815

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> GitHttpServer:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.server.shutdown()
        self.server.server_close()
