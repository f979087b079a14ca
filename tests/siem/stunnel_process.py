"""A real stunnel (Debian stunnel4) started by the test with the rendered tunnel config, its
file paths rewritten to the test's own PKI files (the only substitution)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from rsyslog_server import stop_process

from cluster_mgmt.core import siem_tunnel

START_DEADLINE_S = 15.0
LOG_DEADLINE_S = 10.0


def stunnel_binary() -> str | None:
    return shutil.which("stunnel4") or shutil.which("stunnel")


def ensure_stunnel(repo_root: Path) -> str | None:
    """Install stunnel4 with the project's own script when root; the reason it is absent else."""
    if stunnel_binary():
        return None
    if os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run([str(repo_root / "scripts" / "install-system.sh")], check=True, timeout=900)
        if stunnel_binary():
            return None
    return "stunnel is not installed (Debian package stunnel4); run scripts/install-system.sh"


def listening(port: int) -> bool:
    wanted = f"0100007F:{port:04X}"
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        cols = line.split()
        if cols[1] == wanted and cols[3] == "0A":  # LISTEN
            return True
    return False


@dataclass
class Stunnel:
    workdir: Path
    rendered: str
    ca: Path
    cert: Path
    key: Path
    port: int
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def log(self) -> Path:
        return self.workdir / "stunnel.log"

    def config(self) -> str:
        paths = {
            siem_tunnel.CA_FILE: self.ca,
            siem_tunnel.CERT_FILE: self.cert,
            siem_tunnel.KEY_FILE: self.key,
        }
        lines = self.rendered.split("\n")
        for number, line in enumerate(lines):
            key, sep, value = line.partition(" = ")
            if sep and value in paths:
                lines[number] = f"{key} = {paths.pop(value)}"
        assert not paths, f"not in the rendered config: {list(paths)}"
        return "\n".join(lines)

    def start(self) -> None:
        binary = stunnel_binary()
        assert binary is not None
        conf = self.workdir / "siem-tunnel.stunnel"
        conf.write_text(self.config())
        self.process = subprocess.Popen(
            [binary, str(conf)], stdout=self.log.open("wb"), stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + START_DEADLINE_S
        while not listening(self.port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"stunnel did not start listening:\n{self.output()}")
            time.sleep(0.05)

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def wait_for_log(self, pattern: str) -> str:
        """The log once a line matches the regular expression ``pattern`` (bounded wait)."""
        deadline = time.monotonic() + LOG_DEADLINE_S
        while not re.search(pattern, self.output()):
            if time.monotonic() > deadline:
                raise AssertionError(f"stunnel never logged {pattern!r}:\n{self.output()}")
            time.sleep(0.05)
        return self.output()

    def stop(self) -> None:
        stop_process(self.process)
