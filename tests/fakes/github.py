"""A local fake GitHub for tests: the REST shapes StellarFlow calls (repos, pulls, pull files with patches, reviews,
review comments, refs, statuses) and git over smart HTTP (`git http-backend` as CGI, tests/fakes/git_http.py) on
one 127.0.0.1 port, so cloning and pushing are real. Repositories are bare repositories under `root`
(`<owner>/<name>.git`); a pull request is a head and a base branch of one, its head also published as
`refs/pull/N/head` like GitHub does. With `token` set, REST calls need `Authorization: Bearer|token <token>` and
git calls `Basic base64(x-access-token:<token>)`. Every request's path and Authorization header is recorded, and
reviews are checked like GitHub checks them: a comment off the diff's new lines is a 422."""

from __future__ import annotations

import base64
import json
import re
import subprocess
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from core.github.findings import added_lines
from tests.fakes.git_http import http_backend


def _git(bare: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=bare, check=True, capture_output=True, text=True).stdout


@dataclass
class Pull:
    number: int
    repository: str
    head: str
    base: str
    title: str = "A change"
    body: str = ""
    reviews: list[dict[str, Any]] = field(default_factory=list)


class FakeGitHub:
    def __init__(self, root: Path, token: str | None = None) -> None:
        self.root = root
        self.token = token
        self.requests: list[tuple[str, str, str | None]] = []  # (method, path, Authorization)
        self.pulls: dict[tuple[str, int], Pull] = {}
        self.statuses: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_: object) -> None:
                pass

            def _serve(self) -> None:
                auth = self.headers.get("Authorization")
                with fake._lock:
                    fake.requests.append((self.command, self.path, auth))
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                if ".git/" in self.path:
                    self._git(auth, body)
                else:
                    status, answer = fake._rest(self.command, self.path.partition("?")[0], auth, body)
                    payload = json.dumps(answer).encode()
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)

            def _git(self, auth: str | None, body: bytes) -> None:
                if fake.token is not None:
                    wanted = "Basic " + base64.b64encode(f"x-access-token:{fake.token}".encode()).decode()
                    if auth != wanted:
                        self.send_response(401)
                        self.send_header("WWW-Authenticate", 'Basic realm="GitHub"')
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                status, headers, payload = http_backend(fake.root, self.command, self.path,
                                                        self.headers.get("Content-Type", ""), body,
                                                        remote_user="x-access-token")
                self.send_response(status)
                for name, value in headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PATCH = _serve  # noqa: N815

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    # ---- set-up --------------------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def bare(self, repository: str) -> Path:
        return self.root / f"{repository}.git"

    def add_pull(self, repository: str, number: int, head: str, base: str = "main", title: str = "A change") -> Pull:
        bare = self.bare(repository)
        _git(bare, "update-ref", f"refs/pull/{number}/head", _git(bare, "rev-parse", f"refs/heads/{head}").strip())
        pull = self.pulls[(repository, number)] = Pull(number, repository, head, base, title)
        return pull

    def __enter__(self) -> FakeGitHub:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    # ---- REST ----------------------------------------------------------------------------------------------
    def _authorised(self, auth: str | None) -> bool:
        return self.token is None or auth in (f"Bearer {self.token}", f"token {self.token}")

    def _repo(self, repository: str) -> dict[str, Any]:
        bare = self.bare(repository)
        default = _git(bare, "symbolic-ref", "--short", "HEAD").strip()
        owner, name = repository.split("/")
        return {"id": abs(hash(repository)) % 10**8, "name": name, "full_name": repository,
                "owner": {"login": owner}, "private": False, "default_branch": default,
                "html_url": f"{self.url}/{repository}", "clone_url": f"{self.url}/{repository}.git",
                "url": f"{self.url}/repos/{repository}"}

    def _files(self, pull: Pull) -> list[dict[str, Any]]:
        bare = self.bare(pull.repository)
        base = _git(bare, "merge-base", f"refs/heads/{pull.base}", f"refs/heads/{pull.head}").strip()
        files = []
        for line in _git(bare, "diff", "--name-status", base, f"refs/heads/{pull.head}").splitlines():
            code, name = line.split("\t", 1)
            status = {"A": "added", "D": "removed", "M": "modified"}.get(code[0], "modified")
            patch = _git(bare, "diff", "--unified=3", base, f"refs/heads/{pull.head}", "--", name)
            hunks = patch[patch.index("@@"):] if "@@" in patch else ""
            files.append({"filename": name, "status": status, "patch": hunks})
        return files

    def _pull(self, pull: Pull) -> dict[str, Any]:
        bare = self.bare(pull.repository)
        repo = self._repo(pull.repository)
        return {"number": pull.number, "title": pull.title, "body": pull.body, "state": "open",
                "html_url": f"{self.url}/{pull.repository}/pull/{pull.number}",
                "head": {"ref": pull.head, "sha": _git(bare, "rev-parse", f"refs/heads/{pull.head}").strip(),
                         "repo": repo},
                "base": {"ref": pull.base, "sha": _git(bare, "rev-parse", f"refs/heads/{pull.base}").strip(),
                         "repo": repo}}

    def _rest(self, method: str, path: str, auth: str | None, body: bytes) -> tuple[int, Any]:
        if not self._authorised(auth):
            return 401, {"message": "Bad credentials"}
        match = re.match(r"^/repos/([^/]+/[^/]+)(/.*)?$", path)
        if not match or not self.bare(match[1]).is_dir():
            return 404, {"message": "Not Found"}
        repository, rest = match[1], match[2] or ""
        if rest == "" and method == "GET":
            return 200, self._repo(repository)
        if pulled := re.match(r"^/pulls/(\d+)(/files|/reviews|/comments)?$", rest):
            pull = self.pulls.get((repository, int(pulled[1])))
            if pull is None:
                return 404, {"message": "Not Found"}
            part = pulled[2]
            if part is None and method == "GET":
                return 200, self._pull(pull)
            if part is None and method == "PATCH":
                update = json.loads(body or b"{}")
                pull.title, pull.body = update.get("title", pull.title), update.get("body", pull.body)
                return 200, self._pull(pull)
            if part == "/files" and method == "GET":
                return 200, self._files(pull)
            if part == "/reviews" and method == "GET":
                return 200, pull.reviews
            if part == "/comments" and method == "GET":
                return 200, [c for review in pull.reviews for c in review["comments"]]
            if part == "/reviews" and method == "POST":
                return self._review(pull, json.loads(body or b"{}"))
        if refs := re.match(r"^/git/refs?/(heads/.+)$", rest):
            try:
                sha = _git(self.bare(repository), "rev-parse", f"refs/{refs[1]}").strip()
            except subprocess.CalledProcessError:
                return 404, {"message": "Not Found"}
            return 200, {"ref": f"refs/{refs[1]}", "object": {"sha": sha, "type": "commit"}}
        if status := re.match(r"^/statuses/([0-9a-f]{40})$", rest):
            if method == "POST":
                entry = {"sha": status[1], **json.loads(body or b"{}")}
                self.statuses.append(entry)
                return 201, entry
        return 404, {"message": "Not Found"}

    def _review(self, pull: Pull, request: dict[str, Any]) -> tuple[int, Any]:
        diff = {f["filename"]: added_lines(f["patch"]) for f in self._files(pull)}
        for comment in request.get("comments", []):
            if comment.get("line") not in diff.get(comment.get("path"), set()):
                return 422, {"message": "Unprocessable Entity",
                             "errors": ["Pull request review thread line must be part of the diff"]}
        review_id = len(pull.reviews) + 1
        review = {"id": review_id, "state": "COMMENTED", "body": request.get("body", ""),
                  "commit_id": request.get("commit_id"), "event": request.get("event"),
                  "html_url": f"{self.url}/{pull.repository}/pull/{pull.number}#pullrequestreview-{review_id}",
                  "comments": [{**c, "pull_request_review_id": review_id} for c in request.get("comments", [])]}
        pull.reviews.append(review)
        return 200, review
