"""RabbitMQ's HTTP management API, through ``requests`` (imported here only, lazily).

Every call has a timeout (connect, then read). What can go wrong becomes one
line: a broker that cannot be reached names its URL and the reason, one
that refuses the credentials names the user (never the password), and any
other refusal carries RabbitMQ's own ``reason``. Errors are raised ``from
None``: no chained exception (whose text or locals might hold the
credentials) travels with them.
"""

from __future__ import annotations

import re
import threading
from typing import Any
from urllib.parse import quote

from metarepo.errors import EngineUnavailable, UsageError, WorkFailed, printable

from metarepo.broker.settings import PASSWORD_VARIABLE, USER_VARIABLE, BrokerSettings, Credentials

CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 30.0
BULK_TIMEOUT = 600.0  # importing thousands of quorum queues in one request
_ERRNO = re.compile(r"\[Errno -?\d+\] ([^'\")\]]+)")


class BrokerRefused(WorkFailed):
    """The broker answered, and said no (its reason kept in ``reason``, its status in ``status``)."""

    def __init__(self, message: str, *, status: int, reason: str) -> None:
        super().__init__(message)
        self.status, self.reason = status, reason


def segment(name: str) -> str:
    """One path segment of the API: ``/`` (the default vhost) is ``%2F``."""
    return quote(name, safe="")


class Management:
    """One broker's management API as one user. Safe to share between threads (a session per thread)."""

    def __init__(self, settings: BrokerSettings, credentials: Credentials) -> None:
        self.url = settings.url
        self.vhost = settings.vhost
        self._credentials = credentials
        self._local = threading.local()

    def __repr__(self) -> str:
        return f"Management({self.url!r}, user={self._credentials.user!r})"

    @property
    def user(self) -> str:
        return self._credentials.user

    @property
    def credentials(self) -> Credentials:
        """For the AMQP connection to the same broker as the same user."""
        return self._credentials

    def _session(self) -> Any:
        session = getattr(self._local, "session", None)
        if session is None:
            import requests

            session = requests.Session()
            session.auth = (self._credentials.user, self._credentials.password)
            session.headers["Content-Type"] = "application/json"
            self._local.session = session
        return session

    def call(self, method: str, path: str, body: Any = None, *, params: dict[str, str] | None = None,
             ok: tuple[int, ...] = (200, 201, 204), timeout: float = READ_TIMEOUT) -> Any:
        """``method`` on ``/api/<path>``; the decoded JSON answer (None when there is none)."""
        import requests

        what = f"{method} /api/{path}"
        try:
            response = self._session().request(method, f"{self.url}/api/{path}", json=body, params=params,
                                               timeout=(CONNECT_TIMEOUT, timeout), allow_redirects=False)
        except requests.exceptions.Timeout:
            raise EngineUnavailable(f"broker {self.url} did not answer {what} within {timeout:g} s",
                                    hint="is it overloaded, or is the url the management API's?") from None
        except requests.exceptions.RequestException as exc:
            raise EngineUnavailable(f"broker {self.url} cannot be reached: {_reason(exc)}",
                                    hint="is RabbitMQ's management plugin listening there? check the "
                                         "environment's broker.url") from None
        if response.status_code == 401:
            raise EngineUnavailable(f"broker {self.url} refused user {self.user!r} (401 Unauthorized)",
                                    hint=f"check {USER_VARIABLE} and {PASSWORD_VARIABLE}") from None
        if response.status_code not in ok:
            reason = _answer_reason(response)
            raise BrokerRefused(f"broker {self.url}: {what} answered {response.status_code}: {reason}",
                                status=response.status_code, reason=reason) from None
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise EngineUnavailable(f"broker {self.url} answered {what} with something that is not JSON",
                                    hint="is the url RabbitMQ's management API (http://host:15672)?") from None

    def overview(self) -> dict[str, Any]:
        """``GET /api/overview``: proves the URL, the credentials and the vhost before anything else."""
        answer = self.call("GET", "overview")
        if not isinstance(answer, dict) or "rabbitmq_version" not in answer:
            raise EngineUnavailable(f"broker {self.url} does not answer like RabbitMQ's management API")
        try:
            self.call("GET", f"vhosts/{segment(self.vhost)}", params={"columns": "name"})
        except BrokerRefused as exc:
            if exc.status == 404:
                raise UsageError(f"broker {self.url} has no vhost {printable(self.vhost)!r}",
                                 hint="create it (rabbitmqctl add_vhost) or fix the environment's broker.vhost"
                                 ) from None
            raise
        return answer

    def vhost_path(self, kind: str, *names: str) -> str:
        """``queues/%2F/name``: a path of this vhost's ``kind`` (``queues``, ``exchanges``, ``bindings``...)."""
        return "/".join([kind, segment(self.vhost), *(segment(n) for n in names)])


def _reason(exc: Exception) -> str:
    text = str(exc)
    found = _ERRNO.findall(text)
    if found:
        return found[-1].strip().lower()
    if "Name or service not known" in text or "nodename nor servname" in text:
        return "unknown host"
    return type(exc).__name__


def _answer_reason(response: Any) -> str:
    try:
        body = response.json()
    except ValueError:
        return printable(response.text.strip().splitlines()[0][:200]) if response.text.strip() else "no reason given"
    text = str(body.get("reason") or body.get("error") or body) if isinstance(body, dict) else str(body)
    return printable((text.strip().splitlines() or ["no reason given"])[0][:300])
