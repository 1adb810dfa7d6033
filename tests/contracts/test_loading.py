"""Contract files to contracts: contracts.yaml, AsyncAPI 2.x and 3.x, $ref, Avro, and every bad input."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from metarepo.contracts.loading import load_contract
from metarepo.contracts.model import AVRO
from metarepo.contracts.sources import WorkTree
from metarepo.errors import ManifestError, NotFoundError


def write(root: Path, name: str, text: str) -> None:
    file = root / name
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_text(textwrap.dedent(text))


def load(root: Path, configured: str | None = None):
    return load_contract(WorkTree(root, "svc"), "svc", configured)


def channels(table) -> dict:
    """Channel to schema (each channel carrying one message in these tests)."""
    out = {m.channel: s for m, s in table.items()}
    assert len(out) == len(table)
    return out


def test_contracts_yaml_inline_and_file_schemas(tmp_path):
    write(tmp_path, "contracts.yaml", """\
        publishes:
          a.created:
            schema: {type: object, properties: {id: {type: string}}, required: [id]}
        consumes:
          b.done:
            schema: schemas/b.json
        """)
    write(tmp_path, "schemas/b.json", json.dumps({"type": "object", "properties": {"n": {"$ref": "defs.yaml#/n"}}}))
    write(tmp_path, "schemas/defs.yaml", "n: {type: integer, minimum: 1}\n")
    contract = load(tmp_path)
    assert channels(contract.publishes)["a.created"].document["properties"]["id"] == {"type": "string"}
    assert channels(contract.consumes)["b.done"].document["properties"]["n"] == {"type": "integer", "minimum": 1}
    assert contract.files == ("contracts.yaml",)


def test_configured_contracts_path(tmp_path):
    write(tmp_path, "docs/c.yaml", "publishes: {x: {schema: true}}\n")
    assert set(channels(load(tmp_path, "docs/c.yaml").publishes)) == {"x"}
    with pytest.raises(NotFoundError, match="no such contracts file"):
        load(tmp_path, "docs/missing.yaml")
    with pytest.raises(ManifestError, match="outside the repository"):
        load(tmp_path, "../elsewhere.yaml")


def test_no_contract_files_is_an_empty_contract(tmp_path):
    assert load(tmp_path).empty


def test_local_refs_and_recursion(tmp_path):
    write(tmp_path, "contracts.yaml", """\
        publishes:
          tree:
            schema:
              $defs:
                node:
                  type: object
                  properties:
                    children: {type: array, items: {$ref: '#/$defs/node'}}
              $ref: '#/$defs/node'
        """)
    document = channels(load(tmp_path).publishes)["tree"].document
    assert document["$ref"].startswith("#/$defs/")
    from jsonschema import Draft202012Validator

    assert Draft202012Validator(document).is_valid({"children": [{"children": []}]})
    assert not Draft202012Validator(document).is_valid({"children": [{"children": 3}]})


def test_asyncapi_3_send_publishes_receive_consumes(tmp_path):
    write(tmp_path, "asyncapi.yaml", """\
        asyncapi: 3.0.0
        info: {title: s, version: '1'}
        channels:
          out: {address: thing.made, messages: {m: {payload: {$ref: '#/components/schemas/Thing'}}}}
          in: {address: other.done, messages: {m: {payload: {type: string}}}}
        operations:
          make: {action: send, channel: {$ref: '#/channels/out'}}
          hear: {action: receive, channel: {$ref: '#/channels/in'},
                 messages: [{$ref: '#/channels/in/messages/m'}]}
        components:
          schemas:
            Thing: {type: object, properties: {id: {type: integer}}}
        """)
    contract = load(tmp_path)
    assert channels(contract.publishes)["thing.made"].document["properties"] == {"id": {"type": "integer"}}
    assert channels(contract.consumes)["other.done"].document["type"] == "string"


def test_asyncapi_2_subscribe_is_sent_publish_is_received(tmp_path):
    write(tmp_path, "asyncapi.yml", """\
        asyncapi: 2.6.0
        info: {title: s, version: '1'}
        channels:
          thing.made:
            subscribe: {message: {payload: {type: object}}}
          other.done:
            publish:
              message:
                oneOf:
                  - {payload: {type: string}}
                  - {$ref: '#/components/messages/N'}
        components:
          messages:
            N: {payload: {type: integer}}
        """)
    contract = load(tmp_path)
    assert set(channels(contract.publishes)) == {"thing.made"}
    # A oneOf is several message types on the channel, each its own message: the inline one by its place, the
    # other by the components key it is kept under.
    received = {m.name: s.document["type"] for m, s in contract.consumes.items()}
    assert received == {"other.done#0": "string", "N": "integer"}
    assert {m.channel for m in contract.consumes} == {"other.done"}


def test_avro_payloads(tmp_path):
    write(tmp_path, "asyncapi.yaml", """\
        asyncapi: 2.6.0
        info: {title: s, version: '1'}
        channels:
          paid:
            subscribe:
              message:
                schemaFormat: application/vnd.apache.avro;version=1.9.0
                payload: {type: record, name: Paid, fields: [{name: id, type: string}]}
        """)
    assert channels(load(tmp_path).publishes)["paid"].format == AVRO


@pytest.mark.parametrize("files,error", [
    ({"contracts.yaml": "publishes:\n  a: {schema: {type: object}\n"}, r"contracts\.yaml:3:1: invalid YAML"),
    ({"contracts.yaml": "consumes: {a: {schema: b.json}}\n", "b.json": '{"type": "object",}'},
     r"b\.json:1:\d+: invalid JSON"),
    ({"contracts.yaml": "publishes: {a: {schema: {type: objekt}}}\n"},
     r"not a valid JSON Schema at type: \"objekt\" is not valid"),
    ({"contracts.yaml": "publishes: {a: {schema: {type: object, required: yes}}}\n"},
     r"not a valid JSON Schema at required: true is not of type 'array'"),
    ({"contracts.yaml": "publishes: {a: {schema: {type: array, items: [{type: string}]}}}\n"},
     r'at items: \[\{"type": "string"\}\] is not of type .* 2020-12 says prefixItems'),
    ({"contracts.yaml": "publishes: {a: {schema: {properties: {x: {minLength: -1}}}}}\n"},
     r"not a valid JSON Schema at properties/x/minLength"),
    ({"contracts.yaml": "publishes: {a: {schema: {$ref: '#/$defs/nope'}}}\n"}, r"unresolvable \$ref '#/\$defs/nope'"),
    ({"contracts.yaml": "consumes: {a: {schema: {properties: {x: {$ref: '#/nope'}}}}}\n"},
     r"contracts\.yaml#/consumes/a/schema: unresolvable \$ref '#/nope': nothing at '/nope'$"),
    ({"contracts.yaml": "publishes: {a: {schema: {$ref: 'other.json'}}}\n"}, r"unresolvable \$ref 'other\.json': no file"),
    ({"contracts.yaml": "publishes: {a: {schema: {$ref: 'https://example.com/s.json'}}}\n"},
     r"remote references are not fetched \(no schema here has that \$id\)"),
    ({"contracts.yaml": "publishes: {a: {schema: {$ref: '#nowhere'}}}\n"},
     r"unresolvable \$ref '#nowhere': no \$anchor 'nowhere' in .*contracts\.yaml"),
    ({"contracts.yaml": "publishes: {a: {schema: {$ref: '../../etc/passwd'}}}\n"}, r"outside the repository"),
    ({"contracts.yaml": "publishes:\n  a: {schema: {type: string}}\n  a: {schema: {type: integer}}\n"},
     r"key 'a' appears twice"),
    ({"contracts.yaml": "publishes: {a: {schema: {type: string}}}\n",
      "asyncapi.yaml": "asyncapi: 2.6.0\nchannels: {a: {subscribe: {message: {payload: {type: integer}}}}}\n"},
     r"message 'a' is declared twice with different schemas"),
    ({"asyncapi.yaml": "asyncapi: 1.2.0\nchannels: {}\n"}, r"unknown AsyncAPI version '1\.2\.0'"),
    ({"asyncapi.yaml": "asyncapi: 3.0.0\noperations: {o: {action: publish, channel: {}}}\n"},
     r"'action' must be send or receive"),
    ({"asyncapi.yaml": "asyncapi: 2.6.0\nchannels: {a: {publish: {message: {oneOf: []}}}}\n"},
     r"channels\.a\.publish\.message: names no message"),
    ({"asyncapi.yaml": "asyncapi: 2.6.0\nchannels: {a: {subscribe: {message: {schemaFormat: application/x-protobuf, "
                       "payload: {}}}}}\n"}, r"unsupported schemaFormat"),
    ({"contracts.yaml": "publishes: {a: {format: avro, schema: {type: record, name: X}}}\n"},
     r"not a valid Avro schema"),
    ({"contracts.yaml": "publishez: {}\n"}, r"publishez: unknown key"),
    ({"contracts.yaml": "publishes: {a: {type: object}}\n"}, r"publishes\.a: needs a 'schema'"),
    ({"contracts.yaml": "- just\n- a list\n"}, r"the top level must be a mapping"),
    ({"contracts.yaml": "consumes: {a: {schema: deep.json}}\n",
      "deep.json": '{"not": ' * 5000 + "{}" + "}" * 5000}, r"deep\.json: nested too deeply to read"),
    ({"contracts.yaml": "consumes: {a: {schema: deep.yaml}}\n", "deep.yaml": "[" * 5000 + "]" * 5000},
     r"deep\.yaml:1:\d+: invalid YAML: exceeded maximum nesting depth"),
])
def test_bad_input_is_one_clear_error(tmp_path, files, error):
    for name, text in files.items():
        write(tmp_path, name, text)
    with pytest.raises(ManifestError, match=error) as caught:
        load(tmp_path)
    assert caught.value.exit_code == 2
    assert "\n" not in str(caught.value)


def test_same_message_twice_with_the_same_schema_is_fine(tmp_path):
    write(tmp_path, "contracts.yaml", "publishes: {a: {schema: {type: string}}}\n")
    write(tmp_path, "asyncapi.yaml", "asyncapi: 2.6.0\nchannels: {a: {subscribe: {message: {payload: {type: string}}}}}\n")
    assert "a" in channels(load(tmp_path).publishes)


def test_yaml_merge_keys_may_override_what_they_merge(tmp_path):
    """`<<: *base` then a key of the mapping's own is YAML's override, not a key written twice."""
    write(tmp_path, "contracts.yaml", """\
        x-base: &base {type: object, properties: {id: {type: string}}, additionalProperties: false}
        publishes:
          a.made: {schema: {<<: *base, additionalProperties: true}}
          b.made: {schema: {<<: *base, required: [id]}}
        """)
    contract = load(tmp_path)
    assert channels(contract.publishes)["a.made"].document["additionalProperties"] is True
    assert channels(contract.publishes)["b.made"].document["required"] == ["id"]
    write(tmp_path, "contracts.yaml", "publishes: {a: {schema: {<<: {type: object}, title: x, title: y}}}\n")
    with pytest.raises(ManifestError, match="key 'title' appears twice"):
        load(tmp_path)


def test_asyncapi_schema_format_names_the_json_schema_draft(tmp_path):
    write(tmp_path, "asyncapi.yaml", """\
        asyncapi: 3.0.0
        info: {title: s, version: '1'}
        channels:
          pairs: {address: pairs, messages: {m: {payload: {schemaFormat: 'application/schema+json;version=2020-12',
                                                          schema: {type: array, prefixItems: [{type: integer}]}}}}}
          plain: {address: plain, messages: {m: {payload: {type: array, items: [{type: integer}]}}}}
        operations:
          a: {action: send, channel: {$ref: '#/channels/pairs'}}
          b: {action: send, channel: {$ref: '#/channels/plain'}}
        """)
    contract = load(tmp_path)
    assert channels(contract.publishes)["pairs"].document["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert channels(contract.publishes)["plain"].document["$schema"] == "http://json-schema.org/draft-07/schema#"


def test_an_asyncapi_payload_is_draft_07_so_keywords_beside_a_ref_are_ignored(tmp_path):
    write(tmp_path, "asyncapi.yaml", """\
        asyncapi: 3.0.0
        info: {title: s, version: '1'}
        channels:
          c: {address: c, messages: {m: {payload: {$ref: '#/components/schemas/Id', maxLength: 5}}}}
        operations:
          a: {action: send, channel: {$ref: '#/channels/c'}}
        components:
          schemas:
            Id: {type: string}
        """)
    document = channels(load(tmp_path).publishes)["c"].document
    assert document == {"$schema": "http://json-schema.org/draft-07/schema#", "type": "string"}


def test_refs_by_anchor_and_by_embedded_id(tmp_path):
    write(tmp_path, "contracts.yaml", """\
        publishes:
          by.anchor:
            schema:
              type: object
              properties: {id: {$ref: '#ident'}, again: {$ref: 'ids.json#ident'}}
              $defs: {ident: {$anchor: ident, type: string, maxLength: 36}}
          by.id:
            schema:
              type: object
              properties: {money: {$ref: 'https://schemas.acme.example/money'}}
              $defs:
                money: {$id: 'https://schemas.acme.example/money', type: integer, minimum: 0}
          draft7.anchor:
            schema:
              $schema: 'http://json-schema.org/draft-07/schema#'
              properties: {id: {$ref: '#legacy'}}
              definitions: {x: {$id: '#legacy', type: boolean}}
        """)
    write(tmp_path, "ids.json", json.dumps({"$defs": {"i": {"$anchor": "ident", "type": "integer"}}}))
    contract = load(tmp_path)
    props = channels(contract.publishes)["by.anchor"].document["properties"]
    assert props == {"id": {"type": "string", "maxLength": 36}, "again": {"type": "integer"}}
    assert channels(contract.publishes)["by.id"].document["properties"]["money"] == {"type": "integer", "minimum": 0}
    assert channels(contract.publishes)["draft7.anchor"].document["properties"]["id"] == {"type": "boolean"}


def test_asyncapi_refs_into_other_files(tmp_path):
    write(tmp_path, "asyncapi.yaml", """\
        asyncapi: 2.6.0
        info: {title: s, version: '1'}
        channels:
          thing.made: {$ref: 'api/channels.yaml#/made'}
          other.done:
            publish: {message: {payload: {$ref: 'api/schemas/done.json#/$defs/Done'}}}
        """)
    write(tmp_path, "api/channels.yaml", "made:\n  subscribe: {message: {$ref: 'messages.yaml#/Made'}}\n")
    write(tmp_path, "api/messages.yaml", "Made: {payload: {$ref: 'schemas/made.json'}}\n")
    write(tmp_path, "api/schemas/made.json", json.dumps({"type": "object", "properties": {"id": {"$ref": "#/$defs/id"}},
                                                         "$defs": {"id": {"type": "string", "minLength": 3}}}))
    write(tmp_path, "api/schemas/done.json", json.dumps({"$defs": {"Done": {"type": "integer"}}}))
    contract = load(tmp_path)
    assert channels(contract.publishes)["thing.made"].document["properties"]["id"] == {"type": "string", "minLength": 3}
    assert channels(contract.consumes)["other.done"].document["type"] == "integer"


def test_asyncapi_3_pointer_through_a_channel_kept_in_another_file(tmp_path):
    """`#/channels/made/messages/m` when channel `made` is itself a $ref: the pointer goes through it."""
    write(tmp_path, "asyncapi.yaml", """\
        asyncapi: 3.0.0
        info: {title: s, version: '1'}
        channels:
          made: {$ref: 'api/channels.yaml#/made'}
        operations:
          tell: {action: send, channel: {$ref: '#/channels/made'}, messages: [{$ref: '#/channels/made/messages/m'}]}
          hear: {action: receive, channel: {$ref: 'api/channels.yaml#/made'}}
        """)
    write(tmp_path, "api/channels.yaml", "made:\n  address: thing.made\n  messages:\n    m: {$ref: 'messages.yaml#/M'}\n")
    write(tmp_path, "api/messages.yaml", "M: {payload: {$ref: 'schemas.yaml#/S'}}\n")
    write(tmp_path, "api/schemas.yaml", "S: {type: integer, minimum: 1}\n")
    contract = load(tmp_path)
    for table in (channels(contract.publishes), channels(contract.consumes)):
        assert {k: v for k, v in table["thing.made"].document.items() if k != "$schema"} == {
            "type": "integer", "minimum": 1}


@pytest.mark.parametrize("text", [
    "asyncapi: 3.0.0\nchannels: {c: {address: a}}\noperations: {o: {action: send, channel: {$ref: '#/channels/c'}}}\n",
    "asyncapi: 3.0.0\nchannels: {c: {address: a, messages: {m: {payload: {}}}}}\n"
    "operations: {o: {action: receive, channel: {$ref: '#/channels/c'}, messages: []}}\n",
])
def test_an_asyncapi_3_operation_with_no_message_is_a_note_not_an_error(tmp_path, text):
    write(tmp_path, "asyncapi.yaml", text)
    contract = load(tmp_path)
    assert contract.empty
    assert len(contract.notes) == 1 and "svc/asyncapi.yaml: operations.o: names no message" in contract.notes[0]
