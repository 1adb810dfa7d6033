"""What a new user meets on the command line: bad values and typos are refused before anything runs."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("value", ["inf", "nan", "-inf", "1e400", "0", "-1", "soon"])
def test_a_timeout_must_be_a_finite_number_of_seconds(meta, tmp_path, value):
    for command in (("exec", "--timeout", value, "true"), ("batch", "run", "-b", "x", "-m", "y", "--timeout", value,
                                                          "--", "true")):
        proc = meta(*command, cwd=tmp_path)
        assert proc.returncode == 2, (command, proc.stderr)
        assert "Invalid value for '--timeout'" in proc.stderr and "Traceback" not in proc.stderr
