"""`meta release apply --github-release`: one GitHub Release per repository, against recorded responses.

The git side is real (a bare remote on a temp dir); GitHub is the recording
in ``tests/hosting/replay/release_created.json``, replayed at the HTTP seam
(see tests/hosting/recorded.py). The command runs in this process so that
`responses` can stand in for GitHub. Commit dates are fixed, so the
changelog the release carries (with its commit's sha) is the recorded one.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from metarepo.cli.main import main
from metarepo.hosting import client as hosting_client
from tests.conftest import git
from tests.hosting.recorded import replay
from tests.release.conftest import make_plain_fleet

DATE = "2026-11-30T09:00:00+00:00"


@pytest.fixture
def github_fleet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(hosting_client, "THROTTLE", False)
    monkeypatch.setattr(hosting_client, "_sleep", lambda seconds: None)
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_recorded")
    monkeypatch.setenv("GIT_AUTHOR_DATE", DATE)
    monkeypatch.setenv("GIT_COMMITTER_DATE", DATE)
    monkeypatch.setattr("metarepo.release.apply.today", lambda: "2026-12-01")
    root = make_plain_fleet(tmp_path, ("alpha", "bravo"))
    data = json.loads((root / ".meta").read_text())
    data["projects"]["services/alpha"] = "https://github.com/acme/alpha.git"  # the clone still pushes to its bare remote
    (root / ".meta").write_text(json.dumps(data, indent=2) + "\n")
    git("commit", "-qam", "alpha lives on GitHub", cwd=root)
    return root


def test_each_repository_gets_a_github_release_with_its_changelog(github_fleet: Path, capsys) -> None:
    with replay("release_created"):
        with pytest.raises(SystemExit) as ended:
            main(["-C", str(github_fleet), "release", "apply", "--no-rollout", "--github-release", "--json"])
    out, err = capsys.readouterr()
    assert ended.value.code == 0, out + err
    notes = json.loads(out)["notes"]
    assert notes == ["services/alpha: GitHub Release v1.1.0: https://github.com/acme/alpha/releases/tag/v1.1.0",
                     "services/bravo: no GitHub Release (file://" + str(github_fleet.parent / "remotes/bravo.git")
                     + " is not a GitHub repository)"]


def test_no_token_refuses_before_anything_is_tagged(github_fleet: Path, capsys, monkeypatch) -> None:
    monkeypatch.delenv("GITHUB_TOKEN")
    with pytest.raises(SystemExit) as ended:
        main(["-C", str(github_fleet), "release", "apply", "--no-rollout", "--github-release"])
    assert ended.value.code == 2 and "GITHUB_TOKEN is not set" in capsys.readouterr().err
    assert git("tag", "--list", cwd=github_fleet / "services/alpha") == "v1.0.0"
