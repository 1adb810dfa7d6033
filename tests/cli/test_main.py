"""The root command: fast start, the error boundary."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("docker", "networkx", "github", "jinja2", "git", "jsonschema", "requests", "rich", "yaml")


def test_help_imports_no_heavy_library():
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "metarepo", "--help"],
                          capture_output=True, text=True)
    assert proc.returncode == 0 and "Commands:" in proc.stdout
    imported = {line.rsplit("|", 1)[-1].strip().split(".")[0] for line in proc.stderr.splitlines() if "|" in line}
    assert not imported & set(HEAVY), imported & set(HEAVY)


def test_unknown_command_is_a_usage_error(meta, tmp_path):
    proc = meta("frobnicate", cwd=tmp_path)
    assert proc.returncode == 2 and "No such command" in proc.stderr


def test_a_mistyped_command_gets_a_suggestion(meta, tmp_path):
    proc = meta("exce", "ls", cwd=tmp_path)
    assert proc.returncode == 2 and "No such command 'exce'. Did you mean 'exec'?" in proc.stderr
    proc = meta("batch", "rnu", cwd=tmp_path)  # a group's subcommand, as click does it
    assert proc.returncode == 2 and "Did you mean 'run'?" in proc.stderr


def test_version(meta, tmp_path):
    proc = meta("--version", cwd=tmp_path)
    assert proc.returncode == 0 and proc.stdout.startswith("meta, version")


def test_the_package_declares_its_licence_as_an_spdx_expression():
    """The license table is deprecated (setuptools warned three times on every install)."""
    from importlib.metadata import metadata

    assert metadata("metarepo")["License-Expression"] == "MIT"
