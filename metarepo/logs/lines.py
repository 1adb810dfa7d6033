"""One line of a service's log, and the platform's timestamp turned into the key the merge sorts by.

Docker writes each line's time as RFC 3339 with the nanoseconds padded to
nine digits (``2026-05-01T12:00:00.120000000Z``); kubectl as Go's
RFC3339Nano, trailing zeros trimmed (``2026-05-01T12:00:00.12Z``), possibly
with an offset. Both become nanoseconds since the epoch (``LogLine.at``),
and the time is shown the first way, so every line's time has one width.
The fast path reads Docker's form with one dict look-up per distinct second.
"""

from __future__ import annotations

import calendar
import re
from datetime import datetime, timezone
from enum import Enum
from typing import NamedTuple


class Stream(Enum):
    STDOUT = "stdout"
    STDERR = "stderr"


class LogLine(NamedTuple):
    at: int  # nanoseconds since the epoch: what lines are merged by
    service: str
    stream: Stream | None  # None where the platform does not say (kubectl merges stdout and stderr)
    text: str  # without its newline
    stamp: str  # ``at`` as RFC 3339, UTC, nine digits of nanoseconds

    def as_json(self) -> dict[str, object]:
        return {"service": self.service, "time": self.stamp, "stream": self.stream.value if self.stream else None,
                "line": self.text}


_SECONDS: dict[str, int] = {}  # "2026-05-01T12:00:00" -> its epoch second, in nanoseconds
_GENERAL = re.compile(r"(\d{4}-\d\d-\d\d)[Tt ](\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|z|[+-]\d\d:\d\d)$")


def parse_stamp(text: str) -> tuple[int, str] | None:
    """``(nanoseconds since the epoch, the time in Docker's fixed form)``, or None when it is not a time."""
    if len(text) == 30 and text[19] == "." and text[29] == "Z":
        second = text[:19]
        base = _SECONDS.get(second)
        if base is None:
            try:
                base = _epoch_ns(second)
            except ValueError:
                return None
            if len(_SECONDS) > 100_000:
                _SECONDS.clear()
            _SECONDS[second] = base
        fraction = text[20:29]
        if not fraction.isdigit():
            return None
        return base + int(fraction), text
    match = _GENERAL.match(text)
    if match is None:
        return None
    day, clock, fraction, zone = match.groups()
    try:
        moment = datetime.fromisoformat(f"{day}T{clock}{'+00:00' if zone in 'Zz' else zone}")
    except ValueError:
        return None
    at = calendar.timegm(moment.utctimetuple()) * 1_000_000_000 + int((fraction or "0").ljust(9, "0"))
    return at, format_ns(at)


def format_ns(at: int) -> str:
    """Nanoseconds since the epoch as ``2026-05-01T12:00:00.120000000Z``."""
    seconds, nanos = divmod(at, 1_000_000_000)
    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S") + f".{nanos:09d}Z"


def _epoch_ns(second: str) -> int:
    moment = datetime.strptime(second, "%Y-%m-%dT%H:%M:%S")
    return calendar.timegm(moment.timetuple()) * 1_000_000_000
