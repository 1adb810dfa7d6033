"""AsyncAPI 2.x and 3.x documents to endpoints: which message, on which channel, sent or received.

A message is its channel's address plus its message id. In 3.x an
operation's ``action: send`` publishes and ``receive`` consumes each message
it lists (all of its channel's when it lists none), the message id being the
key in the channel's ``messages``; several operations may share a channel,
and several channels an address (``address: /`` of a websocket API). An
operation's ``reply`` is a message too: the receiver of the request
publishes it and the sender of the request consumes it, on the reply
channel's address, or on "reply to ADDRESS" when the address is only known
at run time (``reply.address``, or a channel whose ``address`` is null).
In 2.x a channel's ``subscribe`` is what the app sends and ``publish`` what
it receives; the message id is its ``messageId``, else its ``name``, else
the ``components/messages`` key it is kept under, else the channel's name.
Channel, operation and message ``bindings`` are kept as written.
"""

from __future__ import annotations

from typing import Any, Callable

from metarepo.errors import ManifestError

from metarepo.contracts.model import AVRO, CONSUMER, PRODUCER, Bindings, Endpoint, Message, Role
from metarepo.contracts.payloads import DRAFT_7, draft_of, format_of, make_schema
from metarepo.contracts.refs import unescape_pointer

Follow = Callable[..., tuple[Any, str, str]]


def asyncapi_endpoints(document: dict, file: str, reader: Any) -> tuple[list[Endpoint], list[str]]:
    """Every endpoint of an AsyncAPI document, and notes on what it declares but gives nothing to check."""
    label = reader.label(file)
    version = document.get("asyncapi")
    major = None
    if isinstance(version, (str, int, float)) and not isinstance(version, bool):
        major = str(version).split(".")[0]  # `asyncapi: 3.0` in YAML is a number
    if major not in ("2", "3"):
        raise ManifestError(f"unknown AsyncAPI version {version!r} (2.x and 3.x are supported)",
                            file=label, key="asyncapi")
    channels = document.get("channels") or {}
    if not isinstance(channels, dict):
        raise ManifestError("must be a mapping", file=label, key="channels")
    follow = _follower(reader, file, document)
    if major == "2":
        return _v2(channels, follow, reader, label), []
    return _v3(document, follow, reader, label)


def _v2(channels: dict, follow: Follow, reader: Any, label: str) -> list[Endpoint]:
    endpoints = []
    for channel_name, channel in channels.items():
        channel, ch_file, ch_ptr = follow(channel, f"/channels/{_escape(channel_name)}")
        if not isinstance(channel, dict):
            raise ManifestError("must be a mapping", file=label, key=f"channels.{channel_name}")
        channel_bindings = _bindings(channel, follow, ch_file, ch_ptr)
        for verb, role in (("subscribe", PRODUCER), ("publish", CONSUMER)):
            operation = channel.get(verb)
            if operation is None:
                continue
            key = f"channels.{channel_name}.{verb}"
            operation, op_file, op_ptr = follow(operation, f"{ch_ptr}/{verb}", ch_file)  # refs from its file
            message = operation.get("message") if isinstance(operation, dict) else None
            if message is None:
                raise ManifestError("needs a 'message'", file=label, key=key)
            raw = message
            message, m_file, m_ptr = follow(message, f"{op_ptr}/message", op_file)
            if isinstance(message, dict) and isinstance(message.get("oneOf"), list):
                raws = list(message["oneOf"])
                parts = [follow(m, f"{m_ptr}/oneOf/{i}", m_file) for i, m in enumerate(raws)]
            else:
                raws, parts = [raw], [(message, m_file, m_ptr)]
            if not parts:
                raise ManifestError("names no message: nothing to check", file=label, key=f"{key}.message")
            op_id = operation.get("operationId") if isinstance(operation.get("operationId"), str) else key
            op_bindings = _bindings(operation, follow, op_file, op_ptr)
            for index, ((body, b_file, b_ptr), raw) in enumerate(zip(parts, raws)):
                name = _v2_name(body, raw, str(channel_name), index if len(parts) > 1 else None)
                schema = _payload(body, b_file, b_ptr, reader, follow)
                endpoints.append(Endpoint(role, Message(str(channel_name), name), schema, op_id,
                                          Bindings(channel_bindings, op_bindings,
                                                   _bindings(body, follow, b_file, b_ptr))))
    return endpoints


