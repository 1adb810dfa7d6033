"""Asking Prometheus and Alertmanager over their HTTP APIs, with a timeout on every call.

``Prometheus.query(expr)`` is an instant query (``GET /api/v1/query``): the
samples of a vector, or the one value of a scalar. ``Alertmanager.firing
(labels)`` is ``GET /api/v2/alerts?active=true&silenced=false&inhibited=false``
with one ``filter`` per label: the alerts firing now that nobody silenced.

Anything that is not an answer (the server unreachable, slow, answering an
error or something that is not its API) raises ``SourceError`` with one line
saying which server and what happened; a query Prometheus cannot parse is a
``QueryRejected``. A URL's password (``http://user:secret@host``) is sent
as basic auth and never shown.
"""

from __future__ import annotations

import base64
import json
import math
import socket
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any, Mapping

from metarepo.monitor.promql import escape

MAX_ANSWER = 8 * 1024 * 1024  # bytes: an answer larger than this is refused, not read into memory
MAX_SERIES = 1000


class SourceError(Exception):
    """Prometheus or Alertmanager could not be asked; the message is one line for a person."""


class QueryRejected(SourceError):
    """Prometheus refused the query itself (a parse error): a mistake in .meta, not an outage."""


@dataclass(frozen=True)
class Sample:
    labels: Mapping[str, str]
    value: float
    text: str  # as Prometheus wrote it ("0.25", "NaN", "+Inf")

    @property
    def known(self) -> bool:
        return not math.isnan(self.value)


@dataclass(frozen=True)
class Alert:
    name: str
    labels: Mapping[str, str]
    starts_at: str = ""


def _split_credentials(url: str) -> tuple[str, dict[str, str], str]:
    """(URL without its userinfo, headers carrying it as basic auth, the URL as it may be shown)."""
    parts = urllib.parse.urlsplit(url)
    if parts.username is None and parts.password is None:
        return url, {}, url
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = host + (f":{parts.port}" if parts.port else "")
    bare = urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    token = f"{urllib.parse.unquote(parts.username or '')}:{urllib.parse.unquote(parts.password or '')}"
    return bare, {"Authorization": "Basic " + base64.b64encode(token.encode()).decode()}, bare


class _Api:
    what = "server"

    def __init__(self, url: str, timeout: float) -> None:
        self.url, self._headers, self.shown = _split_credentials(url.rstrip("/"))
        self.timeout = timeout

    def get(self, path: str, params: list[tuple[str, str]]) -> tuple[int, Any]:
        """(status, parsed JSON) of ``GET path?params``; ``SourceError`` when there is no JSON answer."""
        request = urllib.request.Request(f"{self.url}{path}?{urllib.parse.urlencode(params)}",
                                         headers={"Accept": "application/json", **self._headers})
        where = f"{self.what} at {self.shown}"
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                status, body = response.status, response.read(MAX_ANSWER + 1)
        except urllib.error.HTTPError as error:
            status, body = error.code, error.read(MAX_ANSWER + 1)
        except (socket.timeout, TimeoutError):
            raise SourceError(f"{where} did not answer within {self.timeout:g}s") from None
        except urllib.error.URLError as error:
            reason = error.reason
            if isinstance(reason, (socket.timeout, TimeoutError)):
                raise SourceError(f"{where} did not answer within {self.timeout:g}s") from None
            raise SourceError(f"{where} is unreachable ({_reason(reason)})") from None
        except (OSError, ValueError) as error:  # a reset connection, a malformed reply
            raise SourceError(f"{where} is unreachable ({_reason(error)})") from None
        if len(body) > MAX_ANSWER:
            raise SourceError(f"{where} answered more than {MAX_ANSWER // (1024 * 1024)} MB; refused")
        try:
            return status, json.loads(body)
        except ValueError:
            first = body.decode("utf-8", "replace").strip().splitlines()[:1]
            raise SourceError(f"{where} answered {status} with something that is not its API"
                              + (f": {first[0][:120]}" if first else "")) from None


class Prometheus(_Api):
    what = "Prometheus"

    def query(self, expr: str) -> list[Sample]:
        """The instant query ``expr`` now: its samples (no series is an empty list)."""
        status, doc = self.get("/api/v1/query", [("query", expr)])
        if not isinstance(doc, dict):
            raise SourceError(f"Prometheus at {self.shown} answered {status} with something that is not its API")
        if doc.get("status") != "success":
            error = _one_line(str(doc.get("error") or f"status {status}"))
            if doc.get("errorType") == "bad_data":
                raise QueryRejected(f"Prometheus rejects the query: {error}")
            raise SourceError(f"Prometheus at {self.shown} answered {status}: {doc.get('errorType', 'error')}: {error}")
        data = doc.get("data") or {}
        kind, result = data.get("resultType"), data.get("result")
        try:
            if kind == "scalar":
                return [_sample({}, result[1])]
            if kind == "vector":
                if len(result) > MAX_SERIES:
                    raise SourceError(f"the query returns {len(result)} series (more than {MAX_SERIES}): "
                                      "aggregate it (sum, max) to a few")
                return [_sample(item.get("metric") or {}, item["value"][1]) for item in result]
        except (TypeError, KeyError, IndexError, ValueError):
            raise SourceError(f"Prometheus at {self.shown} answered a result this cannot read") from None
        raise SourceError(f"the query returns a {kind}, not an instant vector or a scalar "
                          "(a range selector [5m] needs a function such as rate() around it)")


class Alertmanager(_Api):
    what = "Alertmanager"

    def firing(self, labels: Mapping[str, str]) -> list[Alert]:
        """The alerts firing now, not silenced or inhibited, whose labels include ``labels``."""
        params = [("active", "true"), ("silenced", "false"), ("inhibited", "false")]
        params += [("filter", f'{name}="{escape(value)}"') for name, value in labels.items()]
        status, doc = self.get("/api/v2/alerts", params)
        if status != 200 or not isinstance(doc, list):
            detail = doc.get("message") if isinstance(doc, dict) else None
            raise SourceError(f"Alertmanager at {self.shown} answered {status}"
                              + (f": {_one_line(str(detail))}" if detail else ""))
        alerts = []
        for item in doc:
            found = item.get("labels") if isinstance(item, dict) else None
            if not isinstance(found, dict) or any(found.get(k) != v for k, v in labels.items()):
                continue  # not what was asked for, whatever the server says
            state = (item.get("status") or {}).get("state", "active")
            if state != "active":
                continue
            alerts.append(Alert(str(found.get("alertname", "?")), found, str(item.get("startsAt") or "")))
        return alerts


def _sample(labels: Mapping[str, Any], text: Any) -> Sample:
    return Sample({str(k): str(v) for k, v in labels.items()}, float(text), str(text))


def _reason(reason: Any) -> str:
    text = getattr(reason, "strerror", None) or str(reason) or type(reason).__name__
    return _one_line(str(text)).lower() if isinstance(reason, OSError) else _one_line(str(text))


def _one_line(text: str, limit: int = 200) -> str:
    from metarepo.errors import printable

    line = " ".join(text.split())
    return printable(line[:limit] + ("…" if len(line) > limit else ""))
