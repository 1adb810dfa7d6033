"""Real AsyncAPI layouts: several message types on a channel, shared addresses, replies, OpenAPI schemas.

The documents are modelled on AsyncAPI's own published examples (slack-rtm,
kraken's request/reply, adeo's Kafka request/reply, the RPC server) and on
springwolf's example documents (one operation per listener, a multi-payload
Kafka topic, OpenAPI 3.1 schemas kept as Multi Format Schema Objects).
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from metarepo.contracts.fleet import pair_matrix
from metarepo.contracts.loading import load_contract
from metarepo.contracts.model import Compatibility, Message
from metarepo.contracts.sources import WorkTree
from metarepo.errors import ManifestError

from .schemas import assert_example


def service(root: Path, name: str, text: str, file: str = "asyncapi.yaml"):
    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / file).write_text(textwrap.dedent(text))
    return load_contract(WorkTree(folder, name), name)


def fleet(*contracts):
    return {c.service: c for c in contracts}


# Springwolf's Kafka example: a topic that carries three payload types, one receive operation per listener
# (one of them listening to all three, another to one), and its own producer on another topic.
SPRINGWOLF_CONSUMER = """\
    asyncapi: 3.1.0
    info: {title: Springwolf example project - Kafka, version: 1.0.0}
    channels:
      multi-payload-topic:
        address: multi-payload-topic
        messages:
          io.github.springwolf.examples.kafka.dtos.AnotherPayloadDto:
            $ref: '#/components/messages/io.github.springwolf.examples.kafka.dtos.AnotherPayloadDto'
          io.github.springwolf.examples.kafka.dtos.ExamplePayloadDto:
            $ref: '#/components/messages/io.github.springwolf.examples.kafka.dtos.ExamplePayloadDto'
          javax.money.MonetaryAmount:
            $ref: '#/components/messages/javax.money.MonetaryAmount'
        bindings: {kafka: {bindingVersion: 0.5.0}}
    components:
      schemas:
        io.github.springwolf.examples.kafka.dtos.ExamplePayloadDto:
          title: ExamplePayloadDto
          type: object
          properties:
            someEnum: {type: string, enum: [FOO1, FOO2, FOO3]}
            someLong: {type: integer, format: int64}
            someString: {type: string}
          required: [someEnum, someString]
        io.github.springwolf.examples.kafka.dtos.AnotherPayloadDto:
          type: object
          properties:
            example: {$ref: '#/components/schemas/io.github.springwolf.examples.kafka.dtos.ExamplePayloadDto'}
            foo: {type: string}
        javax.money.MonetaryAmount:
          type: object
          properties:
            amount: {type: number, exclusiveMinimum: 0.01}
            currency: {type: string}
          required: [amount, currency]
      messages:
        io.github.springwolf.examples.kafka.dtos.AnotherPayloadDto:
          name: io.github.springwolf.examples.kafka.dtos.AnotherPayloadDto
          payload:
            schemaFormat: application/vnd.aai.asyncapi+json;version=3.1.0
            schema: {$ref: '#/components/schemas/io.github.springwolf.examples.kafka.dtos.AnotherPayloadDto'}
          bindings: {kafka: {key: {type: string}, bindingVersion: 0.5.0}}
        io.github.springwolf.examples.kafka.dtos.ExamplePayloadDto:
          name: io.github.springwolf.examples.kafka.dtos.ExamplePayloadDto
          payload:
            schemaFormat: application/vnd.aai.asyncapi+json;version=3.1.0
            schema: {$ref: '#/components/schemas/io.github.springwolf.examples.kafka.dtos.ExamplePayloadDto'}
        javax.money.MonetaryAmount:
          name: javax.money.MonetaryAmount
          payload:
            schemaFormat: application/vnd.aai.asyncapi+json;version=3.1.0
            schema: {$ref: '#/components/schemas/javax.money.MonetaryAmount'}
    operations:
      multi-payload-topic_receive_ExampleClassLevelKafkaListener:
        action: receive
        channel: {$ref: '#/channels/multi-payload-topic'}
        bindings: {kafka: {groupId: {type: string, enum: [example-group-id]}, bindingVersion: 0.5.0}}
        messages:
          - $ref: '#/channels/multi-payload-topic/messages/io.github.springwolf.examples.kafka.dtos.ExamplePayloadDto'
          - $ref: '#/channels/multi-payload-topic/messages/io.github.springwolf.examples.kafka.dtos.AnotherPayloadDto'
          - $ref: '#/channels/multi-payload-topic/messages/javax.money.MonetaryAmount'
      multi-payload-topic_receive_receiveMonetaryAmount:
        action: receive
        channel: {$ref: '#/channels/multi-payload-topic'}
        messages:
          - $ref: '#/channels/multi-payload-topic/messages/javax.money.MonetaryAmount'
    """

SPRINGWOLF_PRODUCER = """\
    asyncapi: 3.0.0
    info: {title: payments, version: 1.0.0}
    channels:
      multi:
        address: multi-payload-topic
        messages:
          io.github.springwolf.examples.kafka.dtos.ExamplePayloadDto:
            payload:
              type: object
              properties:
                someEnum: {type: string, enum: [FOO1, FOO2]}
                someLong: {type: integer}
                someString: {type: string}
              required: [someEnum, someString]
          javax.money.MonetaryAmount:
            payload:
              type: object
              properties:
                amount: {type: number, exclusiveMinimum: 0.01}
                currency: {type: string}
              required: [amount]
    operations:
      sendExample: {action: send, channel: {$ref: '#/channels/multi'}}
    """


def test_a_topic_with_several_payloads_and_one_operation_per_listener(tmp_path):
    consumer = service(tmp_path, "listener", SPRINGWOLF_CONSUMER)
    assert {m.name for m in consumer.consumes} == {
        "io.github.springwolf.examples.kafka.dtos.AnotherPayloadDto",
        "io.github.springwolf.examples.kafka.dtos.ExamplePayloadDto", "javax.money.MonetaryAmount"}
    assert {m.channel for m in consumer.consumes} == {"multi-payload-topic"}
    producer = service(tmp_path, "payments", SPRINGWOLF_PRODUCER)
    result = pair_matrix(fleet(consumer, producer))
    by_name = {p.message.name: p for p in result.pairs}
    assert set(by_name) == {"io.github.springwolf.examples.kafka.dtos.ExamplePayloadDto", "javax.money.MonetaryAmount"}
    assert by_name["io.github.springwolf.examples.kafka.dtos.ExamplePayloadDto"].compatible
    # The verdict names the message type that breaks: the producer may leave out the currency.
    broken = by_name["javax.money.MonetaryAmount"]
    assert broken.state is Compatibility.BREAKING and broken.message == Message("multi-payload-topic",
                                                                                "javax.money.MonetaryAmount")
    assert "required_property_added" in {c.kind for c in broken.verdict.breaking}
    assert_example(broken.verdict.example, producer.publishes[broken.message].document,
                   consumer.consumes[broken.message].document)
    # Nobody publishes AnotherPayloadDto: the one consumed message that is nobody's.
    assert [(m.name, c) for m, c in result.unpublished] == [
        ("io.github.springwolf.examples.kafka.dtos.AnotherPayloadDto", "listener")]
    bindings = next(e.bindings for e in consumer.endpoints if e.message.name == "javax.money.MonetaryAmount"
                    and e.operation.endswith("ExampleClassLevelKafkaListener"))
    assert bindings.operation["kafka"]["groupId"]["enum"] == ["example-group-id"]
    assert bindings.channel == {"kafka": {"bindingVersion": "0.5.0"}}


SLACK_3 = """\
    asyncapi: 3.0.0
    info: {title: Slack Real Time Messaging API, version: 1.0.0}
    channels:
      root:
        address: /
        messages:
          outgoingMessage: {$ref: '#/components/messages/outgoingMessage'}
          hello: {$ref: '#/components/messages/hello'}
          connectionError: {$ref: '#/components/messages/connectionError'}
    operations:
      receiveOutgoingMessage:
        action: receive
        channel: {$ref: '#/channels/root'}
        messages: [{$ref: '#/channels/root/messages/outgoingMessage'}]
      sendMessages:
        action: send
        channel: {$ref: '#/channels/root'}
        messages:
          - {$ref: '#/channels/root/messages/hello'}
          - {$ref: '#/channels/root/messages/connectionError'}
    components:
      messages:
        hello:
          summary: First event received upon connection.
          payload:
            type: object
            properties:
              type: {type: string, enum: [hello]}
        connectionError:
          payload:
            type: object
            properties:
              type: {type: string, enum: [error]}
              error: {type: object, properties: {code: {type: number}, msg: {type: string}}}
        outgoingMessage:
          summary: A message was sent to a channel.
          payload:
            type: object
            properties:
              id: {type: number}
              type: {type: string, enum: [message]}
              channel: {type: string}
              text: {type: string}
    """

SLACK_2 = """\
    asyncapi: 2.6.0
    info: {title: Slack Real Time Messaging API, version: 1.0.0}
    channels:
      /:
        publish:
          message: {$ref: '#/components/messages/outgoingMessage'}
        subscribe:
          message:
            oneOf:
              - $ref: '#/components/messages/hello'
              - $ref: '#/components/messages/connectionError'
    components:
      messages:
        hello:
          payload: {type: object, properties: {type: {type: string, enum: [hello]}}}
        connectionError:
          payload: {type: object, properties: {type: {type: string, enum: [error]}}}
        outgoingMessage:
          payload:
            type: object
            properties:
              id: {type: number}
              type: {type: string, enum: [message]}
              text: {type: string}
    """


@pytest.mark.parametrize("text", [SLACK_3, SLACK_2], ids=["3.x", "2.x"])
def test_a_service_that_sends_one_message_and_receives_another_on_one_channel_is_not_its_own_reader(tmp_path, text):
    slack = service(tmp_path, "slack", text)
    assert {m.name for m in slack.publishes} == {"hello", "connectionError"}
    assert {m.name for m in slack.consumes} == {"outgoingMessage"}
    assert {e.message.channel for e in slack.endpoints} == {"/"}
    result = pair_matrix(fleet(slack))
    assert result.pairs == ()  # it does not read hello as an outgoingMessage


def test_a_rolling_update_pairs_only_what_one_version_sends_with_what_the_other_reads(tmp_path):
    from metarepo.contracts.deploy import side_by_side

    new = service(tmp_path, "new", SLACK_3)
    old = service(tmp_path, "old", SLACK_3.replace("text: {type: string}", "text: {type: string, maxLength: 4}"))
    new, old = (type(new)(service="slack", endpoints=c.endpoints) for c in (new, old))
    assert side_by_side(new, old, "strict", "working tree", "staging") == []  # hello is never read as a message
    # Sending what it receives, both versions meet: outgoingMessage from the new one, read by the old one.
    echo = SLACK_3.replace("- {$ref: '#/channels/root/messages/hello'}",
                           "- {$ref: '#/channels/root/messages/outgoingMessage'}")
    new = type(new)(service="slack", endpoints=service(tmp_path, "echo-new", echo).endpoints)
    old = type(new)(service="slack", endpoints=service(
        tmp_path, "echo-old", echo.replace("text: {type: string}", "text: {type: string, maxLength: 4}")).endpoints)
    pairs = side_by_side(new, old, "strict", "working tree", "staging")
    assert [(p.message.name, p.producer_version, p.compatible) for p in pairs] == [
        ("outgoingMessage", "working tree", False), ("outgoingMessage", "staging", True)]


def test_channels_that_share_an_address_are_one_channel(tmp_path):
    # kraken's websocket API: every channel is `address: /`, each with its own messages.
    server = service(tmp_path, "kraken", """\
        asyncapi: 3.0.0
        info: {title: Kraken Websocket API, version: 1.0.0}
        channels:
          ping: {address: /, messages: {ping: {payload: {type: object, properties: {event: {const: ping}}}}}}
          heartbeat: {address: /, messages: {heartbeat: {payload: {type: object, properties: {event: {const: heartbeat}}}}}}
          systemStatus:
            address: /
            messages: {systemStatus: {payload: {type: object, properties: {status: {enum: [online, maintenance]}}}}}
        operations:
          receivePing: {action: receive, channel: {$ref: '#/channels/ping'}}
          heartbeat: {action: send, channel: {$ref: '#/channels/heartbeat'}}
          systemStatus: {action: send, channel: {$ref: '#/channels/systemStatus'}}
        """)
    client = service(tmp_path, "client", """\
        asyncapi: 3.0.0
        info: {title: client, version: 1.0.0}
        channels:
          all:
            address: /
            messages:
              ping: {payload: {type: object, properties: {event: {const: ping}}}}
              heartbeat: {payload: {type: object, properties: {event: {const: heartbeat}}}}
              systemStatus: {payload: {type: object, properties: {status: {enum: [online]}}}}
        operations:
          sendPing: {action: send, channel: {$ref: '#/channels/all'}, messages: [{$ref: '#/channels/all/messages/ping'}]}
          onEvents:
            action: receive
            channel: {$ref: '#/channels/all'}
            messages: [{$ref: '#/channels/all/messages/heartbeat'}, {$ref: '#/channels/all/messages/systemStatus'}]
        """)
    assert {m.channel for m in server.publishes} == {"/"}
    result = pair_matrix(fleet(server, client))
    verdicts = {(p.producer, p.message.name): p.compatible for p in result.pairs}
    assert verdicts == {("kraken", "heartbeat"): True, ("kraken", "systemStatus"): False, ("client", "ping"): True}


REPLIER = """\
    asyncapi: 3.0.0
    info: {title: costing, version: 1.0.0}
    channels:
      costingRequestChannel:
        address: adeo-{env}-case-study-COSTING-REQUEST-{version}
        messages:
          CostingRequest: {payload: {type: object, properties: {productId: {type: string}}}}
      costingResponseChannel:
        address: null
        messages:
          costingResponse: {payload: {type: object, properties: {cost: {type: integer}}, required: [cost]}}
        bindings: {kafka: {x-value.subject.name.strategy: {type: string}}}
    operations:
      receiveACostingRequest:
        action: receive
        channel: {$ref: '#/channels/costingRequestChannel'}
        reply:
          channel: {$ref: '#/channels/costingResponseChannel'}
          address: {location: '$message.header#/REPLY_TOPIC'}
    """

REQUESTER = """\
    asyncapi: 3.0.0
    info: {title: shop, version: 1.0.0}
    channels:
      request:
        address: adeo-{env}-case-study-COSTING-REQUEST-{version}
        messages:
          CostingRequest: {payload: {type: object, properties: {productId: {type: string}}}}
      response:
        address: null
        messages:
          costingResponse: {payload: {type: object, properties: {cost: {type: string}}, required: [cost]}}
    operations:
      requestCosting:
        action: send
        channel: {$ref: '#/channels/request'}
        reply:
          channel: {$ref: '#/channels/response'}
          address: {location: '$message.header#/REPLY_TOPIC'}
    """


def test_an_operation_reply_is_a_message_the_replier_publishes_and_the_requester_consumes(tmp_path):
    replier, requester = service(tmp_path, "costing", REPLIER), service(tmp_path, "shop", REQUESTER)
    reply = Message("reply to adeo-{env}-case-study-COSTING-REQUEST-{version}", "costingResponse")
    assert reply in replier.publishes and reply in requester.consumes
    end = next(e for e in replier.endpoints if e.message == reply)
    assert end.reply and end.operation == "receiveACostingRequest.reply" and "kafka" in end.bindings.channel
    result = pair_matrix(fleet(replier, requester))
    by_message = {p.message: p for p in result.pairs}
    assert by_message[Message("adeo-{env}-case-study-COSTING-REQUEST-{version}", "CostingRequest")].compatible
    broken = by_message[reply]  # the replier sends an integer, the requester expects a string
    assert (broken.producer, broken.consumer, broken.compatible) == ("costing", "shop", False)
    assert broken.verdict.example == {"cost": 0}


def test_a_reply_on_a_channel_with_a_fixed_address_is_on_that_address(tmp_path):
    server = service(tmp_path, "kraken", """\
        asyncapi: 3.0.0
        info: {title: Kraken Websocket API, version: 1.0.0}
        channels:
          ping: {address: /, messages: {ping: {payload: {type: object}}}}
          pong: {address: /, messages: {pong: {payload: {type: object, properties: {reqid: {type: integer}}}}}}
        operations:
          receivePing: {action: receive, channel: {$ref: '#/channels/ping'}, reply: {channel: {$ref: '#/channels/pong'}}}
        """)
    assert Message("/", "pong") in server.publishes and Message("/", "ping") in server.consumes


OPENAPI_30 = {
    "type": "object",
    "discriminator": {"propertyName": "kind"},
    "xml": {"name": "order"},
    "externalDocs": {"url": "https://example.com/docs"},
    "example": {"kind": "order", "total": 1},
    "properties": {
        "kind": {"type": "string", "readOnly": True},
        "total": {"type": "number", "minimum": 0, "exclusiveMinimum": True, "x-unit": "EUR"},
        "note": {"type": "string", "nullable": True, "example": "leave at the door"},
    },
    "required": ["kind", "total"],
}


def openapi_service(root: Path, name: str, schema: dict, version: str = "3.0.0"):
    document = {"asyncapi": "3.0.0", "info": {"title": name, "version": "1"},
                "channels": {"orders": {"address": "orders", "messages": {"OrderPlaced": {"payload": {
                    "schemaFormat": f"application/vnd.oai.openapi;version={version}", "schema": schema}}}}},
                "operations": {"o": {"action": "send" if name == "writer" else "receive",
                                     "channel": {"$ref": "#/channels/orders"}}}}
    return service(root, name, json.dumps(document), "asyncapi.json")


def test_openapi_3_0_schema_objects_are_read_with_openapis_differences(tmp_path):
    writer = openapi_service(tmp_path, "writer", OPENAPI_30)
    (document,) = writer.publishes.values()
    doc = document.document
    assert doc["$schema"] == "http://json-schema.org/draft-04/schema#"
    assert doc["properties"]["note"]["type"] == ["string", "null"]
    assert not {"discriminator", "xml", "externalDocs", "example"} & set(doc)
    assert "x-unit" not in doc["properties"]["total"]
    # nullable means null may be sent: a reader without it breaks, with the null as the example.
    strict_note = json.loads(json.dumps(OPENAPI_30))
    del strict_note["properties"]["note"]["nullable"]
    result = pair_matrix(fleet(writer, openapi_service(tmp_path, "reader", strict_note)))
    (pair,) = result.pairs
    assert not pair.compatible and pair.verdict.example["note"] is None
    # exclusiveMinimum is draft-04's boolean: a reader that allows 0 reads the writer; one that excludes 0 and 1
    # does not, and the example is a total the writer may send.
    relaxed = json.loads(json.dumps(OPENAPI_30))
    relaxed["properties"]["total"] = {"type": "number", "minimum": 0}
    assert pair_matrix(fleet(writer, openapi_service(tmp_path, "reader", relaxed))).pairs[0].compatible
    tighter = json.loads(json.dumps(OPENAPI_30))
    tighter["properties"]["total"] = {"type": "number", "minimum": 1, "exclusiveMinimum": True}
    (pair,) = pair_matrix(fleet(writer, openapi_service(tmp_path, "reader", tighter))).pairs
    assert not pair.compatible and 0 < pair.verdict.example["total"] <= 1


def test_openapi_3_1_is_json_schema_2020_12_kept_in_multi_format_schema_objects(tmp_path):
    # springwolf's openapiv31 layout: every schema is a Multi Format Schema Object, and $refs point at them.
    folder = tmp_path / "svc"
    folder.mkdir()
    (folder / "asyncapi.json").write_text(json.dumps({
        "asyncapi": "3.1.0", "info": {"title": "s", "version": "1"},
        "channels": {"t": {"address": "t", "messages": {"Nested": {"$ref": "#/components/messages/Nested"}}}},
        "components": {
            "schemas": {
                "Nested": {"schemaFormat": "application/vnd.oai.openapi;version=3.1.0", "schema": {
                    "type": "object", "example": {"items": []},
                    "properties": {"items": {"type": "array", "items": {"$ref": "#/components/schemas/Item"}}}}},
                "Item": {"schemaFormat": "application/vnd.oai.openapi;version=3.1.0", "schema": {
                    "type": ["string", "null"], "examples": ["x"]}}},
            "messages": {"Nested": {"payload": {
                "schemaFormat": "application/vnd.aai.asyncapi+json;version=3.1.0",
                "schema": {"$ref": "#/components/schemas/Nested"}}}}},
        "operations": {"o": {"action": "send", "channel": {"$ref": "#/channels/t"}}}}))
    contract = load_contract(WorkTree(folder, "svc"), "svc")
    (schema,) = contract.publishes.values()
    assert schema.document["properties"]["items"]["items"]["type"] == ["string", "null"]
    assert schema.document["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_asyncapi_3_0_written_as_a_yaml_number_is_read(tmp_path):
    contract = service(tmp_path, "svc", """\
        asyncapi: 3.0
        channels: {c: {address: a, messages: {m: {payload: {type: string}}}}}
        operations: {o: {action: send, channel: {$ref: '#/channels/c'}}}
        """)
    assert Message("a", "m") in contract.publishes


def test_an_error_in_a_channels_message_names_the_message(tmp_path):
    with pytest.raises(ManifestError, match=r"asyncapi\.yaml#/channels/c/messages/broken/payload: not a valid "
                                            r"JSON Schema"):
        service(tmp_path, "svc", """\
            asyncapi: 3.0.0
            channels: {c: {address: a, messages: {fine: {payload: {type: string}}, broken: {payload: {type: objekt}}}}}
            operations: {o: {action: send, channel: {$ref: '#/channels/c'}}}
            """)
