"""The broker over AMQP 0-9-1 (``pika``, imported here only), for what the HTTP API cannot do safely.

The management API's message counts are statistics, refreshed every few
seconds, and quorum queues refuse ``DELETE ?if-empty=true``; a passive
``queue.declare`` answers with the count of ready messages and consumers
as they are now. The probe's temporary queues are exclusive to this
connection: the broker removes them when it closes, however it closes.

The AMQP address is the management URL's host and the port of the node's
``amqp`` listener (``GET /api/overview``), or its ``amqp/ssl`` one over TLS.
"""

from __future__ import annotations

import contextlib
from typing import Any, Iterator
from urllib.parse import urlsplit

from metarepo.errors import EngineUnavailable, UsageError

from metarepo.broker.client import CONNECT_TIMEOUT, READ_TIMEOUT, Management
from metarepo.broker.settings import PASSWORD_VARIABLE, USER_VARIABLE


def _pika() -> Any:
    try:
        import pika
    except ImportError:
        raise UsageError("this needs the 'pika' package (AMQP)", hint="pip install 'metarepo[broker]'") from None
    return pika


def amqp_address(client: Management, overview: dict[str, Any]) -> tuple[str, int, bool]:
    """(host, port, tls) of the broker's AMQP listener."""
    host = urlsplit(client.url).hostname or "localhost"
    listeners = {entry.get("protocol"): entry.get("port") for entry in overview.get("listeners") or ()}
    for protocol, tls in (("amqp", False), ("amqp/ssl", True)):
        if isinstance(listeners.get(protocol), int):
            return host, listeners[protocol], tls
    raise EngineUnavailable(f"broker {client.url} lists no AMQP listener")


@contextlib.contextmanager
def connected(client: Management, overview: dict[str, Any]) -> Iterator[Any]:
    """A pika ``BlockingConnection`` to the broker as the same user, closed on the way out."""
    pika = _pika()
    host, port, tls = amqp_address(client, overview)
    options: dict[str, Any] = {}
    if tls:
        import ssl

        options["ssl_options"] = pika.SSLOptions(ssl.create_default_context(), host)
    user, password = client.credentials.user, client.credentials.password
    parameters = pika.ConnectionParameters(host, port, client.vhost, pika.PlainCredentials(user, password),
                                           connection_attempts=1, socket_timeout=CONNECT_TIMEOUT,
                                           stack_timeout=READ_TIMEOUT, blocked_connection_timeout=READ_TIMEOUT,
                                           **options)
    try:
        connection = pika.BlockingConnection(parameters)
    except pika.exceptions.ProbableAuthenticationError:
        raise EngineUnavailable(f"broker {host}:{port} (AMQP) refused user {user!r}",
                                hint=f"check {USER_VARIABLE} and {PASSWORD_VARIABLE}") from None
    except pika.exceptions.AMQPError as exc:
        raise EngineUnavailable(f"broker {host}:{port} (AMQP) cannot be reached: {_reason(exc)}",
                                hint="is its AMQP port open to this machine?") from None
    try:
        yield connection
    finally:
        with contextlib.suppress(Exception):  # a connection already gone is closed enough
            connection.close()


def ready(connection: Any, queue: str) -> tuple[int, int] | None:
    """(ready messages, consumers) of ``queue`` now, or None if it does not exist."""
    pika = _pika()
    channel = connection.channel()
    try:
        answer = channel.queue_declare(queue, passive=True)
    except pika.exceptions.ChannelClosedByBroker as exc:
        if exc.reply_code == 404:
            return None
        raise EngineUnavailable(f"broker: could not look at queue {queue!r}: {exc.reply_text}") from None
    with contextlib.suppress(Exception):
        channel.close()
    return answer.method.message_count, answer.method.consumer_count


def _reason(exc: Exception) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:200]
