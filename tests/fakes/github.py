"""A local fake GitHub for tests: the REST shapes StellarFlow calls (repos, pulls, pull files with patches, reviews,
review comments, refs, statuses) and git over smart HTTP (`git http-backend` as CGI, tests/fakes/git_http.py) on
one 127.0.0.1 port, so cloning and pushing are real. Repositories are bare repositories under `root`
(`<owner>/<name>.git`); a pull request is a head and a base branch of one, its head also published as
`refs/pull/N/head` like GitHub does. With `token` set, REST calls need `Authorization: Bearer|token <token>` and
git calls `Basic base64(x-access-token:<token>)`. Every request's path and Authorization header is recorded, and
reviews are checked like GitHub checks them: a comment off the diff's new lines is a 422.

With `app` (a `FakeApp`: its id, its public key, one installation) it is also the App's GitHub: the App's routes
(`GET /repos/{o}/{r}/installation`, `POST /app/installations/{id}/access_tokens`) need a JWT verified like GitHub
does (RS256 against the public key, `iss` = the App's id, at most 10 minutes long), and the installation tokens it
issues (limited to the repositories and `contents` permission asked for) are accepted by REST and git on those
repositories. Commit statuses are recorded (`statuses`), or refused with `refuse_statuses`."""

from __future__ import annotations

import base64
import json
import re
import secrets
import subprocess
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt

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


@dataclass
class FakeApp:
    """A GitHub App as GitHub knows it: its id, its public key (PEM), and its one installation, on `repositories`
    (owner/name)."""

    app_id: str
    public_key: str
    installation_id: int = 4242
    repositories: tuple[str, ...] = ()


@dataclass
class IssuedToken:
    token: str
    repositories: list[str]  # names (without the owner) the token is limited to; empty: all of the installation's
    permissions: dict[str, str]
    expires: float


class FakeGitHub:
    def __init__(self, root: Path, token: str | None = None, app: FakeApp | None = None) -> None:
        self.root = root
        self.token = token
        self.app = app
        self.requests: list[tuple[str, str, str | None]] = []  # (method, path, Authorization)
        self.pulls: dict[tuple[str, int], Pull] = {}
        self.statuses: list[dict[str, Any]] = []
        self.refuse_statuses = False
        self.issued: list[IssuedToken] = []  # installation tokens, oldest first
        self.jwts: list[str] = []  # the App JWTs it verified
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
                if fake.token is not None or fake.app is not None:
                    repository = self.path.partition(".git/")[0].lstrip("/")
                    write = "git-receive-pack" in self.path
                    if not fake._git_authorised(auth, repository, write):
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

    # ---- credentials ---------------------------------------------------------------------------------------
    def _installation_token(self, value: str | None, repository: str, write: bool = False) -> bool:
        """Whether `value` is an unexpired installation token for `repository` (and `contents: write` if asked)."""
        now = time.time()
        for issued in self.issued:
            if issued.token == value and issued.expires > now:
                name = repository.split("/", 1)[-1]
                in_scope = repository in (self.app.repositories if self.app else ()) and (
                    not issued.repositories or name in issued.repositories)
                contents = issued.permissions.get("contents", "write")
                return in_scope and (not write or contents == "write")
        return False

    def _authorised(self, auth: str | None, repository: str = "") -> bool:
        if self.token is None and self.app is None:
            return True
        if self.token is not None and auth in (f"Bearer {self.token}", f"token {self.token}"):
            return True
        scheme, _, value = (auth or "").partition(" ")
        return scheme in ("Bearer", "token") and self._installation_token(value, repository)

    def _git_authorised(self, auth: str | None, repository: str, write: bool) -> bool:
        scheme, _, value = (auth or "").partition(" ")
        try:
            user, _, password = base64.b64decode(value).decode().partition(":") if scheme == "Basic" else ("", "", "")
        except ValueError:
            return False
        if user != "x-access-token":
            return False
        if self.token is not None and password == self.token:
            return True
        return self._installation_token(password, repository, write)

    def _app_jwt(self, auth: str | None) -> bool:
        """A JWT as GitHub wants it from an App: RS256 with the App's key, `iss` its id, `exp` within 10 min."""
        if self.app is None or not (auth or "").startswith("Bearer "):
            return False
        token = (auth or "")[len("Bearer "):]
        try:
            claims = jwt.decode(token, self.app.public_key, algorithms=["RS256"],
                                options={"require": ["iat", "exp", "iss"]}, leeway=60)
        except jwt.PyJWTError:
            return False
        if str(claims["iss"]) != self.app.app_id or claims["exp"] - claims["iat"] > 660:
            return False
        with self._lock:
            self.jwts.append(token)
        return True

    def _app_rest(self, method: str, path: str, auth: str | None, body: bytes) -> tuple[int, Any] | None:
        """The App's own routes, or None when `path` is not one."""
        assert self.app is not None
        installation = re.match(r"^/repos/([^/]+/[^/]+)/installation$", path)
        tokens = re.match(r"^/app/installations/(\d+)/access_tokens$", path)
        if not installation and not tokens:
            return None
        if not self._app_jwt(auth):
            return 401, {"message": "A JSON web token could not be decoded"}
        if installation and method == "GET":
            if installation[1] not in self.app.repositories:
                return 404, {"message": "Not Found"}
            return 200, {"id": self.app.installation_id, "app_id": int(self.app.app_id),
                         "account": {"login": installation[1].split("/")[0]}, "repository_selection": "selected"}
        if tokens and method == "POST":
            if int(tokens[1]) != self.app.installation_id:
                return 404, {"message": "Not Found"}
            asked = json.loads(body or b"{}")
            names = [r.split("/")[-1] for r in self.app.repositories]
            wanted = list(asked.get("repositories") or [])
            if any(name not in names for name in wanted):
                return 422, {"message": "There is at least one repository that does not exist or is not accessible"}
            expires = datetime.now(UTC) + timedelta(hours=1)
            issued = IssuedToken("ghs_" + secrets.token_hex(18), wanted, dict(asked.get("permissions") or {}),
                                 expires.timestamp())
            with self._lock:
                self.issued.append(issued)
            return 201, {"token": issued.token, "expires_at": expires.strftime("%Y-%m-%dT%H:%M:%SZ"),
                         "permissions": issued.permissions or {"contents": "write", "pull_requests": "write",
                                                               "statuses": "write"},
                         "repository_selection": "selected"}
        return 404, {"message": "Not Found"}

    # ---- REST ----------------------------------------------------------------------------------------------

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
        if self.app is not None and (answer := self._app_rest(method, path, auth, body)) is not None:
            return answer
        match = re.match(r"^/repos/([^/]+/[^/]+)(/.*)?$", path)
        if not self._authorised(auth, match[1] if match else ""):
            return 401, {"message": "Bad credentials"}
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
                if self.refuse_statuses:
                    return 403, {"message": "Resource not accessible by integration"}
                entry = {"sha": status[1], "id": len(self.statuses) + 1, **json.loads(body or b"{}")}
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
