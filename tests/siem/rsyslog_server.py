"""A real rsyslogd on 127.0.0.1, started by the test with its own config, pid file and work
directory (no system service), storing each received message raw and as rsyslog parsed it."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

RSYSLOGD = "/usr/sbin/rsyslogd"
GTLS_DRIVER = Path("/usr/lib/x86_64-linux-gnu/rsyslog/lmnsd_gtls.so")
START_DEADLINE_S = 15.0
MESSAGE_DEADLINE_S = 10.0
FIELD_SEPARATOR = "\x1f"  # unit separator: never in a syslog field

# What rsyslog's own RFC 5424 parser made of the message, one line per message.
_FIELDS = FIELD_SEPARATOR.join(
    (
        "%pri%",
        "%protocol-version%",
        "%timereported:::date-rfc3339%",
        "%hostname%",
        "%app-name%",
        "%procid%",
        "%msgid%",
        "%structured-data%",
        "%msg%",
    )
)


def rsyslog_missing() -> str | None:
    """Why rsyslog (with its GnuTLS driver) cannot run here, or None when it can."""
    if not Path(RSYSLOGD).exists():
        return "rsyslogd is not installed (Debian package rsyslog)"
    if not any(Path("/usr/lib").glob("*/rsyslog/lmnsd_gtls.so")):
        return "rsyslog's TLS driver is not installed (Debian package rsyslog-gnutls)"
    return None


def stop_process(process: subprocess.Popen[bytes] | None) -> None:
    """Terminate a server the test started (then kill it), each step bounded."""
    if process is not None and process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def free_port(kind: int) -> int:
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class TlsServerFiles:
    ca: Path
    cert: Path
    key: Path
    require_client_cert: bool = False


@dataclass
class Rsyslog:
    workdir: Path
    protocol: str  # udp | tcp | tls
    tls: TlsServerFiles | None = None
    port: int = 0
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def raw_log(self) -> Path:
        return self.workdir / "raw.log"

    @property
    def fields_log(self) -> Path:
        return self.workdir / "fields.log"

    def config(self) -> str:
        work = self.workdir / "spool"
        work.mkdir(parents=True, exist_ok=True)
        glob = f'workDirectory="{work}"'
        if self.protocol == "udp":
            inputs = [
                'module(load="imudp")',
                f'input(type="imudp" address="127.0.0.1" port="{self.port}")',
            ]
        elif self.protocol == "tcp":
            inputs = [
                'module(load="imtcp")',
                f'input(type="imtcp" address="127.0.0.1" port="{self.port}")',
            ]
        else:
            assert self.tls is not None
            glob += (
                f' defaultNetstreamDriverCAFile="{self.tls.ca}"'
                f' defaultNetstreamDriverCertFile="{self.tls.cert}"'
                f' defaultNetstreamDriverKeyFile="{self.tls.key}"'
            )
            auth = "x509/certvalid" if self.tls.require_client_cert else "anon"
            inputs = [
                'module(load="imtcp" streamDriver.name="gtls" streamDriver.mode="1" '
                f'streamDriver.authMode="{auth}")',
                f'input(type="imtcp" address="127.0.0.1" port="{self.port}")',
            ]
        return "\n".join(
            [
                f"global({glob})",
                *inputs,
                'template(name="raw" type="string" string="%rawmsg%\\n")',
                f'template(name="fields" type="string" string="{_FIELDS}\\n")',
                f'action(type="omfile" file="{self.raw_log}" template="raw")',
                f'action(type="omfile" file="{self.fields_log}" template="fields")',
                "",
            ]
        )

    def start(self) -> None:
        kind = socket.SOCK_DGRAM if self.protocol == "udp" else socket.SOCK_STREAM
        self.port = free_port(kind)
        conf = self.workdir / "rsyslog.conf"
        conf.write_text(self.config())
        pid = self.workdir / "rsyslogd.pid"
        self.process = subprocess.Popen(
            [RSYSLOGD, "-n", "-f", str(conf), "-i", str(pid)],
            stdout=(self.workdir / "rsyslogd.out").open("wb"),
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + START_DEADLINE_S
        while not self._listening():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                output = (self.workdir / "rsyslogd.out").read_text(errors="replace")
                raise RuntimeError(f"rsyslogd did not start listening:\n{output}")
            time.sleep(0.05)

    def _listening(self) -> bool:
        table = "/proc/net/udp" if self.protocol == "udp" else "/proc/net/tcp"
        wanted = f"0100007F:{self.port:04X}"
        for line in Path(table).read_text().splitlines()[1:]:
            cols = line.split()
            # TCP state 0A is LISTEN; UDP sockets show 07 when bound.
            if cols[1] == wanted and cols[3] in ("0A", "07"):
                return True
        return False

    def stop(self) -> None:
        stop_process(self.process)

    def wait_for_messages(self, count: int = 1) -> tuple[list[str], list[list[str]]]:
        """The raw messages and parsed fields rsyslog stored, once ``count`` have arrived."""
        deadline = time.monotonic() + MESSAGE_DEADLINE_S
        while True:
            raw = _lines(self.raw_log)
            fields = _lines(self.fields_log)
            if len(raw) >= count and len(fields) >= count:
                return raw, [line.split(FIELD_SEPARATOR) for line in fields]
            if time.monotonic() > deadline:
                output = (self.workdir / "rsyslogd.out").read_text(errors="replace")
                raise AssertionError(f"rsyslog stored {len(raw)} of {count} messages:\n{output}")
            time.sleep(0.05)

    def stored(self) -> list[str]:
        return _lines(self.raw_log)

    def output(self) -> str:
        """What rsyslogd itself said (errors such as a refused peer certificate)."""
        return (self.workdir / "rsyslogd.out").read_text(errors="replace")


def _lines(path: Path) -> list[str]:
    if not path.exists():
        return []
    text = path.read_text(encoding="utf-8", errors="replace")
    return [line for line in text.split("\n") if line]


def ensure_rsyslog(repo_root: Path) -> str | None:
    """Install rsyslog with the project's own script when root; the reason it is absent else."""
    reason = rsyslog_missing()
    if reason is None:
        return None
    if os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run([str(repo_root / "scripts" / "install-system.sh")], check=True, timeout=900)
        return rsyslog_missing()
    return f"{reason}; run scripts/install-system.sh as root to install it"
