"""Release commits and tags, pushed everywhere or nowhere.

``commit_releases`` writes each repository's version files and
``CHANGELOG.md``, commits them (``chore(release): X.Y.Z``) and makes an
annotated tag, in every clone of the train; the new text of every file is
worked out first, so a file that cannot be bumped stops the train before
anything is written. ``push_train`` pushes ``jobs`` repositories at a time
(``git push --atomic origin BRANCH TAG``: the branch and its tag land
together or not at all). If one is refused (a ``pre-receive`` hook, a
protected branch, a lost network), no other push starts, those under way
finish, and every repository that got the release is put back: its tag
deleted, its branch reset to what it was, each with a lease on what this
train pushed, so a commit somebody pushed on top meanwhile is never lost
(that repository is then named, with what is left on it). Ctrl-C ends the
pushes under way and does the same. A push whose end is not known (cut
short, timed out, an error with no refusal from the remote) is asked of the
remote before it is counted either way. Then every clone is put back as it
was: no release commit, no tag.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Sequence

from metarepo import git
from metarepo.errors import GitError, MetaError
from metarepo.files import write_atomic
from metarepo.report import NULL, Reporter
from metarepo.runner import Failed, State, run_parallel

from metarepo.release.changelog import with_section
from metarepo.release.preflight import Ready, remote_git, remote_refs
from metarepo.release.version_files import bumped_text, shown_as

CHANGELOG = "CHANGELOG.md"
TRAILER = "Meta-Release"


@dataclass(frozen=True)
class Local:
    """A release commit and tag made in one clone (not pushed yet)."""

    ready: Ready
    commit: str
    tag_object: str
    section: str

    @property
    def name(self) -> str:
        return self.ready.project.name


@dataclass(frozen=True)
class Leftover:
    """What a failed train could not put back in one repository, exactly."""

    project: str
    what: str


@dataclass(frozen=True)
class PushResult:
    landed: tuple[Local, ...]  # every repository that has the release (all of them when ok)
    refused: str = ""  # "<project>: why", when a push was refused
    interrupted: bool = False
    undone: tuple[str, ...] = ()  # repositories whose push was undone
    leftovers: tuple[Leftover, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return not self.refused and not self.interrupted


@contextlib.contextmanager
def deferred_interrupts() -> Iterator[list[int]]:
    """Hold Ctrl-C while the train puts things back (the list says whether one came); main thread only."""
    if threading.current_thread() is not threading.main_thread():
        yield []
        return
    came: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: came.append(signum))
    try:
        yield came
    finally:
        signal.signal(signal.SIGINT, previous)


def _new_files(ready: Ready, date: str) -> tuple[list[tuple[Path, str]], str]:
    release = ready.release
    path = ready.project.path
    changes = []
    for name in release.settings.version_files:
        with shown_as(path / name, f"{ready.project.name}/{name}"):
            changes.append((path / name, bumped_text(path / name, release.version)))
    section = release.section(date)
    log = path / CHANGELOG
    existing = log.read_text(encoding="utf-8", errors="replace") if log.is_file() else None
    changes.append((log, with_section(existing, section)))
    return changes, section


def commit_releases(ready: Sequence[Ready], *, train: str, date: str, jobs: int = 4) -> list[Local]:
    """A release commit and annotated tag in every clone, ``jobs`` at a time; on any failure (or Ctrl-C),
    every clone put back first, then the failure raised."""
    planned = {r.project.name: (r, *_new_files(r, date)) for r in ready}  # a file that cannot be bumped stops here
    run = run_parallel(list(planned), lambda name: _commit_one(*planned[name], train=train), jobs=jobs,
                       stop_on_failure=True)
    if not run.ok:
        with deferred_interrupts():
            restore_clones(ready, jobs=jobs)
        if run.interrupted:
            raise KeyboardInterrupt
        raise next(o.error for o in run.outcomes if o.state is State.FAILED and o.error is not None)
    return [outcome.value for outcome in run.outcomes]


def _commit_one(r: Ready, changes: list[tuple[Path, str]], section: str, *, train: str) -> Local:
    path = r.project.path
    for file, text in changes:
        write_atomic(file, text)
    names = [str(file.relative_to(path)) for file, _ in changes]
    version, tag = r.release.version, r.release.tag
    git.run_git(["add", "--", *names], cwd=path)
    git.run_git(["commit", "--quiet", "-m", f"chore(release): {version}", "-m", f"{TRAILER}: {train}", "--", *names],
                cwd=path)
    git.run_git(["tag", "--annotate", "--cleanup=verbatim", "-m", f"{tag} ({train})\n\n{section}", tag, "HEAD"],
                cwd=path)
    commit, tag_object = git.run_git(["rev-parse", "HEAD", f"refs/tags/{tag}"], cwd=path).stdout.split()
    return Local(r, commit, tag_object, section)


def restore_clones(ready: Sequence[Ready], *, jobs: int = 4) -> list[Leftover]:
    """Each clone back at its commit from before the train, with no release tag; what could not be, said.

    The pre-flight found the tag free and the work tree clean, so a tag of
    that name is this train's, and every change in the tree is the train's
    files: written, staged or committed, however far it got (a ``pre-commit``
    hook may have refused the commit).
    """
    by_name = {r.project.name: r for r in ready}
    run = run_parallel(list(by_name), lambda name: _restore_clone(by_name[name]), jobs=jobs)
    return [Leftover(str(o.key), f"the clone could not be put back: {o.reason}") for o in run.outcomes if not o.ok]


def _restore_clone(r: Ready) -> None:
    path, tag = r.project.path, r.release.tag
    git.run_git(["reset", "--quiet", "--hard", r.before], cwd=path)
    git.run_git(["clean", "--quiet", "--force", "--", CHANGELOG, *r.release.settings.version_files], cwd=path)
    if git.run_git(["rev-parse", "--verify", "--quiet", f"refs/tags/{tag}"], cwd=path, check=False).returncode == 0:
        git.run_git(["tag", "--delete", tag], cwd=path)


class _Refused(Failed):
    """The remote answered the push with a refusal: nothing of it landed (``--atomic``)."""


def _push(local: Local) -> None:
    r = local.ready
    url = git.remote_url(r.project.path) or ""
    try:
        proc = remote_git(["push", "--atomic", "--porcelain", "origin",
                           f"refs/heads/{r.branch}:refs/heads/{r.branch}",
                           f"refs/tags/{r.release.tag}:refs/tags/{r.release.tag}"], r.project.path, url)
    except GitError as exc:  # timed out: whether it landed is asked again
        raise Failed(exc.message) from None
    if proc.returncode == 0:  # type: ignore[attr-defined]
        return
    stdout, stderr = proc.stdout, proc.stderr  # type: ignore[attr-defined]
    why = _refusal(stdout, stderr)
    if any(line.startswith("!\t") for line in stdout.splitlines()):
        raise _Refused(why)
    raise Failed(why)  # the connection, not the remote, said no: whether it landed is asked again


def _refusal(stdout: str, stderr: str) -> str:
    hook = [line[len("remote: "):].strip() for line in stderr.splitlines()
            if line.startswith("remote: ") and line[len("remote: "):].strip()]
    for line in stdout.splitlines():
        parts = line.split("\t")
        if len(parts) >= 3 and parts[0] == "!" and "atomic push failed" not in parts[2]:
            return parts[2] + (f" ({hook[-1]})" if hook else "")
    return git.first_error_line(stderr)


def push_train(made: Sequence[Local], *, jobs: int = 4, reporter: Reporter = NULL) -> PushResult:
    """Push every repository's branch and tag, ``jobs`` at a time; all land, or every remote is put back."""
    by_name = {local.name: local for local in made}
    run = run_parallel(list(by_name), lambda name: _push(by_name[name]), jobs=jobs, reporter=reporter,
                       stop_on_failure=True)
    landed: list[Local] = []
    refusals: list[str] = []
    for outcome in run.outcomes:  # in train order
        local = by_name[outcome.key]  # type: ignore[index]
        if outcome.state is State.DONE:
            landed.append(local)
        elif outcome.state is State.SKIPPED:  # never started
            continue
        else:
            if outcome.state is State.FAILED:
                refusals.append(f"{local.name}: {outcome.reason}")
            if not isinstance(outcome.error, _Refused) and _has_landed(local):
                landed.append(local)
    if run.ok:
        return PushResult(tuple(landed))
    refused = refusals[0] if refusals else ""
    if len(refusals) > 1:
        refused += f" (and {len(refusals) - 1} more refused)"
    return _undo(landed, made, refused=refused, interrupted=run.interrupted, jobs=jobs)


