"""`meta release apply` on real clones and bare remotes: tags everywhere, or every remote as it was."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import git, run_meta
from tests.release.conftest import clone_state, refs, reject_pushes, remotes_of


def snapshot(root: Path) -> dict[str, tuple]:
    """Every remote's refs and every clone's refs, branch and status."""
    return {name: (refs(remote), clone_state(root / name)) for name, remote in remotes_of(root).items()}


def test_a_train_tags_every_repository_and_is_recorded(plain_fleet: Path) -> None:
    root = plain_fleet
    proc = run_meta("release", "apply", "--no-rollout", "--name", "spring", "--json", cwd=root)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["ok"] and doc["state"] == "released" and len(doc["pushed"]) == 5
    for name, remote in remotes_of(root).items():
        assert git("tag", "--list", cwd=remote).split() == ["v1.0.0", "v1.1.0"]
        assert git("cat-file", "-t", "v1.1.0", cwd=remote) == "tag"  # annotated
        assert git("log", "-1", "--format=%s", "master", cwd=remote) == "chore(release): 1.1.0"
        assert git("rev-parse", "master", cwd=remote) == git("rev-parse", "HEAD", cwd=root / name)
        changelog = (root / name / "CHANGELOG.md").read_text()
        assert changelog.startswith("# Changelog\n\n## 1.1.0 (")
        assert "### Features\n\n- " in changelog and "gets a feature" in changelog
    record = json.loads((root / "releases" / "spring.json").read_text())
    assert record["state"] == "released" and record["projects"]["services/charlie"]["tag"] == "v1.1.0"
    assert record["projects"]["services/charlie"]["previous"] == "1.0.0"
    assert git("log", "-1", "--format=%s", cwd=root).startswith("release spring: released, alpha 1.1.0")
    assert git("status", "--porcelain", "--", "releases", cwd=root) == ""
    again = run_meta("release", "plan", "--json", cwd=root)
    assert json.loads(again.stdout)["releases"] == []  # the release commit releases nothing of its own
    status = run_meta("release", "status", "--json", cwd=root)
    assert [t["train"] for t in json.loads(status.stdout)["trains"]] == ["spring"]


def test_version_files_are_bumped_in_their_own_formats(tmp_path: Path) -> None:
    from tests.release.conftest import make_plain_fleet

    files = {"alpha": {"pyproject.toml": '[project]\nname = "alpha"  # keep me\nversion = "1.0.0"\n',
                       "package.json": '{\n    "name": "alpha",\n    "version": "1.0.0",\n    "private": true\n}\n',
                       "Cargo.toml": '[package]\nname = "alpha"\nversion = "1.0.0"\n\n[dependencies]\n',
                       "VERSION": "1.0.0\n"}}
    root = make_plain_fleet(tmp_path, ("alpha",), files=files,
                            extra={"release": {"version_files": ["VERSION", "pyproject.toml", "package.json",
                                                                 "Cargo.toml"]}})
    proc = run_meta("release", "apply", "--no-rollout", cwd=root)
    assert proc.returncode == 0, proc.stderr
    alpha = root / "services/alpha"
    assert (alpha / "pyproject.toml").read_text() == '[project]\nname = "alpha"  # keep me\nversion = "1.1.0"\n'
    assert (alpha / "package.json").read_text() == \
        '{\n    "name": "alpha",\n    "version": "1.1.0",\n    "private": true\n}\n'
    assert (alpha / "Cargo.toml").read_text() == '[package]\nname = "alpha"\nversion = "1.1.0"\n\n[dependencies]\n'
    assert (alpha / "VERSION").read_text() == "1.1.0\n"
    assert git("show", "--stat", "--format=", "HEAD", cwd=alpha).count("|") == 5  # four version files + CHANGELOG


def test_a_push_refused_in_the_third_of_five_leaves_every_remote_as_it_was(plain_fleet: Path) -> None:
    root = plain_fleet
    remotes = remotes_of(root)
    reject_pushes(remotes["services/charlie"])
    before = snapshot(root)
    proc = run_meta("release", "apply", "--no-rollout", "--name", "frozen", cwd=root)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "services/charlie" in proc.stderr and "releases are frozen on this repository" in proc.stderr
    assert "put back (tag deleted, branch reset): services/alpha, services/bravo" in proc.stderr
    assert snapshot(root) == before  # every remote and every clone, byte for byte
    assert not (root / "releases").exists()
    assert git("status", "--porcelain", cwd=root) == ""


def test_the_pushes_run_side_by_side(plain_fleet: Path, tmp_path: Path) -> None:
    # Each remote's hook says it has arrived, then waits (10 s at most) for another push to arrive too:
    # pushed one at a time, every hook waits alone and says so.
    root = plain_fleet
    arrived = tmp_path / "arrived"
    arrived.mkdir()
    for name, remote in remotes_of(root).items():
        reject_pushes(remote, f'touch "{arrived}/{name.replace("/", "-")}"\n'
                              f'for i in $(seq 100); do [ "$(ls "{arrived}" | wc -l)" -ge 2 ] && exit 0; sleep 0.1; done\n'
                              f'touch "{arrived}/alone"\nexit 0\n')
    proc = run_meta("release", "apply", "--no-rollout", "-j", "5", cwd=root)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert not (arrived / "alone").exists(), "a push waited alone: the pushes ran one at a time"
    assert len(list(arrived.iterdir())) == 5


def test_a_push_cut_off_after_it_landed_is_put_back_too(plain_fleet: Path) -> None:
    # charlie's remote takes the release, then its receive-pack dies before it can say so: git push fails
    # with "the remote end hung up" and no refusal, so the train asks the remote and puts charlie back too.
    root = plain_fleet
    remotes = remotes_of(root)
    hook = remotes["services/charlie"] / "hooks" / "reference-transaction"
    hook.write_text('#!/bin/sh\n[ "$1" = committed ] && [ ! -e "$0.done" ] && touch "$0.done" && kill -9 $PPID\n'
                    'exit 0\n')
    hook.chmod(0o755)
    before = snapshot(root)
    proc = run_meta("release", "apply", "--no-rollout", "-j", "1", cwd=root)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "services/charlie" in proc.stderr and "hung up" in proc.stderr
    assert "put back (tag deleted, branch reset): services/alpha, services/bravo, services/charlie" in proc.stderr
    assert snapshot(root) == before  # charlie's remote too: it had the tag and the release commit
    assert not (root / "releases").exists()


def test_a_release_commit_refused_in_one_clone_puts_every_clone_back_and_pushes_nothing(plain_fleet: Path) -> None:
    root = plain_fleet
    hook = root / "services/charlie/.git/hooks/pre-commit"
    hook.write_text("#!/bin/sh\necho 'commits are checked here' >&2\nexit 1\n")
    hook.chmod(0o755)
    before = snapshot(root)
    proc = run_meta("release", "apply", "--no-rollout", "-j", "5", cwd=root)
    assert proc.returncode != 0, proc.stdout + proc.stderr
    assert "commit" in proc.stderr and "Traceback" not in proc.stderr
    assert snapshot(root) == before  # no release commit or tag left in any clone, nothing pushed
    for name in ("alpha", "bravo", "delta", "echo"):
        assert not (root / "services" / name / "CHANGELOG.md").exists()
    assert not (root / "releases").exists()


def test_an_untracked_changelog_is_in_the_way_even_where_git_status_hides_untracked_files(plain_fleet: Path) -> None:
    root = plain_fleet
    bravo = root / "services/bravo"
    git("config", "status.showUntrackedFiles", "no", cwd=bravo)
    (bravo / "CHANGELOG.md").write_text("my own notes, not committed\n")
    before = snapshot(root)
    proc = run_meta("release", "apply", "--no-rollout", cwd=root)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "services/bravo" in proc.stderr and "uncommitted changes" in proc.stderr
    assert (bravo / "CHANGELOG.md").read_text() == "my own notes, not committed\n"
    assert snapshot(root) == before


def test_a_commit_pushed_on_top_meanwhile_is_kept_and_named(plain_fleet: Path, tmp_path: Path) -> None:
    root = plain_fleet
    remotes = remotes_of(root)
    # Somebody pushes to alpha while the train is on its way; then charlie refuses the train.
    other = tmp_path / "someone"
    git("clone", "-q", str(remotes["services/alpha"]), str(other), cwd=tmp_path)
    script = (f'cd "{other}" && unset GIT_DIR GIT_QUARANTINE_PATH GIT_OBJECT_DIRECTORY GIT_ALTERNATE_OBJECT_DIRECTORIES'
              f' && git pull -q && echo theirs > theirs.txt && git add theirs.txt && git commit -qm "feat: theirs" '
              f'&& git push -q origin master\necho "no" >&2\nexit 1\n')
    reject_pushes(remotes["services/charlie"], script)
    before = snapshot(root)
    proc = run_meta("release", "apply", "--no-rollout", cwd=root)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "services/alpha: left as it is:" in proc.stderr and "someone pushed on top" in proc.stderr
    alpha = remotes["services/alpha"]
    assert git("tag", "--list", cwd=alpha).split() == ["v1.0.0"]  # the train's tag is gone even there
    assert git("log", "--format=%s", "-2", "master", cwd=alpha).splitlines() == ["feat: theirs",
                                                                               "chore(release): 1.1.0"]
    after = snapshot(root)
    for name in ("services/bravo", "services/charlie", "services/delta", "services/echo"):
        assert after[name] == before[name]
    assert clone_state(root / "services/alpha")[1:] == before["services/alpha"][1][1:]
    assert git("rev-parse", "HEAD", cwd=root / "services/alpha") == \
        git("rev-parse", "master~2", cwd=alpha)  # the clone is back where it was


def test_ctrl_c_during_the_push_puts_every_remote_back(plain_fleet: Path, tmp_path: Path) -> None:
    root = plain_fleet
    remotes = remotes_of(root)
    started = tmp_path / "hook-started"
    reject_pushes(remotes["services/charlie"], f'touch "{started}"\nsleep 60\nexit 0\n')
    before = snapshot(root)
    proc = subprocess.Popen([sys.executable, "-m", "metarepo", "release", "apply", "--no-rollout"], cwd=root,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not started.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert started.exists(), "the push never reached charlie"
    os.kill(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, out + err
    assert "interrupted" in err
    assert snapshot(root) == before
    assert not (root / "releases").exists()
