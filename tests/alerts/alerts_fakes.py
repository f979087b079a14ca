"""Local stand-ins for the alert tests: a GitLab alert endpoint and a Hubble metrics exporter.

Both are real HTTP servers on 127.0.0.1 in a background thread. The GitLab endpoint answers
like GitLab's alert integration: 401 without the integration's key, 404 elsewhere than its
path, and records every payload it accepted.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

WAIT_STEP_S = 0.2


@dataclass
class GitLabAlertEndpoint:
    """What the fake endpoint saw: accepted payloads and refused requests."""

    path: str
    key: str
    url: str = ""
    payloads: list[dict[str, Any]] = field(default_factory=list)
    refused: list[tuple[int, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def snapshot(self) -> list[dict[str, Any]]:
        with self.lock:
            return list(self.payloads)


@contextmanager
def gitlab_alert_endpoint(
    key: str, path: str = "/me/cluster-management/alerts/notify/cluster-mgmt/4f2a9c1e7b3d5a60.json"
) -> Iterator[GitLabAlertEndpoint]:
    """Serve a GitLab alert integration at ``path`` that accepts ``Bearer <key>``."""
    state = GitLabAlertEndpoint(path=path, key=key)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            if self.path != state.path:
                self._answer(404, {"message": "404 Not Found"})
                return
            if self.headers.get("Authorization") != f"Bearer {state.key}":
                self._answer(401, {"message": "401 Unauthorized"})
                return
            payload = json.loads(body)
            with state.lock:
                state.payloads.append(payload)
            self._answer(200, {})

        def _answer(self, status: int, body: Mapping[str, Any]) -> None:
            if status != 200:
                with state.lock:
                    state.refused.append((status, self.path))
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}{path}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


class HubbleExporter:
    """``/metrics`` with Hubble counters; a drop counter climbs while :attr:`climbing`.

    The drop counter grows by ``per_second`` × elapsed time while climbing and stays put
    otherwise, as an agent's counter does when the drops stop.
    """

    def __init__(self, per_second: float) -> None:
        self.per_second = per_second
        self._lock = threading.Lock()
        self._drops = 0.0
        self._since: float | None = None
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.address = f"127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def climb(self) -> None:
        with self._lock:
            self._since = time.monotonic()

    def stop_climbing(self) -> None:
        with self._lock:
            self._drops = self._value()
            self._since = None

    def _value(self) -> float:
        if self._since is None:
            return self._drops
        return self._drops + self.per_second * (time.monotonic() - self._since)

    def text(self) -> str:
        with self._lock:
            drops = int(self._value())
        return (
            "# TYPE hubble_drop_total counter\n"
            f'hubble_drop_total{{destination="shop",protocol="TCP",reason="POLICY_DENIED",'
            f'source=""}} {drops}\n'
            # Healthy traffic elsewhere, so only the drops can alert.
            "# TYPE hubble_flows_processed_total counter\n"
            'hubble_flows_processed_total{destination="web",protocol="TCP",source="web",'
            'subtype="to-endpoint",type="Trace",verdict="FORWARDED"} 1000\n'
        )

    def _handler(self) -> Callable[..., BaseHTTPRequestHandler]:
        exporter = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                data = exporter.text().encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        return Handler

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)


def wait_for(condition: Callable[[], Any], deadline_s: float, what: str) -> Any:
    """Poll ``condition`` until it returns something truthy; fail after ``deadline_s``."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        result = condition()
        if result:
            return result
        time.sleep(WAIT_STEP_S)
    raise AssertionError(f"timed out after {deadline_s:g}s waiting for {what}")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def running(argv: list[str], ready_url: str, log: Path, deadline_s: float = 60.0) -> Iterator[None]:
    """Run ``argv`` until the block ends; wait (bounded) until ``ready_url`` answers 200."""
    import subprocess
    import urllib.error
    import urllib.request

    with log.open("wb") as out:
        process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
        try:

            def ready() -> bool:
                if process.poll() is not None:
                    raise AssertionError(
                        f"{argv[0]} exited {process.returncode}: {log.read_text()[-3000:]}"
                    )
                try:
                    with urllib.request.urlopen(ready_url, timeout=2) as response:
                        return bool(response.status == 200)
                except (urllib.error.URLError, OSError):
                    return False

            wait_for(ready, deadline_s, f"{argv[0]} to be ready")
            yield
        finally:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=15)