def _v2_name(message: Any, raw: Any, channel: str, index: int | None) -> str:
    if isinstance(message, dict):
        for key in ("messageId", "name"):
            if isinstance(message.get(key), str) and message[key]:
                return message[key]
    ref = raw.get("$ref") if isinstance(raw, dict) else None
    if isinstance(ref, str) and "/messages/" in ref:
        return unescape_pointer(ref.rsplit("/", 1)[-1])
    return channel if index is None else f"{channel}#{index}"


def _v3(document: dict, follow: Follow, reader: Any, label: str) -> tuple[list[Endpoint], list[str]]:
    operations = document.get("operations") or {}
    if not isinstance(operations, dict):
        raise ManifestError("must be a mapping", file=label, key="operations")
    endpoints: list[Endpoint] = []
    notes: list[str] = []
    for op_id, operation in operations.items():
        operation, op_file, op_ptr = follow(operation, f"/operations/{_escape(op_id)}")
        key = f"operations.{op_id}"
        if not isinstance(operation, dict):
            raise ManifestError("must be a mapping", file=label, key=key)
        action = operation.get("action")
        if action not in ("send", "receive"):
            raise ManifestError(f"'action' must be send or receive, not {action!r}", file=label, key=key)
        if "channel" not in operation:
            raise ManifestError("needs a 'channel'", file=label, key=key)
        channel, ch_file, ch_ptr = follow(operation["channel"], f"{op_ptr}/channel", op_file)
        if not isinstance(channel, dict):
            raise ManifestError("the channel must be a mapping", file=label, key=f"{key}.channel")
        address = _address(channel, ch_ptr)
        op_bindings = _bindings(operation, follow, op_file, op_ptr)
        role = PRODUCER if action == "send" else CONSUMER
        found = _v3_messages(operation.get("messages"), channel, ch_file, ch_ptr, op_file, f"{op_ptr}/messages",
                             follow, label, key)
        if not found:
            notes.append(f"{label}: {key}: names no message (in the operation or its channel {address!r}): "
                         "nothing to check")
        endpoints += _v3_endpoints(found, role, address, str(op_id), channel, ch_file, ch_ptr, op_bindings,
                                   follow, reader)
        if operation.get("reply") is not None:
            more, said = _reply(operation["reply"], op_file, op_ptr, address, role, str(op_id), op_bindings,
                                follow, reader, label, key)
            endpoints += more
            notes += said
    return endpoints, notes


def _reply(reply: Any, op_file: str, op_ptr: str, request_address: str, role: Role, op_id: str,
           op_bindings: Any, follow: Follow, reader: Any, label: str, key: str) -> tuple[list[Endpoint], list[str]]:
    """The replier (it receives the request) publishes the reply; the requester consumes it."""
    reply, r_file, r_ptr = follow(reply, f"{op_ptr}/reply", op_file)
    if not isinstance(reply, dict):
        raise ManifestError("must be a mapping", file=label, key=f"{key}.reply")
    channel, ch_file, ch_ptr = ({}, r_file, f"{r_ptr}/channel")
    if reply.get("channel") is not None:
        channel, ch_file, ch_ptr = follow(reply["channel"], f"{r_ptr}/channel", r_file)
        if not isinstance(channel, dict):
            raise ManifestError("the reply channel must be a mapping", file=label, key=f"{key}.reply.channel")
    address = channel.get("address")
    if reply.get("address") is not None or not isinstance(address, str) or not address:
        address = f"reply to {request_address}"  # known at run time only: tied to its request's channel
    found = _v3_messages(reply.get("messages"), channel, ch_file, ch_ptr, r_file, f"{r_ptr}/messages", follow,
                         label, f"{key}.reply")
    if not found:
        return [], [f"{label}: {key}.reply: names no message (in the reply or its channel): nothing to check"]
    replier = PRODUCER if role is CONSUMER else CONSUMER
    return _v3_endpoints(found, replier, address, f"{op_id}.reply", channel, ch_file, ch_ptr, op_bindings, follow,
                         reader, reply=True), []


