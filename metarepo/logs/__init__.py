"""The fleet's logs for a person: every service's lines in one place, in time order (``meta logs ENV``).

Services write to stdout and stderr; the cluster keeps and ships those
lines (an environment's ``logging`` driver, applied at rollout by
``images/``). This package reads them back and merges them:

- ``lines``: a ``LogLine`` and the platform's timestamps as merge keys.
- ``since``: ``--since`` as a duration or an RFC 3339 time.
- ``grep``: ``--grep``, a regular expression with a time bound per line.
- ``merge``: the history merge (heapq) and the live one (bounded queues, a watermark).
- ``swarm``: one stream per task from the engine's API.
- ``kubernetes``: ``kubectl logs`` by the Deployments' label.
- ``read``: ``open_logs``, which picks the platform and hands back a session.
"""
