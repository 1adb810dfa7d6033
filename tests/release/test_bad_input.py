"""Each bad input of a release train is refused in one line, before anything is written or pushed."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import git, run_meta
from tests.release.conftest import make_plain_fleet, remotes_of
from tests.release.test_apply import snapshot


def refused(root: Path, *args: str, code: int = 2) -> str:
    before = snapshot(root), git("rev-parse", "HEAD", cwd=root)
    proc = run_meta("release", "apply", "--no-rollout", *args, cwd=root)
    assert proc.returncode == code, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    # nothing pushed, no release commit or tag anywhere, no train recorded
    assert (snapshot(root), git("rev-parse", "HEAD", cwd=root)) == before
    return proc.stderr


def test_a_dirty_repository(plain_fleet: Path) -> None:
    (plain_fleet / "services/bravo/README.md").write_text("changed\n")
    err = refused(plain_fleet)
    assert "services/bravo has uncommitted changes (1 file(s))" in err and "nothing was changed" in err


def test_a_repository_behind_its_remote(plain_fleet: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    git("clone", "-q", str(remotes_of(plain_fleet)["services/delta"]), str(other), cwd=tmp_path)
    (other / "new.txt").write_text("x\n")
    git("add", ".", cwd=other)
    git("commit", "-qm", "fix: something", cwd=other)
    git("push", "-q", "origin", "master", cwd=other)
    err = refused(plain_fleet)
    assert "services/delta is behind origin's master" in err and "pull first" in err


def test_a_tag_that_exists_here(plain_fleet: Path) -> None:
    echo = plain_fleet / "services/echo"
    elsewhere = git("commit-tree", "HEAD^{tree}", "-m", "a commit on no branch", cwd=echo)
    git("tag", "v1.1.0", elsewhere, cwd=echo)  # taken, though not by a release this history knows
    err = refused(plain_fleet)
    assert "services/echo tag v1.1.0 already exists here" in err


def test_a_tag_that_exists_only_on_the_remote(plain_fleet: Path) -> None:
    remote = remotes_of(plain_fleet)["services/alpha"]
    git("tag", "v1.1.0", "master", cwd=remote)
    err = refused(plain_fleet)
    assert "services/alpha tag v1.1.0 already exists on origin" in err


def test_a_version_file_that_does_not_parse(tmp_path: Path) -> None:
    root = make_plain_fleet(tmp_path, ("alpha", "bravo"), files={"alpha": {"package.json": '{"version": "1.0.0"}'},
                                                                 "bravo": {"package.json": '{"name": "b", \n'}},
                            extra={"release": {"version_files": ["package.json"]}})
    err = refused(root)
    assert err.startswith("meta: services/bravo/package.json:2: invalid JSON") and err.count("\n") == 1
    (root / "services/alpha/package.json").write_text('{"version": "one"}')
    assert "services/alpha/package.json: version 'one' is not MAJOR.MINOR.PATCH" in refused(root)


def test_an_unparseable_commit_message(tmp_path: Path) -> None:
    root = make_plain_fleet(tmp_path, ("alpha",))
    alpha = root / "services/alpha"
    git("commit", "-q", "--allow-empty", "-m", "fix: a real fix", cwd=alpha)
    git("reset", "-q", "--hard", "HEAD~2", cwd=alpha)  # back to the release: only an odd commit follows
    git("commit", "-q", "--allow-empty", "-m", "Tidied things up", cwd=alpha)
    git("push", "-q", "-f", "origin", "master", cwd=alpha)
    plan = json.loads(run_meta("release", "plan", "--json", cwd=root).stdout)
    (release,) = plan["releases"]
    assert (release["unparsed"], release["bump"], release["version"]) == (1, "patch", "1.0.1")
    shown = run_meta("release", "plan", cwd=root).stderr
    assert "services/alpha: 1 commit(s) are not Conventional Commits (counted as a patch; release.unparsed)" in shown
    data = json.loads((root / ".meta").read_text())
    data["metarepo"]["defaults"]["release"] = {"unparsed": "skip"}
    (root / ".meta").write_text(json.dumps(data))
    plan = json.loads(run_meta("release", "plan", "--json", cwd=root).stdout)
    assert plan["releases"] == [] and "1 not Conventional Commits (release.unparsed: skip)" in \
        plan["unchanged"][0]["reason"]


def test_a_release_with_nothing_to_release(plain_fleet: Path) -> None:
    assert run_meta("release", "apply", "--no-rollout", cwd=plain_fleet).returncode == 0
    err = refused(plain_fleet)
    assert err.count("\n") == 1 and "nothing to release" in err and "no commits since v1.1.0" in err


def test_a_train_name_that_is_taken_or_malformed(plain_fleet: Path) -> None:
    assert run_meta("release", "apply", "--no-rollout", "--name", "one", cwd=plain_fleet).returncode == 0
    assert "train 'one' exists already" in refused(plain_fleet, "--name", "one")
    assert "invalid train name '../x'" in refused(plain_fleet, "--name", "../x")


def test_bad_release_settings_name_their_key(plain_fleet: Path) -> None:
    data = json.loads((plain_fleet / ".meta").read_text())
    data["metarepo"]["defaults"]["release"] = {"version_files": ["setup.py"]}
    (plain_fleet / ".meta").write_text(json.dumps(data))
    err = refused(plain_fleet)
    assert err.startswith("meta: .meta: metarepo.defaults.release.version_files: must be a list of VERSION")
    data["metarepo"]["defaults"]["release"] = {"unparsed": "fail"}
    (plain_fleet / ".meta").write_text(json.dumps(data))
    assert "metarepo.defaults.release.unparsed: must be patch or skip" in refused(plain_fleet)


def test_a_rollout_needs_an_environment(plain_fleet: Path) -> None:
    proc = run_meta("release", "apply", cwd=plain_fleet)
    assert proc.returncode == 2 and "--to ENV is needed" in proc.stderr
