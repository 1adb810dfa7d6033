"""Pull requests through PyGithub, against recorded GitHub responses at the HTTP seam."""

from __future__ import annotations

import json

import pytest

from metarepo.errors import UsageError
from metarepo.hosting import client as hosting_client
from metarepo.hosting.client import HostingError, base_url, github_client
from metarepo.hosting.pulls import open_or_update, pull_request_status, repo_slug

from .recorded import replay

TITLE = "Bump the version"
BODY = "One change across the fleet, opened by `meta batch pr`.\n"


@pytest.fixture(autouse=True)
def no_pauses(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """No throttling pauses, and rate-limit sleeps recorded instead of slept."""
    slept: list[float] = []
    monkeypatch.setattr(hosting_client, "THROTTLE", False)
    monkeypatch.setattr(hosting_client, "_sleep", slept.append)
    return slept


def client():
    return github_client(None, token="ghp_recorded")


def test_opens_a_pull_request_when_none_is_open() -> None:
    with replay("pr_open") as mock:
        info = open_or_update(client(), "acme/orders", head="bump", base="master", title=TITLE, body=BODY)
        sent = [call.request.headers["Authorization"] for call in mock.calls]
    assert (info.number, info.action, info.state) == (7, "opened", "open")
    assert info.url == "https://github.com/acme/orders/pull/7"
    assert sent == ["token ghp_recorded"] * 2


def test_updates_the_open_pull_request_instead_of_opening_another() -> None:
    with replay("pr_update"):
        info = open_or_update(client(), "acme/orders", head="bump", base="master", title="Bump the version to 2",
                              body=BODY)
    assert (info.number, info.action, info.title) == (7, "updated", "Bump the version to 2")


def test_sends_nothing_when_the_pull_request_is_already_right() -> None:
    with replay("pr_unchanged") as mock:
        info = open_or_update(client(), "acme/orders", head="bump", base="master", title=TITLE, body=BODY)
        calls = len(mock.calls)
    assert info.action == "unchanged" and calls == 1


def test_rate_limits_are_waited_out_and_the_request_repeated(no_pauses: list[float]) -> None:
    with replay("pr_rate_limited") as mock:
        info = open_or_update(client(), "acme/orders", head="bump", base="master", title=TITLE, body=BODY)
        calls = len(mock.calls)
    assert info.action == "opened"
    assert calls == 4
    assert len(no_pauses) == 2
    assert 2 <= no_pauses[0] <= 5  # until X-RateLimit-Reset (3 s from now), plus a second
    assert no_pauses[1] == 7  # Retry-After


def test_an_exhausted_rate_limit_far_from_reset_fails_clearly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hosting_client, "MAX_WAIT", 1.0)
    with replay("pr_rate_limited") as mock:
        mock.assert_all_requests_are_fired = False
        with pytest.raises(Exception) as caught:
            open_or_update(client(), "acme/orders", head="bump", base="master", title=TITLE, body=BODY)
    assert "GitHub rate limit exhausted" in str(caught.value)


def test_a_refused_pull_request_says_why() -> None:
    with replay("pr_no_commits"), pytest.raises(HostingError) as caught:
        open_or_update(client(), "acme/orders", head="bump", base="master", title=TITLE, body=BODY)
    assert "acme/orders: opening a pull request: GitHub said 422 Validation Failed (No commits between master and bump)" \
        == caught.value.message


def test_bad_credentials_say_to_check_the_token() -> None:
    with replay("bad_credentials"), pytest.raises(HostingError) as caught:
        open_or_update(client(), "acme/orders", head="bump", base="master", title=TITLE, body=BODY)
    assert "check GITHUB_TOKEN" in caught.value.message


def test_status_counts_check_runs_and_commit_statuses() -> None:
    with replay("status_failing"):
        info, checks = pull_request_status(client(), "acme/orders", head="bump")
    assert (info.number, info.state) == (7, "open")
    assert (checks.state, checks.passed, checks.failed, checks.pending) == ("failure", 2, 1, 1)
    assert checks.failing == ("test",)


def test_status_of_a_merged_pull_request() -> None:
    with replay("status_merged"):
        info, checks = pull_request_status(client(), "acme/orders", head="bump")
    assert info.state == "merged" and checks.state == "success"


def test_status_without_a_pull_request() -> None:
    with replay("status_none"):
        info, checks = pull_request_status(client(), "acme/billing", head="bump")
    assert info is None and checks.state == "none"


def test_enterprise_base_url_from_the_manifest_or_the_flag(tmp_path) -> None:
    from metarepo.manifest import load_manifest

    (tmp_path / ".meta").write_text(json.dumps({"projects": {}, "metarepo": {
        "github": {"base_url": "https://github.acme.io/api/v3/"}}}))
    manifest = load_manifest(tmp_path)
    assert base_url(manifest) == "https://github.acme.io/api/v3"
    assert base_url(manifest, "https://ghe.example.com/api/v3") == "https://ghe.example.com/api/v3"
    assert base_url(None) == "https://api.github.com"
    with pytest.raises(UsageError):
        base_url(None, "ftp://nope")
    enterprise = github_client(manifest, token="ghp_recorded")
    with replay("pr_open", base_url="https://github.acme.io/api/v3") as mock:
        info = open_or_update(enterprise, "acme/orders", head="bump", base="master", title=TITLE, body=BODY)
        urls = [call.request.url for call in mock.calls]
    assert info.action == "opened"
    assert len(urls) == 2 and all(url.startswith("https://github.acme.io:443/api/v3/repos/acme/orders") for url in urls)


def test_a_missing_token_says_how_to_set_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    with pytest.raises(UsageError) as caught:
        github_client(None)
    assert caught.value.exit_code == 2
    assert "GITHUB_TOKEN is not set" in caught.value.message and "export GITHUB_TOKEN=" in caught.value.message


@pytest.mark.parametrize("url,slug", [
    ("git@github.com:acme/orders.git", "acme/orders"),
    ("https://github.com/acme/orders.git", "acme/orders"),
    ("https://x-access-token:secret@github.acme.io/acme/orders", "acme/orders"),
    ("ssh://git@github.com/acme/orders.git", "acme/orders"),
    ("file:///srv/remotes/orders.git", None),
])
def test_repo_slug(url: str, slug: str | None) -> None:
    assert repo_slug(url) == slug
