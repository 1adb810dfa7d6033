"""HTTP calls to the servers' APIs with the standard library (so a test's `responses` mock never catches them)."""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any


_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback never goes through a proxy


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode(errors="replace")

    def json(self) -> Any:
        return json.loads(self.body)


def call(url: str, method: str = "GET", *, data: Any = None, auth: tuple[str, str] | None = None,
         timeout: float = 10) -> Reply:
    """One request; ``data`` is sent as JSON. A 4xx or 5xx is a reply like another, not an exception."""
    headers = {"Connection": "close"}
    body = None
    if data is not None:
        body = json.dumps(data).encode()
        headers["Content-Type"] = "application/json"
    if auth is not None:
        headers["Authorization"] = "Basic " + base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
    request = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            return Reply(response.status, response.read())
    except urllib.error.HTTPError as error:
        return Reply(error.code, error.read())


def answers(url: str, *, auth: tuple[str, str] | None = None, timeout: float = 2) -> bool:
    """Whether ``url`` answers 200 (a readiness check)."""
    try:
        return call(url, auth=auth, timeout=timeout).status == 200
    except OSError:
        return False
