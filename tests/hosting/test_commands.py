"""`meta batch pr`, `meta batch status` and `meta import github` end to end, in-process, against recordings.

The git side is real (a workspace of the example fleet, branches pushed to
bare remotes); GitHub is the recorded responses in ``replay/``. The
commands run in this process so that `responses` can stand in for GitHub.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from metarepo.cli.main import main
from metarepo.hosting import client as hosting_client

from .recorded import replay

BODY = "One change across the fleet, opened by `meta batch pr`.\n"


@pytest.fixture(autouse=True)
def recorded_github(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hosting_client, "THROTTLE", False)
    monkeypatch.setattr(hosting_client, "_sleep", lambda seconds: None)
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_recorded")


def meta_here(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as ended:
        main(list(args))
    out, err = capsys.readouterr()
    return ended.value.code, out, err


def test_a_batch_change_lands_as_branches_and_recorded_pull_request_calls(meta, workspace: Path, capsys,
                                                                          tmp_path: Path) -> None:
    data = json.loads((workspace / ".meta").read_text())
    data["projects"] = {name: f"https://github.com/acme/{name.rsplit('/', 1)[1]}.git" for name in data["projects"]}
    (workspace / ".meta").write_text(json.dumps(data, indent=2) + "\n")  # the clones still push to bare remotes
    run = meta("batch", "run", "-b", "bump", "-m", "Bump the version", "--", "sh", "-c",
               'test "$META_PROJECT" = services/orders && echo 2 > VERSION || true', cwd=workspace)
    assert run.returncode == 0, run.stdout + run.stderr
    assert meta("batch", "push", cwd=workspace).returncode == 0
    body = tmp_path / "body.md"
    body.write_text(BODY)
    with replay("pr_open"):
        code, out, err = meta_here(capsys, "-C", str(workspace), "batch", "pr", "--title", "Bump the version",
                                   "--body-file", str(body))
    assert code == 0, err
    assert "services/orders: #7 opened (open) https://github.com/acme/orders/pull/7" in out
    assert out.count("skipped, branch bump is not on origin") == 4
    with replay("status_failing"):
        code, out, err = meta_here(capsys, "-C", str(workspace), "batch", "status", "--json", "--include-only",
                                   "orders")
    assert code == 0, err
    document = json.loads(out)
    (orders,) = document["projects"]
    assert orders["result"]["pull_request"]["number"] == 7
    assert orders["result"]["checks"] == {"state": "failure", "passed": 2, "failed": 1, "pending": 1,
                                          "failing": ["test"]}


def _one_pushed_change(meta, workspace: Path) -> None:
    data = json.loads((workspace / ".meta").read_text())
    data["projects"] = {name: f"https://github.com/acme/{name.rsplit('/', 1)[1]}.git" for name in data["projects"]}
    (workspace / ".meta").write_text(json.dumps(data, indent=2) + "\n")  # the clones still push to bare remotes
    run = meta("batch", "run", "-b", "bump", "-m", "Bump the version", "--include-only", "orders", "--", "sh", "-c",
               "echo 2 > VERSION", cwd=workspace)
    assert run.returncode == 0, run.stdout + run.stderr
    assert meta("batch", "push", cwd=workspace).returncode == 0


def test_batch_pr_draft_opens_a_draft(meta, workspace: Path, capsys, tmp_path: Path) -> None:
    _one_pushed_change(meta, workspace)
    body = tmp_path / "body.md"
    body.write_text(BODY)
    with replay("pr_draft"):  # the recorded POST must carry "draft": true, or the request matches nothing
        code, out, err = meta_here(capsys, "-C", str(workspace), "batch", "pr", "--title", "Bump the version",
                                   "--body-file", str(body), "--draft", "--include-only", "orders")
    assert code == 0, err
    assert "services/orders: #7 opened (draft) https://github.com/acme/orders/pull/7" in out


def test_batch_status_table(meta, workspace: Path, capsys) -> None:
    _one_pushed_change(meta, workspace)
    with replay("status_failing"):
        code, out, err = meta_here(capsys, "-C", str(workspace), "batch", "status", "--include-only", "orders")
    assert code == 0, err
    header, row = out.splitlines()[:2]
    assert header.split() == ["PROJECT", "PR", "STATE", "CHECKS", "URL"]
    assert row.split() == ["services/orders", "#7", "open", "failure", "(test)", "https://github.com/acme/orders/pull/7"]


def test_batch_pr_without_a_token_is_one_clear_line(capsys, workspace: Path, monkeypatch) -> None:
    monkeypatch.delenv("GITHUB_TOKEN")
    code, out, err = meta_here(capsys, "-C", str(workspace), "batch", "pr", "--title", "x", "--branch", "bump")
    assert code == 2
    assert err.strip() == ("meta: GITHUB_TOKEN is not set: create a token that can push and open pull requests, "
                           "then run `export GITHUB_TOKEN=<token>`")


@pytest.fixture
def meta_repo(tmp_path: Path) -> Path:
    root = tmp_path / "meta"
    root.mkdir()
    (root / ".meta").write_text(json.dumps({
        "projects": {"services/orders": "git@github.com:acme/orders.git"},
        "metarepo": {"defaults": {"branch": "master"}}}, indent=2) + "\n")
    (root / ".gitignore").write_text("services/orders\n")
    return root


def test_import_github_adds_the_organisations_repos(capsys, meta_repo: Path) -> None:
    with replay("org_repos"):
        code, out, err = meta_here(capsys, "-C", str(meta_repo), "import", "github", "acme", "--no-archived",
                                   "--no-forks", "--prefix", "services")
    assert code == 0, err
    data = json.loads((meta_repo / ".meta").read_text())
    assert data["projects"] == {
        "services/orders": "git@github.com:acme/orders.git",
        "services/billing": "git@github.com:acme/billing.git",
        "services/gateway": "git@github.com:acme/gateway.git",
        "services/website": "git@github.com:acme/website.git",
    }
    assert data["metarepo"]["projects"] == {"services/gateway": {"branch": "main"},
                                            "services/website": {"branch": "main"}}
    assert "acme/orders: skipped, services/orders is already in the manifest" in err
    assert "3 added, 1 skipped" in err
    assert (meta_repo / ".gitignore").read_text().splitlines() == ["services/orders", "services/billing",
                                                                  "services/gateway", "services/website"]


def test_import_github_by_topic_keeps_archived_and_forks_unless_told(capsys, meta_repo: Path) -> None:
    with replay("org_repos"):
        code, out, err = meta_here(capsys, "-C", str(meta_repo), "import", "github", "acme", "--topic", "service",
                                   "--https", "--dry-run", "--json")
    assert code == 0, err
    names = [r["full_name"] for r in json.loads(out)["repositories"]]
    assert names == ["acme/billing", "acme/gateway", "acme/legacy-billing", "acme/orders", "acme/orders-fork"]
    assert json.loads((meta_repo / ".meta").read_text())["projects"] == {
        "services/orders": "git@github.com:acme/orders.git"}


def test_import_github_unknown_org(capsys, meta_repo: Path) -> None:
    with replay("org_missing"):
        code, out, err = meta_here(capsys, "-C", str(meta_repo), "import", "github", "nosuchorg")
    assert code == 2
    assert "no organisation 'nosuchorg' on GitHub" in err


def test_ci_generate_on_a_branch_reaches_every_repo_as_pull_requests(meta, workspace: Path, capsys) -> None:
    data = json.loads((workspace / ".meta").read_text())
    data["projects"] = {name: f"git@github.com:acme/{name.rsplit('/', 1)[1]}.git" for name in data["projects"]}
    (workspace / ".meta").write_text(json.dumps(data, indent=2) + "\n")
    with replay("ci_fix_prs"):
        code, out, err = meta_here(capsys, "-C", str(workspace), "ci", "generate", "--include-only", "orders,billing",
                                   "--branch", "ci-fix", "--pr", "--title", "Fix the deploy step")
    assert code == 0, out + err
    assert "services/orders: #8 opened https://github.com/acme/orders/pull/8" in out
    assert "services/billing: #3 updated https://github.com/acme/billing/pull/3" in out
    for name in ("orders", "billing"):
        clone = workspace / "services" / name
        pushed = subprocess.run(["git", "ls-remote", "origin", "refs/heads/ci-fix"], cwd=clone, capture_output=True,
                                text=True).stdout.split()
        assert pushed and pushed[0] == subprocess.run(["git", "rev-parse", "ci-fix"], cwd=clone, capture_output=True,
                                                      text=True).stdout.strip()
