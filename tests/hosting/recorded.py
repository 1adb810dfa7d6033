"""Replaying recorded GitHub API responses at the HTTP seam (PyGithub's ReplayData approach, with `responses`).

Each file in ``replay/`` is a list of interactions, in the order the client
must make them: the request (method, path, query, JSON body) and the
response GitHub gave (status, headers, JSON body). A request that is out of
order, has other query parameters or another body fails the test, and so
does a recorded request that was never made.
"""

from __future__ import annotations

import contextlib
import json
import time
from pathlib import Path
from typing import Iterator
from urllib.parse import urlsplit, urlunsplit

import responses
from responses import matchers
from responses.registries import OrderedRegistry

REPLAY = Path(__file__).parent / "replay"
PUBLIC = "https://api.github.com"


def _with_port(url: str) -> str:
    """PyGithub sends the port explicitly (``https://api.github.com:443/...``), so the recording does too."""
    parts = urlsplit(url)
    if parts.port is None:
        parts = parts._replace(netloc=f"{parts.netloc}:{443 if parts.scheme == 'https' else 80}")
    return urlunsplit(parts)


@contextlib.contextmanager
def replay(*names: str, base_url: str = PUBLIC) -> Iterator[responses.RequestsMock]:
    """Serve the named recordings, one after the other, for requests under ``base_url``."""
    with responses.RequestsMock(registry=OrderedRegistry, assert_all_requests_are_fired=True) as mock:
        for name in names:
            document = json.loads((REPLAY / f"{name}.json").read_text())
            for interaction in document["interactions"]:
                request, response = interaction["request"], interaction["response"]
                headers = dict(response["headers"])
                if headers.get("X-RateLimit-Reset", "").startswith("RESET_IN_"):
                    seconds = int(headers["X-RateLimit-Reset"][len("RESET_IN_"):-1])
                    headers["X-RateLimit-Reset"] = str(int(time.time()) + seconds)
                headers.pop("Content-Type", None)
                body = json.dumps(response["json"]).replace(PUBLIC, base_url)
                match = [matchers.query_param_matcher(request["query"])]
                if request["json"] is not None:
                    match.append(matchers.json_params_matcher(request["json"]))
                mock.add(request["method"], _with_port(base_url) + request["path"], body=body, status=response["status"],
                         headers=headers, content_type="application/json; charset=utf-8", match=match)
        yield mock
