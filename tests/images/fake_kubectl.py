"""A stand-in ``kubectl`` on PATH: it logs each call and answers with recorded kubectl output.

No cluster can be reached from the test machines, so the Kubernetes target
is tested at its subprocess seam. ``FakeKubectl`` writes an executable
named ``kubectl`` into a temp folder put first on PATH; each run appends its
argv and standard input to a log and answers with the next scripted reply
(stdout, stderr, exit status), taken from ``tests/images/kubectl/``: output
as kubectl prints it, written from the messages in kubectl's source (no
cluster was reachable to capture it from). A call that does not match the next reply's expected
words fails loudly (exit 97), so an unexpected sequence cannot pass.

Calls made in parallel (``meta logs`` runs one ``kubectl logs`` per
service at once) cannot rely on their order: a reply scripted with
``match=(ARG, ...)`` answers the first call whose argv holds every one of
those arguments, whenever it comes. ``later`` is more output written
``later_after`` seconds after the first, and ``hold`` keeps the process
running that long after writing (a ``--follow`` stream left open, until
it is ended).

The ``logs-*`` recordings follow kubectl's ``logs`` command
(staging/src/k8s.io/kubectl/pkg/cmd/logs/logs.go): ``--prefix`` writes
``[pod/NAME/CONTAINER] `` before each line, ``--timestamps`` has the
kubelet put the time first in Go's RFC3339Nano (trailing zeros of the
fraction trimmed), and without ``--follow`` the pods come one after the
other, each whole; an empty selection says ``No resources found in NS
namespace.`` on stderr and exits 0.
"""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path

RECORDED = Path(__file__).parent / "kubectl"

_SCRIPT = '''#!{python}
import fcntl, json, os, signal, sys, time
state = os.environ["FAKE_KUBECTL_STATE"]
argv = sys.argv[1:]
stdin = "" if sys.stdin is None or sys.stdin.closed else sys.stdin.read()
lock = open(os.path.join(state, "lock"), "w")
fcntl.flock(lock, fcntl.LOCK_EX)  # calls may run at once: one at a time through the state files
with open(os.path.join(state, "calls.jsonl"), "a") as log:
    log.write(json.dumps({{"argv": argv, "stdin": stdin}}) + "\\n")
replies = json.load(open(os.path.join(state, "replies.json")))
counter = os.path.join(state, "next")
n = int(open(counter).read()) if os.path.exists(counter) else 0
open(counter, "w").write(str(n + 1))
open(os.path.join(state, "pid-%d" % n), "w").write(str(os.getpid()))
used_file = os.path.join(state, "used.json")
used = json.load(open(used_file)) if os.path.exists(used_file) else []
chosen = next((i for i, r in enumerate(replies) if i not in used and r["match"]
               and all(arg in argv for arg in r["match"])), None)
if chosen is None:
    chosen = next((i for i, r in enumerate(replies) if i not in used and not r["match"]), len(replies))
json.dump(used + [chosen], open(used_file, "w"))
fcntl.flock(lock, fcntl.LOCK_UN)
words, skip = [], False
for arg in argv:
    if skip:
        skip = False
    elif arg in ("--context", "--namespace"):
        skip = True
    elif not arg.startswith("-"):
        words.append(arg)
if chosen >= len(replies):
    sys.stderr.write("fake kubectl: no reply scripted for %r\\n" % (argv,))
    sys.exit(97)
reply = replies[chosen]
if words[:len(reply["expect"])] != reply["expect"]:
    sys.stderr.write("fake kubectl: expected %r, got %r\\n" % (reply["expect"], argv))
    sys.exit(97)
if reply.get("interrupt"):  # a person pressing Ctrl-C in meta while this call runs
    os.kill(os.getppid(), signal.SIGINT)
time.sleep(reply.get("sleep", 0))
sys.stdout.write(reply["stdout"])
sys.stdout.flush()
if reply["later"]:
    time.sleep(reply["later_after"])
    sys.stdout.write(reply["later"])
    sys.stdout.flush()
sys.stderr.write(reply["stderr"])
sys.stderr.flush()
time.sleep(reply["hold"])
sys.exit(reply["rc"])
'''


def recorded(name: str) -> str:
    """One recorded kubectl output (``tests/images/kubectl/NAME``)."""
    return (RECORDED / name).read_text()


class FakeKubectl:
    def __init__(self, tmp_path: Path, monkeypatch) -> None:
        self.bin = tmp_path / "fake-bin"
        self.state = tmp_path / "fake-state"
        self.bin.mkdir()
        self.state.mkdir()
        exe = self.bin / "kubectl"
        exe.write_text(_SCRIPT.format(python=sys.executable))
        exe.chmod(exe.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        self.replies: list[dict] = []
        self._save()
        monkeypatch.setenv("FAKE_KUBECTL_STATE", str(self.state))
        monkeypatch.setenv("PATH", f"{self.bin}{os.pathsep}{os.environ.get('PATH', '')}")

    def reply(self, *expect: str, out: str = "", err: str = "", rc: int = 0, sleep: float = 0,
              interrupt: bool = False, match: tuple[str, ...] = (), later: str = "", later_after: float = 0,
              hold: float = 0) -> "FakeKubectl":
        """Script the next call: it must begin with the words ``expect`` (flags aside).

        ``sleep`` delays the answer; ``interrupt`` first sends SIGINT to the caller, as Ctrl-C would.
        With ``match``, the reply answers the first call holding all those arguments, in any order of calls.
        ``later`` is written ``later_after`` seconds after ``out``; then the process waits ``hold`` seconds.
        """
        self.replies.append({"expect": list(expect), "stdout": out, "stderr": err, "rc": rc, "sleep": sleep,
                             "interrupt": interrupt, "match": list(match), "later": later,
                             "later_after": later_after, "hold": hold})
        self._save()
        return self

    def _save(self) -> None:
        (self.state / "replies.json").write_text(json.dumps(self.replies))

    @property
    def calls(self) -> list[dict]:
        log = self.state / "calls.jsonl"
        return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []

    def pid(self, n: int) -> int:
        """The process id of the ``n``-th call."""
        return int((self.state / f"pid-{n}").read_text())

    @property
    def argvs(self) -> list[list[str]]:
        return [call["argv"] for call in self.calls]