def _has_landed(local: Local) -> bool:
    """Whether a push that ended with no word from the remote (Ctrl-C, a timeout) reached it after all."""
    with deferred_interrupts():
        try:
            refs = remote_refs(local.ready.project, [f"refs/tags/{local.ready.release.tag}"])
        except Exception:  # noqa: BLE001 - cannot tell: treat it as landed, the undo's leases keep it safe
            return True
    return refs.get(f"refs/tags/{local.ready.release.tag}") == local.tag_object


def _undo(landed: list[Local], made: Sequence[Local], *, refused: str = "", interrupted: bool = False,
          jobs: int = 4) -> PushResult:
    with deferred_interrupts():
        by_name = {local.name: local for local in landed}
        run = run_parallel(list(by_name), lambda name: undo_push(by_name[name]), jobs=jobs)
        leftovers: list[Leftover] = []
        undone = []
        for outcome in run.outcomes:  # in train order
            local = by_name[outcome.key]  # type: ignore[index]
            if outcome.ok and outcome.value is None:
                undone.append(local.name)
            elif outcome.ok:
                leftovers.append(outcome.value)
            else:
                leftovers.append(Leftover(local.name, f"not put back ({outcome.reason}): origin may still have tag "
                                                      f"{local.ready.release.tag} and {local.ready.branch} at the "
                                                      f"release commit {local.commit[:12]}"))
        leftovers += restore_clones([m.ready for m in made], jobs=jobs)
    return PushResult(tuple(landed), refused, interrupted, tuple(undone), tuple(leftovers))


