"""Conventional Commits, versions, changelog sections and version files: the pure parts of a train."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from metarepo.errors import ManifestError
from metarepo.release.changelog import changelog_section, with_section
from metarepo.release.conventional import parse_commit
from metarepo.release.version import Bump, Version, parse_version, version_of_tag
from metarepo.release.version_files import bumped_text, read_version_file


@pytest.mark.parametrize(("message", "kind", "scope", "breaking", "bump"), [
    ("feat: a thing", "feat", None, False, Bump.MINOR),
    ("fix(api): a bug", "fix", "api", False, Bump.PATCH),
    ("perf: faster", "perf", None, False, Bump.PATCH),
    ("feat(api)!: drop v1", "feat", "api", True, Bump.MAJOR),
    ("refactor!: anything", "refactor", None, True, Bump.MAJOR),
    ("Fix: capitals are fine", "fix", None, False, Bump.PATCH),
    ("chore: tidy\n\nBREAKING CHANGE: the config moved", "chore", None, True, Bump.MAJOR),
    ("docs: x\n\nBREAKING-CHANGE: a footer with a dash", "docs", None, True, Bump.MAJOR),
    ("docs: readme", "docs", None, False, Bump.NONE),
    ("Update README", None, None, False, Bump.NONE),
    ("feat:no space", None, None, False, Bump.NONE),
    ("feat(): empty scope", "feat", None, False, Bump.MINOR),
    ("fix: x\n\nbreaking change: lower case is not the footer", "fix", None, False, Bump.PATCH),
])
def test_commit_messages(message: str, kind: str | None, scope: str | None, breaking: bool, bump: Bump) -> None:
    commit = parse_commit("a" * 40, message)
    assert (commit.type, commit.scope, commit.breaking, commit.bump) == (kind, scope, breaking, bump)


@given(st.text(max_size=300))
def test_any_message_parses_or_is_unparsed_never_crashes(message: str) -> None:
    commit = parse_commit("0" * 40, message)
    assert commit.parsed == (commit.type is not None)
    assert "\n" not in commit.line


def test_bumps_and_zero_major() -> None:
    assert Version(1, 4, 2).bumped(Bump.MAJOR) == Version(2, 0, 0)
    assert Version(1, 4, 2).bumped(Bump.MINOR) == Version(1, 5, 0)
    assert Version(1, 4, 2).bumped(Bump.PATCH) == Version(1, 4, 3)
    assert Version(0, 9, 1).bumped(Bump.MAJOR) == Version(0, 10, 0)  # while 0.x, breaking is minor
    assert parse_version("1.02.3") is None and parse_version("1.2.3-rc.1") is None
    assert version_of_tag("release-1.2.3", "release-") == Version(1, 2, 3) and version_of_tag("1.2.3", "v") is None


def test_a_changelog_section_groups_by_type_and_goes_on_top() -> None:
    commits = [parse_commit("1" * 40, "fix(db): reconnect"), parse_commit("2" * 40, "feat!: new api"),
               parse_commit("3" * 40, "docs: words"), parse_commit("4" * 40, "feat: more")]
    section = changelog_section("2.0.0", "2026-12-01", commits, unparsed_counted=True)
    assert section == ("## 2.0.0 (2026-12-01)\n\n### Breaking changes\n\n- new api (2222222)\n\n"
                       "### Features\n\n- more (4444444)\n\n### Bug fixes\n\n- **db:** reconnect (1111111)\n")
    old = "# Changelog\n\n## 1.0.0 (2026-01-01)\n\n- first\n"
    assert with_section(old, section) == f"# Changelog\n\n{section}\n## 1.0.0 (2026-01-01)\n\n- first\n"
    assert with_section(None, section) == f"# Changelog\n\n{section}"
    assert with_section("Notes by hand\n", section) == f"# Changelog\n\n{section}\nNotes by hand\n"


@pytest.mark.parametrize(("name", "text", "why"), [
    ("VERSION", "one\n", "is not MAJOR.MINOR.PATCH"),
    ("pyproject.toml", "[project\nversion = 1", "invalid TOML"),
    ("pyproject.toml", '[project]\nname = "x"\ndynamic = ["version"]\n', "has no [project] version"),
    ("Cargo.toml", "[package]\nversion.workspace = true\n", "is not a string"),
    ("package.json", '["version"]', "has no top-level \"version\""),
])
def test_version_files_that_name_no_version_are_refused(tmp_path: Path, name: str, text: str, why: str) -> None:
    (tmp_path / name).write_text(text)
    with pytest.raises(ManifestError, match=re.escape(why)):
        read_version_file(tmp_path / name)


def test_poetry_and_cargo_workspaces_keep_their_layout(tmp_path: Path) -> None:
    poetry = tmp_path / "pyproject.toml"
    poetry.write_text('[tool.poetry]\nname = "x"\nversion   =   "0.1.0"   # bumped by meta\n')
    assert bumped_text(poetry, Version(0, 2, 0)) == '[tool.poetry]\nname = "x"\nversion   =   "0.2.0"   # bumped by meta\n'
    (tmp_path / "c").mkdir()
    cargo = tmp_path / "c" / "Cargo.toml"
    cargo.write_text('[workspace]\nmembers = ["a"]\n\n[workspace.package]\nversion = "3.0.0"\n')
    assert bumped_text(cargo, Version(3, 1, 0)).endswith('[workspace.package]\nversion = "3.1.0"\n')
    assert bumped_text(tmp_path / "VERSION", Version(1, 0, 0)) == "1.0.0\n"  # made when missing


def test_release_settings_of_the_example_manifest_merge_key_by_key(tmp_path: Path) -> None:
    import shutil

    from metarepo.manifest import load_manifest
    from metarepo.release.settings import ReleaseSettings, Unparsed, release_settings
    from tests.conftest import ROOT

    shutil.copy(ROOT / ".meta.example", tmp_path / ".meta")
    manifest = load_manifest(tmp_path)
    assert release_settings(manifest, manifest.project("orders")) == ReleaseSettings("v", ("VERSION",),
                                                                                     Unparsed.PATCH)
    assert release_settings(manifest, manifest.project("billing")) == ReleaseSettings("v", ("pyproject.toml",),
                                                                                      Unparsed.SKIP)
