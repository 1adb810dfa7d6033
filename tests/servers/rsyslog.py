"""rsyslog, listening for syslog on UDP and TCP on 127.0.0.1, writing what it gets to one file.

`running_rsyslog()` starts ``rsyslogd -n -f rsyslog.conf -i rsyslogd.pid``
with a config of its own: ``imudp`` and ``imtcp`` on one free 127.0.0.1 port
(the same number for both), no ``imuxsock`` or ``imklog`` (so it never reads
the host's /dev/log or kernel log), its work directory in its temp dir, and
every message written to ``messages.log`` as one JSON object a line (host,
tag, program, facility, severity, message). It is ready when a probe sent
over TCP and one sent over UDP have both reached the file. Docker's syslog
log driver reaches it at ``syslog-address=tcp://127.0.0.1:PORT``.

`Syslog.records(program=...)` reads the file; `wait_for(program, text)`
polls it until a record of that program contains ``text``.
`check_config(path)` is ``rsyslogd -N1 -f PATH``.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from tests.servers.process import Validation, free_port, installed, running, temp_dir, validate

PACKAGES = {"rsyslogd": "rsyslog"}
PROBE = "metatest-probe"


@dataclass(frozen=True)
class Record:
    host: str
    tag: str  # as sent: "orders[12]:" or "orders[12]"
    program: str  # the tag without its pid: "orders"
    facility: str
    severity: str
    message: str  # without the space that separates it from the tag


@dataclass(frozen=True)
class Syslog:
    base: Path
    port: int  # UDP and TCP
    process: subprocess.Popen

    @property
    def messages(self) -> Path:
        return self.base / "messages.log"

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def records(self, program: str | None = None) -> list[Record]:
        if not self.messages.exists():
            return []
        found = []
        for line in self.messages.read_text(errors="replace").splitlines():
            with contextlib.suppress(ValueError, TypeError):  # a line cut short while rsyslog writes it
                doc = json.loads(line)
                record = Record(**{**doc, "message": doc["message"].removeprefix(" ")})
                if record.program != PROBE and program in (None, record.program):
                    found.append(record)
        return found

    def wait_for(self, program: str, text: str = "", seconds: float = 30) -> Record:
        deadline = time.monotonic() + seconds
        while True:
            for record in self.records(program):
                if text in record.message:
                    return record
            if time.monotonic() > deadline:
                raise AssertionError(f"no {program!r} record with {text!r} in {seconds:g}s; "
                                     f"it has: {self.records()[-10:]}")
            time.sleep(0.1)


def send_tcp(port: int, line: str) -> None:
    """One syslog line over TCP (newline-framed)."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(line.encode() + b"\n")


def send_udp(port: int, line: str) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.sendto(line.encode(), ("127.0.0.1", port))


def check_config(path: Path) -> Validation:
    return validate([installed("rsyslogd") or "rsyslogd", "-N1", "-f", str(path)])


def config(base: Path, port: int) -> str:
    return f"""global(workDirectory="{base / 'work'}")
module(load="imudp")
module(load="imtcp")
input(type="imudp" address="127.0.0.1" port="{port}")
input(type="imtcp" address="127.0.0.1" port="{port}")
template(name="metatest" type="list" option.jsonf="on") {{
  property(outname="host" name="hostname" format="jsonf")
  property(outname="tag" name="syslogtag" format="jsonf")
  property(outname="program" name="programname" format="jsonf")
  property(outname="facility" name="syslogfacility-text" format="jsonf")
  property(outname="severity" name="syslogseverity-text" format="jsonf")
  property(outname="message" name="msg" format="jsonf")
}}
*.* action(type="omfile" file="{base / 'messages.log'}" template="metatest")
"""


@contextlib.contextmanager
def running_rsyslog(seconds: float = 30) -> Iterator[Syslog]:
    with temp_dir("rsyslog") as base:
        (base / "work").mkdir()
        port = _free_tcp_and_udp_port()
        (base / "rsyslog.conf").write_text(config(base, port))
        argv = [installed("rsyslogd") or "rsyslogd", "-n", "-f", str(base / "rsyslog.conf"),
                "-i", str(base / "rsyslogd.pid")]
        token = secrets.token_hex(4)
        with running(argv, what="rsyslogd", log=base / "rsyslogd.out", cwd=base, seconds=seconds,
                     ready=lambda: _probe(base, port, token)) as proc:
            yield Syslog(base, port, proc)


def _free_tcp_and_udp_port() -> int:
    while True:
        port = free_port()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            with contextlib.suppress(OSError):
                udp.bind(("127.0.0.1", port))
                return port


def _probe(base: Path, port: int, token: str) -> bool:
    """Send a probe over TCP and UDP; True once both have reached the file."""
    with contextlib.suppress(OSError):
        send_tcp(port, f"<14>1 - - {PROBE} - - - tcp {token}")
        send_udp(port, f"<14>1 - - {PROBE} - - - udp {token}")
    with contextlib.suppress(OSError):
        text = (base / "messages.log").read_text(errors="replace")
        return f"tcp {token}" in text and f"udp {token}" in text
    return False