def undo_push(local: Local) -> Leftover | None:
    """Delete the pushed tag and put the branch back, each leased on what this train pushed."""
    r = local.ready
    path, branch, tag = r.project.path, r.branch, r.release.tag
    url = git.remote_url(path) or ""
    proc = remote_git(["push", "--atomic", "--porcelain", "origin",
                       f"--force-with-lease=refs/heads/{branch}:{local.commit}",
                       f"--force-with-lease=refs/tags/{tag}:{local.tag_object}",
                       f"{r.before}:refs/heads/{branch}", f":refs/tags/{tag}"], path, url)
    if proc.returncode == 0:  # type: ignore[attr-defined]
        git.run_git(["update-ref", f"refs/remotes/origin/{branch}", r.before], cwd=path, check=False)
        return None
    try:
        refs = remote_refs(r.project, [f"refs/heads/{branch}", f"refs/tags/{tag}"])
    except MetaError as exc:
        return Leftover(r.project.name, f"not put back ({exc}): origin may still have tag {tag} and "
                                        f"{branch} at the release commit {local.commit[:12]}")
    now = refs.get(f"refs/heads/{branch}")
    what = []
    if refs.get(f"refs/tags/{tag}") == local.tag_object:
        gone = remote_git(["push", "--porcelain", "origin", f"--force-with-lease=refs/tags/{tag}:{local.tag_object}",
                           f":refs/tags/{tag}"], path, url)
        if gone.returncode != 0:  # type: ignore[attr-defined]
            what.append(f"tag {tag} is still on origin (its deletion was refused)")
    if now == local.commit:
        what.append(f"{branch} is still at the release commit {local.commit[:12]} (putting it back was refused: "
                    f"{_refusal(proc.stdout, proc.stderr)})")  # type: ignore[attr-defined]
    elif now != r.before:
        what.append(f"{branch} has moved on since the train pushed (now {(now or 'deleted')[:12]}): someone pushed on "
                    f"top of the release commit {local.commit[:12]}, so it was left as it is and the release commit "
                    "stays in its history")
    return Leftover(r.project.name, "; ".join(what)) if what else None
