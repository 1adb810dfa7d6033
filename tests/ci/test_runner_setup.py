"""How a generated pipeline's runner gets metarepo and the meta repo: `ci_install`, `ci_image`, `meta_repo`,
`meta_branch`, from the manifest, escaped like every other value."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from conftest import git
from metarepo.ci import PROVIDERS
from metarepo.ci.render import render_pipeline
from metarepo.ci.values import RunnerSetup
from metarepo.templating.readback import parse_yaml

from .conftest import FILES, edit_manifest
from .test_render import SETUP, values

PIP = 'install --quiet "$META_INSTALL"'  # pip, or the virtualenv's pip by its path
NO_META = "meta is not on this"


def rendered(provider: str, setup: RunnerSetup) -> str:
    return render_pipeline(None, values(provider, setup=setup)).files[0].text


@pytest.mark.parametrize("provider", PROVIDERS)
def test_the_install_step_installs_ci_install_or_checks_that_the_image_has_meta(provider: str) -> None:
    text = rendered(provider, SETUP)
    assert PIP in text and "python3 -m venv" in text and "git+https://git.acme.io/platform/metarepo.git@v0.1.0" in text
    assert 'git clone --quiet --branch "$META_BRANCH" -- "$META_REPO" "$META_ROOT"' in text
    assert "https://git.acme.io/acme/meta.git" in text
    bare = rendered(provider, dataclasses.replace(SETUP, install=""))
    assert PIP not in bare and "META_INSTALL" not in bare and "python3 -m venv" not in bare
    assert NO_META in bare  # a runner without meta stops with a line saying what to set
    assert 'meta -C "$META_ROOT" update' in bare


def test_ci_image_is_the_image_of_the_jobs_that_run_meta() -> None:
    setup = dataclasses.replace(SETUP, image="registry.acme.io/platform/meta-runner:1.2")
    gitlab = parse_yaml(rendered("gitlab", setup))
    assert gitlab[".metarepo"]["image"] == "registry.acme.io/platform/meta-runner:1.2"
    assert [job for job, spec in gitlab.items() if isinstance(spec, dict) and spec.get("extends") == ".metarepo"] == \
        ["contracts", "deploy-staging", "deploy-production"]
    assert parse_yaml(rendered("gitlab", SETUP))[".metarepo"]["image"] == "python:3.14"

    circleci = parse_yaml(rendered("circleci", setup))["jobs"]
    assert {job: spec["docker"][0]["image"] for job, spec in circleci.items()} == {
        "test": "cimg/base:current", "contracts": setup.image, "build-image": "cimg/base:current",
        "deploy-staging": setup.image, "deploy-production": setup.image}

    github = parse_yaml(rendered("github", setup))["jobs"]
    assert {job: spec.get("container") for job, spec in github.items()} == {
        "test": None, "contracts": setup.image, "build-image": None, "deploy-staging": setup.image,
        "deploy-production": setup.image}
    assert not any("setup-python" in step.get("uses", "") for job in github.values() for step in job["steps"])
    plain = parse_yaml(rendered("github", SETUP))["jobs"]
    assert [step["uses"] for step in plain["contracts"]["steps"] if "uses" in step] == \
        ["actions/checkout@v7", "actions/setup-python@v7"]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_the_deploy_jobs_push_the_environment_record_back_to_the_meta_repo(provider: str) -> None:
    text = rendered(provider, SETUP)
    push = 'git -C "$META_ROOT" push --quiet origin "HEAD:$META_BRANCH"'
    assert text.count(push) == 2  # staging and production
    assert text.index('rollout staging --include-only "$META_PROJECT"') < text.index(push)


def test_the_meta_repo_defaults_to_its_origin_without_credentials_and_settings_win(meta, ws: Path) -> None:
    origin = git("remote", "get-url", "origin", cwd=ws)
    assert meta("ci", "generate", "--provider", "gitlab", "--include-only", "orders", cwd=ws).returncode == 0
    variables = parse_yaml((ws / "services/orders/.gitlab-ci.yml").read_text())["variables"]
    assert variables["META_REPO"] == {"value": origin, "expand": False}
    assert variables["META_BRANCH"] == {"value": "master", "expand": False}
    assert "META_INSTALL" not in variables  # the example fleet does not set ci_install

    git("remote", "set-url", "origin", "https://ci-bot:s3cr3t@git.example.invalid/acme/meta.git", cwd=ws)
    assert meta("ci", "generate", "--include-only", "orders", cwd=ws).returncode == 0
    text = (ws / "services/orders/.gitlab-ci.yml").read_text()
    assert "s3cr3t" not in text and "ci-bot" not in text
    assert parse_yaml(text)["variables"]["META_REPO"]["value"] == "https://git.example.invalid/acme/meta.git"

    edit_manifest(ws, lambda d: d["metarepo"]["defaults"].update(
        meta_repo="git@git.acme.io:platform/meta.git", meta_branch="main", ci_install="metarepo==2.0.1"))
    assert meta("ci", "check", "--include-only", "orders", cwd=ws).returncode == 1  # a setting change is drift
    assert meta("ci", "generate", "--include-only", "orders", cwd=ws).returncode == 0
    variables = parse_yaml((ws / "services/orders/.gitlab-ci.yml").read_text())["variables"]
    assert [variables[k]["value"] for k in ("META_REPO", "META_BRANCH", "META_INSTALL")] == [
        "git@git.acme.io:platform/meta.git", "main", "metarepo==2.0.1"]


def test_a_meta_repo_without_origin_or_meta_repo_is_one_clear_error(meta, ws: Path) -> None:
    git("remote", "remove", "origin", cwd=ws)
    proc = meta("ci", "generate", "--include-only", "orders", cwd=ws)
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1
    assert "metarepo.projects.services/orders.meta_repo: no URL for the runners to clone the meta repo from" in \
        proc.stderr and "set metarepo.defaults.meta_repo" in proc.stderr
    assert not (ws / "services/orders" / FILES["github"]).exists()
    edit_manifest(ws, lambda d: d["metarepo"]["defaults"].update(meta_repo="https://git.acme.io/acme/meta.git"))
    proc = meta("ci", "generate", "--include-only", "orders", cwd=ws)
    assert proc.returncode == 2 and "meta_branch: no branch known for the meta repo" in proc.stderr
    edit_manifest(ws, lambda d: d["metarepo"]["defaults"].update(meta_branch="master"))
    assert meta("ci", "generate", "--include-only", "orders", cwd=ws).returncode == 0


def test_ci_install_false_means_the_image_has_meta(meta, ws: Path) -> None:
    edit_manifest(ws, lambda d: d["metarepo"]["defaults"].update(ci_install=False, ci_image="acme/meta-runner:1"))
    assert meta("ci", "generate", "--provider", "circleci", "--include-only", "orders", cwd=ws).returncode == 0
    text = (ws / "services/orders/.circleci/config.yml").read_text()
    assert PIP not in text and NO_META in text and '- image: "acme/meta-runner:1"' in text
    assert json.loads((ws / ".meta").read_text())["metarepo"]["projects"]["services/orders"]["ci"] == "circleci"
