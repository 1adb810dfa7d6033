"""Message contracts: who publishes and who consumes each message, and whether they still fit.

Small modules, one job each:

- ``documents``: YAML/JSON text to data, with file and line on every error.
- ``refs``: ``$ref`` resolution (local pointers and relative files) into one
  self-contained schema; recursive schemas become ``#/$defs`` pointers.
- ``loading``: ``contracts.yaml`` and AsyncAPI 2.x/3.x to a ``Contract``.
- ``sources``: where contract files are read from (a work tree, or git at a ref).
- ``rules``: the Confluent-style JSON Schema compatibility rules (writer/reader);
  ``content_models`` (objects, arrays) and ``extra_keywords`` (dependencies,
  propertyNames, if/then/else, contains, unevaluated*) are mixed into it.
- ``examples``: a message the writer accepts and the reader rejects, validated.
- ``avro_payloads``: Avro payloads through the ``avro`` package's checker.
- ``compare``: one comparison (cached by content hash) and ``compare_change``.
- ``fleet``: every project's contracts, the pair matrix, ``--against REF``.
- ``graph``: the networkx graph and its text/JSON/DOT/Mermaid/HTML forms.
- ``deploy``: ``record-deployment`` and ``can-i-deploy`` against environments/ENV.json.
- ``plan``: ``deploy_order``, a safe order for a multi-service rollout.
"""
