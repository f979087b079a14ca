"""A real Prometheus on 127.0.0.1 with backfilled data or live scrapes, for the stats and
verify tests and the stats benchmark.

Data is written as OpenMetrics, turned into TSDB blocks by ``promtool tsdb
create-blocks-from openmetrics`` and served by ``prometheus`` (Debian's package) on a free
loopback port from a temporary storage directory. Every wait is bounded.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import IO

READY_DEADLINE_S = 60.0
BACKFILL_TIMEOUT_S = 600.0
STOP_TIMEOUT_S = 15.0


def missing_binaries() -> list[str]:
    """Which of ``prometheus`` and ``promtool`` are not on PATH."""
    return [name for name in ("prometheus", "promtool") if shutil.which(name) is None]


def write_openmetrics(
    out: IO[str],
    families: Mapping[
        str, tuple[str, Iterable[tuple[Mapping[str, str], Iterable[tuple[int, float]]]]]
    ],
) -> None:
    """Write OpenMetrics text: ``{metric: (type, [(labels, [(unix_s, value), ...]), ...])}``.

    Samples of a family stay together, each series in time order, as the format requires.
    """
    for metric, (kind, series) in families.items():
        out.write(f"# TYPE {metric} {kind}\n")
        for labels, points in series:
            text = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
            for timestamp, value in points:
                out.write(f"{metric}{{{text}}} {value:g} {timestamp}\n")
    out.write("# EOF\n")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class PrometheusServer:
    """``prometheus`` serving a TSDB backfilled from one OpenMetrics file."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.storage = workdir / "tsdb"
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        """The base URL, e.g. ``http://127.0.0.1:40123``."""
        return f"http://127.0.0.1:{self.port}"

    def backfill(self, openmetrics_file: Path, max_block_duration: str = "2h") -> None:
        """Create TSDB blocks from ``openmetrics_file`` in the storage directory."""
        self.storage.mkdir(parents=True, exist_ok=True)
        result = subprocess.run(
            [
                "promtool",
                "tsdb",
                "create-blocks-from",
                "openmetrics",
                f"--max-block-duration={max_block_duration}",
                str(openmetrics_file),
                str(self.storage),
            ],
            capture_output=True,
            text=True,
            timeout=BACKFILL_TIMEOUT_S,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"promtool backfill failed:\n{result.stdout}\n{result.stderr}")

    def start(self, extra_args: Sequence[str] = (), scrape_configs: str = "") -> None:
        """Start Prometheus on a free loopback port and wait until ``/-/ready`` answers.

        ``scrape_configs`` is YAML for the ``scrape_configs:`` key (default: scrape nothing).
        """
        config = self.workdir / "prometheus.yml"
        text = "global:\n  scrape_interval: 1m\n"
        if scrape_configs:
            text += "scrape_configs:\n" + scrape_configs
        config.write_text(text)
        self.port = free_port()
        self._log = (self.workdir / "prometheus.log").open("wb")
        self._process = subprocess.Popen(
            [
                "prometheus",
                f"--config.file={config}",
                f"--storage.tsdb.path={self.storage}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                # Backfilled samples lie in the past: keep them whatever their age.
                "--storage.tsdb.retention.time=3650d",
                "--log.level=warn",
                *extra_args,
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + READY_DEADLINE_S
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"prometheus exited {self._process.returncode}: {self.log()}")
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"prometheus not ready within {READY_DEADLINE_S}s: {self.log()}")

    def log(self) -> str:
        """The server's log so far (for failure messages)."""
        path = self.workdir / "prometheus.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after a bounded wait)."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=STOP_TIMEOUT_S)
        if self._log is not None:
            self._log.close()
            self._log = None
