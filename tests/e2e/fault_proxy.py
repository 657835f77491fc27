"""A loopback HTTP proxy between the action server and the escalation API that can make a
request slow *after* the API has handled it: the worst case for duplicate tickets."""
from __future__ import annotations

import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HOP_HEADERS = {"host", "connection", "content-length", "transfer-encoding", "accept-encoding"}


class FaultProxy:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.lock = threading.Lock()
        self.slow_posts: dict[str, float] = {}   # path prefix -> delay for the next such POST
        self.seen: list[tuple[str, str, str | None, int]] = []  # method, path, idempotency key, status
        # path, and whom the action server said the call was for (X-Care-Client-IP, X-Care-Conversation)
        self.callers: list[tuple[str, str | None, str | None]] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args: object) -> None:
                pass

            def _forward(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_HEADERS}
                request = urllib.request.Request(proxy.upstream + self.path, data=body, headers=headers,
                                                 method=method)
                try:
                    with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 (loopback)
                        status, payload, ctype = response.status, response.read(), response.headers.get("Content-Type")
                except urllib.error.HTTPError as exc:
                    status, payload, ctype = exc.code, exc.read(), exc.headers.get("Content-Type")
                delay = 0.0
                with proxy.lock:
                    proxy.seen.append((method, self.path, self.headers.get("Idempotency-Key"), status))
                    proxy.callers.append((self.path, self.headers.get("X-Care-Client-IP"),
                                          self.headers.get("X-Care-Conversation")))
                    if method == "POST":
                        for prefix in list(proxy.slow_posts):
                            if self.path.startswith(prefix):
                                delay = proxy.slow_posts.pop(prefix)
                if delay:
                    time.sleep(delay)  # the API already did the work; the caller times out
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", ctype or "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the caller gave up waiting, as intended

            def do_GET(self) -> None:  # noqa: N802
                self._forward("GET")

            def do_POST(self) -> None:  # noqa: N802
                self._forward("POST")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> FaultProxy:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def slow_next_post(self, path_prefix: str, seconds: float) -> None:
        with self.lock:
            self.slow_posts[path_prefix] = seconds

    def callers_of(self, path_prefix: str) -> list[tuple[str | None, str | None]]:
        """(X-Care-Client-IP, X-Care-Conversation) of each call to paths under ``path_prefix``."""
        with self.lock:
            return [(ip, conversation) for path, ip, conversation in self.callers if path.startswith(path_prefix)]

    def posts(self, path_prefix: str) -> list[tuple[str, str, str | None, int]]:
        with self.lock:
            return [s for s in self.seen if s[0] == "POST" and s[1].startswith(path_prefix)]
