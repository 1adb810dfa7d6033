"""What one party's AsyncAPI ``amqp`` bindings say about where its message goes.

The AMQP bindings (asyncapi/bindings, amqp 0.3.0) read here:

- channel binding: ``is`` (``routingKey``, the default, or ``queue``),
  ``exchange: {name, type, durable, autoDelete, vhost}`` and
  ``queue: {name, durable, exclusive, autoDelete, vhost}``;
- operation binding: ``cc``, the routing keys a message is published with
  (a producer's), or, on a consumer's receive operation, the keys its queue
  is bound with.

Anything else in them (``expiration``, ``deliveryMode``, ``bindingVersion``,
message bindings...) is about publishing, not topology, and is left alone.
A binding of the wrong shape is bad input naming the service, its
operation and the field.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from metarepo.errors import UsageError

from metarepo.contracts.graph import Party


@dataclass(frozen=True)
class AmqpBinding:
    exchange: str | None = None
    exchange_type: str | None = None
    exchange_durable: bool = True
    exchange_auto_delete: bool = False
    queue: str | None = None
    keys: tuple[str, ...] = ()  # ``cc``: publish keys (producer) or binding keys (consumer)
    is_queue: bool = False  # the channel binding's ``is: queue``
    vhost: str | None = None


def party_name(party: Party) -> str:
    return f"{party.service} ({party.operation})" if party.operation else party.service


def read_binding(party: Party) -> AmqpBinding:
    """The amqp bindings at ``party``'s channel and operation, checked for shape."""
    where = party_name(party)
    channel = _object(party.bindings.channel.get("amqp"), f"{where}: amqp channel binding")
    operation = _object(party.bindings.operation.get("amqp"), f"{where}: amqp operation binding")
    kind = channel.get("is", "routingKey")
    if kind not in ("routingKey", "queue"):
        raise UsageError(f"{where}: amqp channel binding 'is' must be routingKey or queue, not {kind!r}")
    exchange = _object(channel.get("exchange"), f"{where}: amqp channel binding exchange")
    queue = _object(channel.get("queue"), f"{where}: amqp channel binding queue")
    vhosts = {v for v in (_text(exchange, "vhost", where, "exchange"), _text(queue, "vhost", where, "queue")) if v}
    if len(vhosts) > 1:
        raise UsageError(f"{where}: amqp channel binding names two vhosts, {' and '.join(sorted(vhosts))}")
    if queue.get("exclusive") is True:
        raise UsageError(f"{where}: amqp channel binding queue.exclusive is true: an exclusive queue belongs to "
                         "one connection and is gone with it, so no durable queue can be declared for it")
    for flag, bad in (("durable", False), ("autoDelete", True)):
        if queue.get(flag) is bad:
            raise UsageError(f"{where}: amqp channel binding queue.{flag} is {str(bad).lower()}: a consumer's "
                             "queue must be durable and outlive its consumers, or messages are lost")
    keys = operation.get("cc", ())
    if isinstance(keys, str):
        keys = (keys,)
    if not isinstance(keys, (list, tuple)) or not all(isinstance(k, str) for k in keys):
        raise UsageError(f"{where}: amqp operation binding cc must be a list of routing keys")
    return AmqpBinding(
        exchange=_text(exchange, "name", where, "exchange"),
        exchange_type=_text(exchange, "type", where, "exchange"),
        exchange_durable=_flag(exchange, "durable", True, where),
        exchange_auto_delete=_flag(exchange, "autoDelete", False, where),
        queue=_text(queue, "name", where, "queue"),
        keys=tuple(dict.fromkeys(keys)),
        is_queue=kind == "queue",
        vhost=vhosts.pop() if vhosts else None,
    )


def _object(value: Any, what: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise UsageError(f"{what} must be an object")
    return value


def _text(raw: Mapping[str, Any], key: str, where: str, part: str) -> str | None:
    value = raw.get(key)
    if value is not None and (not isinstance(value, str) or not value):
        raise UsageError(f"{where}: amqp channel binding {part}.{key} must be a non-empty string")
    return value


def _flag(raw: Mapping[str, Any], key: str, default: bool, where: str) -> bool:
    value = raw.get(key, default)
    if not isinstance(value, bool):
        raise UsageError(f"{where}: amqp channel binding exchange.{key} must be true or false")
    return value
