"""``--since``: a duration back from now (``10m``, ``2h``, ``30s``, ``1h30m``) or an RFC 3339 time."""

from __future__ import annotations

import math
import re
import time
from datetime import datetime

from metarepo.errors import UsageError

_UNITS = {"ms": 1e-3, "s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION = re.compile(r"(?:\d+(?:\.\d+)?(?:ms|s|m|h|d))+")
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_TIME = re.compile(r"\d{4}-\d\d-\d\d[Tt ]\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|z|[+-]\d\d:\d\d)")
_EXAMPLES = "a duration like 10m, 2h or 30s, or an RFC 3339 time like 2026-05-01T12:00:00Z"


def parse_since(value: str, *, now: float | None = None) -> float:
    """The moment ``value`` names, as seconds since the epoch; ``UsageError`` (exit 2) when it names none."""
    text = value.strip()
    now = time.time() if now is None else now
    if _DURATION.fullmatch(text):
        moment = now - sum(float(n) * _UNITS[unit] for n, unit in _PART.findall(text))
        if not math.isfinite(moment) or moment < 0:
            raise UsageError(f"--since {value!r}: reaches back before 1970")
        return moment
    if _TIME.fullmatch(text):
        try:
            return datetime.fromisoformat(text.replace("z", "Z").replace("Z", "+00:00")).timestamp()
        except ValueError as exc:
            raise UsageError(f"--since {value!r}: not a real time ({exc})") from None
    if re.fullmatch(r"\d{4}-\d\d-\d\d[Tt ]\d\d:\d\d(:\d\d(\.\d+)?)?", text):
        raise UsageError(f"--since {value!r}: an RFC 3339 time needs seconds and its zone (Z or +02:00)")
    raise UsageError(f"--since {value!r}: not {_EXAMPLES}")
