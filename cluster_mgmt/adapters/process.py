"""Running external programs: argument lists, bounded in time, output redacted and streamed.

Every adapter that runs a binary (helm, helmfile) takes a :class:`Runner`, so orchestration
is tested against a recording fake and the real binaries are tested separately. Output
lines pass through :func:`~cluster_mgmt.adapters.secrets.redact` before anyone sees them.
"""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Protocol

from cluster_mgmt.adapters.secrets import redact
from cluster_mgmt.errors import ToolError

LineSink = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class Completed:
    """The outcome of one command, its output already redacted."""

    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str


class Runner(Protocol):
    """Runs a command: argv, working directory, extra environment, a deadline, a line sink."""

    def __call__(
        self,
        argv: Sequence[str],
        cwd: Path,
        env: Mapping[str, str],
        timeout: float,
        on_line: LineSink | None = None,
        merge_output: bool = False,
    ) -> Completed:
        """Run ``argv``; every stdout/stderr line goes to ``on_line`` (redacted) as it comes.

        With ``merge_output`` stderr joins stdout in one pipe, in the order helmfile wrote
        them (its log lines name the release that the diff lines after them belong to).
        """
        ...


def _pump(stream: IO[str], sink: list[str], on_line: LineSink | None) -> None:
    for raw in stream:
        line = redact(raw.rstrip("\n"))
        sink.append(line)
        if on_line is not None:
            on_line(line)


def subprocess_runner(
    argv: Sequence[str],
    cwd: Path,
    env: Mapping[str, str],
    timeout: float,
    on_line: LineSink | None = None,
    merge_output: bool = False,
) -> Completed:
    """Run for real, streaming both output streams, killed after ``timeout`` seconds."""
    try:
        proc = subprocess.Popen(  # noqa: S603 - argv list, no shell
            list(argv),
            cwd=cwd,
            env={**os.environ, **env},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT if merge_output else subprocess.PIPE,
            text=True,
            bufsize=1,
        )
    except FileNotFoundError as exc:
        raise ToolError(f"{argv[0]} not found", hint="run `make tools` or install it") from exc
    out: list[str] = []
    err: list[str] = []
    streams = [(proc.stdout, out), (proc.stderr, err)]
    pumps = [
        threading.Thread(target=_pump, args=(stream, sink, on_line), daemon=True)
        for stream, sink in streams
        if stream is not None
    ]
    for pump in pumps:
        pump.start()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        proc.kill()
        proc.wait(timeout=30)
        raise ToolError(f"{' '.join(argv[:3])} did not finish within {timeout:.0f} s") from exc
    for pump in pumps:
        pump.join(timeout=30)
    return Completed(tuple(argv), proc.returncode, "".join(f"{x}\n" for x in out), "\n".join(err))


def absolute_binary(binary: str) -> str:
    """``binary`` as an absolute path when it names one (PATH may hold ``.venv/bin``)."""
    # Commands run in other directories, so a relative path must be resolved first.
    return str(Path(binary).resolve()) if os.sep in binary else binary
