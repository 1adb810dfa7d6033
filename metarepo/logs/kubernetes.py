"""Services' logs from a Kubernetes cluster: ``kubectl logs`` by the label every Deployment carries.

One ``kubectl logs --selector=app.kubernetes.io/name=SERVICE --timestamps
--prefix --tail=-1`` per service, through the same ``Kubectl`` seam as
rollouts (``--context``/``--namespace`` from the environment). ``--tail=-1``
because kubectl shows only 10 lines per pod when given a selector. Each
line reads ``[pod/NAME/CONTAINER] TIME TEXT``: ``--prefix`` names the pod and
container, ``--timestamps`` puts the kubelet's RFC3339Nano time first.

Without ``--follow`` kubectl prints one pod after the other, so the output
is split by its prefix into one stream per container, each in order, and
those are merged. With it, kubectl reads the pods in parallel and writes
their lines as they come, each pod's history in a rush: the follow merge
splits each service's kubectl by the prefix too (``FollowMerge.add_split``). kubectl follows the pods that matched when it started (its
own limit; a new pod needs a new ``meta logs``), at most
``--max-log-requests`` of them. kubectl does not say which of stdout and
stderr a line came from, so a line's stream is None.
"""

from __future__ import annotations

import subprocess
import tempfile
from datetime import datetime, timezone
from typing import IO, Callable, Iterator, Sequence

from metarepo.images.kubernetes import Kubectl, KubectlReply, cluster_unreachable
from metarepo.logs.lines import LogLine, parse_stamp

LABEL = "app.kubernetes.io/name"
MAX_FOLLOWED_PODS = 50  # kubectl's --max-log-requests: how many pods of one service --follow may read
_NO_PODS = "No resources found"


class KubernetesLogs:
    def __init__(self, kubectl: Kubectl, environment: str, *, note: Callable[[str], None], jobs: int = 4) -> None:
        self.kubectl = kubectl
        self.environment = environment
        self.note = note
        self.jobs = jobs

    def _args(self, service: str, since: float | None, follow: bool) -> tuple[str, ...]:
        args = ["logs", f"--selector={LABEL}={service}", "--timestamps", "--prefix", "--tail=-1"]
        if follow:
            args += ["--follow", f"--max-log-requests={MAX_FOLLOWED_PODS}"]
        if since is not None:
            args.append("--since-time=" + datetime.fromtimestamp(since, timezone.utc).strftime(
                "%Y-%m-%dT%H:%M:%S.%fZ"))
        return tuple(args)

    def history(self, services: Sequence[str], *, since: float | None) -> list[list[LogLine]]:
        """Every container's lines of ``services``, one list per container, each in order."""
        from metarepo.runner import run_parallel

        self.kubectl.require()
        run = run_parallel(list(services), lambda name: self.kubectl(*self._args(name, since, False)),
                           jobs=self.jobs)
        if run.interrupted:
            raise KeyboardInterrupt
        streams: list[list[LogLine]] = []
        for outcome in run.outcomes:
            if not outcome.ok:
                self.note(f"{outcome.key}: {outcome.reason}")
                continue
            reply: KubectlReply = outcome.value
            self._check(str(outcome.key), reply.returncode, reply.stderr)
            by_container: dict[str, list[LogLine]] = {}
            last: dict[str, LogLine] = {}
            for text in reply.stdout.splitlines():
                container, line = split_line(str(outcome.key), text, last)
                by_container.setdefault(container, []).append(line)
            streams.extend(by_container.values())
        return streams

    def follow(self, service: str, *, since: float | None) -> tuple[Iterator[tuple[str, LogLine]], Callable[[], None]]:
        """One service's live lines from ``kubectl logs --follow``, each with its container; and what ends kubectl."""
        from metarepo.process import child_env, end_process_group

        self.kubectl.require()
        errors = tempfile.TemporaryFile()
        proc = subprocess.Popen([*self.kubectl.prefix, *self._args(service, since, True)], env=child_env(),
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=errors,
                                start_new_session=True)
        closed = []

        def lines() -> Iterator[tuple[str, LogLine]]:
            assert proc.stdout is not None
            last: dict[str, LogLine] = {}
            try:
                for raw in proc.stdout:
                    yield split_line(service, raw.decode("utf-8", "replace").rstrip("\r\n"), last)
                proc.wait()
                if not closed:
                    self._check(service, proc.returncode, _read_all(errors))
            finally:
                proc.stdout.close()
                errors.close()

        def close() -> None:
            closed.append(True)
            end_process_group(proc, grace=1.0)

        return lines(), close

    def _check(self, service: str, returncode: int, stderr: str) -> None:
        """A note for what kubectl said went wrong (raise when the cluster cannot be reached at all)."""
        lines = [line.strip() for line in stderr.splitlines() if line.strip()]
        if any(line.startswith(_NO_PODS) for line in lines):
            self.note(f"{service}: not running in {self.environment} (no pod has {LABEL}={service})")
        if returncode == 0:
            return
        first = KubectlReply((), returncode, "", stderr).first_error
        unreachable = cluster_unreachable(first, self.environment)
        if unreachable is not None:
            raise unreachable
        self.note(f"{service}: kubectl logs failed: {first}")


def split_line(service: str, line: str, last: dict[str, LogLine]) -> tuple[str, LogLine]:
    """``[pod/NAME/CONTAINER] TIME TEXT`` as (its container's name, the line).

    A line without a time (kubectl's own ``error: ...``) takes the time of the
    container's line before it (``last``, kept per container), so it stays in place.
    """
    container = ""
    if line.startswith("[pod/"):
        end = line.find("] ")
        if end > 0:
            container, line = line[1:end], line[end + 2:]
    stamp, _, text = line.partition(" ")
    parsed = parse_stamp(stamp)
    if parsed is None:
        before = last.get(container)
        found = LogLine(before.at if before else 0, service, None, line, before.stamp if before else "")
    else:
        found = LogLine(parsed[0], service, None, text, parsed[1])
    last[container] = found
    return container, found


def _read_all(file: IO[bytes]) -> str:
    file.seek(0)
    return file.read(64 * 1024).decode("utf-8", "replace")
