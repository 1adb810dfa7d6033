from __future__ import annotations

import pytest

from tests.servers.fixtures import require

NOT_THERE = {"metatest-no-such-server": "metatest-no-such-package"}


def test_a_server_that_is_not_installed_skips_its_tests_naming_the_package(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match=r"apt-get install metatest-no-such-package"):
        require(NOT_THERE, "no-such-server")


def test_under_ci_a_server_that_is_not_installed_fails_its_tests(monkeypatch):
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match=r"CI=true .*apt-get install metatest-no-such-package"):
        require(NOT_THERE, "no-such-server")
    require({"sh": "dash"}, "sh")  # one that is there: nothing happens