def _v3_messages(listed: Any, channel: dict, ch_file: str, ch_ptr: str, op_file: str, op_ptr: str, follow: Follow,
                 label: str, key: str) -> list[tuple[str, Any, str, str]]:
    """(message id, message, its file, its pointer) for what an operation (or reply) lists, else its channel's."""
    found = []
    if listed is None:
        messages = channel.get("messages") or {}
        if not isinstance(messages, dict):
            raise ManifestError("must be a mapping of message ids to messages", file=label,
                                key=f"{key}.channel.messages")
        for name, message in messages.items():
            body, m_file, m_ptr = follow(message, f"{ch_ptr}/messages/{_escape(name)}", ch_file)
            found.append((str(name), body, m_file, m_ptr))
        return found
    if not isinstance(listed, list):
        raise ManifestError("must be a list of $refs to its channel's messages", file=label, key=f"{key}.messages")
    for i, entry in enumerate(listed):
        ref = entry.get("$ref") if isinstance(entry, dict) else None
        body, m_file, m_ptr = follow(entry, f"{op_ptr}/{i}", op_file)
        if isinstance(ref, str):
            name = unescape_pointer(ref.rsplit("/", 1)[-1])
        elif isinstance(body, dict) and isinstance(body.get("name"), str) and body["name"]:
            name = body["name"]
        else:
            name = f"{key.rsplit('.', 1)[-1]}#{i}"
        found.append((name, body, m_file, m_ptr))
    return found


def _v3_endpoints(found: list, role: Role, address: str, op_id: str, channel: dict, ch_file: str, ch_ptr: str,
                  op_bindings: Any, follow: Follow, reader: Any, *, reply: bool = False) -> list[Endpoint]:
    channel_bindings = _bindings(channel, follow, ch_file, ch_ptr)
    return [Endpoint(role, Message(address, name), _payload(body, m_file, m_ptr, reader, follow), op_id,
                     Bindings(channel_bindings, op_bindings, _bindings(body, follow, m_file, m_ptr)), reply)
            for name, body, m_file, m_ptr in found]


def _address(channel: dict, pointer: str) -> str:
    address = channel.get("address")
    if isinstance(address, str) and address:
        return address
    return unescape_pointer(pointer.rsplit("/", 1)[-1])  # null: unknown or dynamic; the channel's key stands in


def _bindings(owner: Any, follow: Follow, file: str, pointer: str) -> dict:
    """An object's ``bindings`` (a ``$ref`` followed, and each protocol's), or {}."""
    if not isinstance(owner, dict) or owner.get("bindings") is None:
        return {}
    bindings, b_file, b_ptr = follow(owner["bindings"], f"{pointer}/bindings", file)
    if not isinstance(bindings, dict):
        return {}
    return {str(protocol): follow(value, f"{b_ptr}/{_escape(protocol)}", b_file)[0]
            for protocol, value in bindings.items()}


def _payload(message: Any, file: str, pointer: str, reader: Any, follow: Follow) -> Any:
    """A message's payload schema: a Multi Format Schema Object's ``schema`` in its ``schemaFormat``."""
    from metarepo.contracts.loading import where

    at = where(reader, file, pointer)
    if not isinstance(message, dict):
        raise ManifestError("a message must be a mapping", file=at)
    payload, p_file, p_ptr = message.get("payload", True), file, f"{pointer}/payload"
    fmt_name = message.get("schemaFormat")  # 2.x: on the message
    for _ in range(8):
        if isinstance(payload, dict) and isinstance(payload.get("$ref"), str):
            target, t_file, t_ptr = follow(payload, p_ptr, p_file)
            if _multi_format(target) or format_of(fmt_name, at) is AVRO:
                payload, p_file, p_ptr = target, t_file, t_ptr
                continue
        if _multi_format(payload):
            fmt_name, payload, p_ptr = payload["schemaFormat"], payload["schema"], f"{p_ptr}/schema"
            continue
        break
    fmt = format_of(fmt_name, at)
    return make_schema(payload, fmt, reader, p_file, p_ptr, where(reader, p_file, p_ptr), draft_of(fmt_name, DRAFT_7),
                       document=reader.load(p_file))


def _multi_format(node: Any) -> bool:
    return isinstance(node, dict) and "schemaFormat" in node and "schema" in node


def _escape(name: Any) -> str:
    return str(name).replace("~", "~0").replace("/", "~1")


def _follower(reader: Any, file: str, document: Any) -> Follow:
    """Follow ``$ref``s between AsyncAPI objects: (object, its file, its pointer)."""
    bundler = reader.bundler(file, document)

    def follow(node: Any, pointer: str, at: str = file) -> tuple[Any, str, str]:
        hops = 0
        while isinstance(node, dict) and isinstance(node.get("$ref"), str):
            ref = node["$ref"]
            node, (at, pointer) = bundler._lookup(bundler._locate(ref, at), ref, at)
            hops += 1
            if hops > 32:
                raise ManifestError(f"$ref {ref!r} loops", file=reader.label(at))
        return node, at, pointer

    return follow
