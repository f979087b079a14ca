"""`init` on a terminal asks for what the flags did not say."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

DEADLINE_S = 60


def _read_until(fd: int, needle: bytes, buffer: bytearray, deadline: float) -> None:
    while needle not in buffer:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"timed out waiting for {needle!r}; got {bytes(buffer)!r}"
        ready, _, _ = select.select([fd], [], [], remaining)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                chunk = b""
            assert chunk, f"terminal closed before {needle!r}; got {bytes(buffer)!r}"
            buffer.extend(chunk)


def test_init_prompts_on_a_tty(tmp_path: Path) -> None:
    primary, secondary = pty.openpty()
    target = tmp_path / "asked"
    proc = subprocess.Popen(
        [sys.executable, "-m", "cluster_mgmt", "init", str(target)],
        stdin=secondary,
        stdout=secondary,
        stderr=secondary,
        close_fds=True,
    )
    os.close(secondary)
    deadline = time.monotonic() + DEADLINE_S
    seen = bytearray()
    try:
        for prompt, answer in [
            (b"Provider (eks, gke, kind)", b"gke"),
            (b"Environment name", b"staging"),
            (b"GitLab project path", b"acme/clusters"),
            (b"GitLab agent name", b""),  # accept the default: the env name
            (b"Pod IPv4 CIDR", b"10.12.0.0/14"),
        ]:
            _read_until(primary, prompt, seen, deadline)
            os.write(primary, answer + b"\r")
        _read_until(primary, b"created", seen, deadline)
        assert proc.wait(timeout=DEADLINE_S) == 0
    finally:
        proc.kill()
        os.close(primary)
    config = (target / "cluster-mgmt.yaml").read_text()
    assert "provider: gke" in config
    assert "  staging:\n" in config
    assert "agent: staging" in config
    assert "native_routing_cidr: 10.12.0.0/14" in config
