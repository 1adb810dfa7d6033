#!/usr/bin/env python3
"""`meta broker apply` of a generated fleet's topology against importing the same definitions in one request.

    python bench/bench_broker.py [--services 1000] [--messages 300] [--attempts 3] [--runs 1]

Starts the test suite's RabbitMQ (tests/servers/rabbitmq.py: Debian's
rabbitmq-server on free 127.0.0.1 ports; as root it runs as the rabbitmq
user), generates the contracts benchmark's fleet (bench_contracts.generate:
contracts.yaml and AsyncAPI 2 and 3 files, 3-4 consumers per message) with
an environment whose broker is that RabbitMQ, and times, each into a fresh
vhost of its own:

- baseline: ``POST /api/definitions/VHOST`` of the plan's definitions (the
  exchanges, queues and bindings ``meta broker plan --json`` lists), one request;
- ``meta broker apply bench``: the whole command, as a fresh process (start-up,
  the contract graph from the contracts cache, which a `meta broker plan` run
  before has filled, the broker's state read, what is missing declared).

Each side starts on an empty broker (the other's vhost deleted first) and
they take turns going first. Then applies again (nothing may change) and
checks that both sides declared the same queues with the same arguments. Prints the medians and the ratio (target
1.5x).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]

from bench_contracts import generate  # noqa: E402
from tests.servers.rabbitmq import running_rabbitmq  # noqa: E402
from tests.servers.web import call  # noqa: E402

TARGET = 1.5
# One request importing a fleet's thousands of quorum queues outlasts the management API's 120 s idle timeout
# (it closes the connection: `meta broker apply` sends chunks for that reason); the baseline needs more.
LONG_REQUESTS = "".join(f"management.tcp.{key} = 3600000\n" for key in ("idle_timeout", "inactivity_timeout",
                                                                          "request_timeout"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=1000)
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument("--attempts", type=int, default=3)
    parser.add_argument("--runs", type=int, default=1, help="median of N runs for each side")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-broker-") as tmp, running_rabbitmq(config=LONG_REQUESTS) as rabbit:
        root = Path(tmp)
        pairs, _ = generate(root, args.services, args.messages)
        manifest = json.loads((root / ".meta").read_text())
        broker = {"kind": "rabbitmq", "url": rabbit.url, "vhost": "bench-0", "exchange": "events",
                  "retry": {"attempts": args.attempts, "delay_ms": 10000}}
        manifest["metarepo"] = {"environments": {"bench": {"target": "swarm", "broker": broker}}}
        (root / ".meta").write_text(json.dumps(manifest, indent=2) + "\n")
        env = {**os.environ, "META_BROKER_USER": rabbit.user, "META_BROKER_PASSWORD": rabbit.password}

        plan = _meta(root, env, "plan", "bench", "--json")  # also fills the contracts cache
        doc = json.loads(plan.stdout)
        definitions = {key: doc[key] for key in ("exchanges", "queues", "bindings")}
        print(f"fleet: {args.services} services, {args.messages} messages, {pairs} consumer pairs; topology: "
              f"{len(doc['exchanges'])} exchanges, {len(doc['queues'])} quorum queues, {len(doc['bindings'])} "
              f"bindings", flush=True)
        imports, applies, again = [], [], []
        for run in range(args.runs):
            # each side into an empty broker: the other's vhost is gone first (thousands of quorum queues
            # already running slow down every new one), and the sides take turns going first
            for side in (("import", "apply") if run % 2 == 0 else ("apply", "import")):
                vhost = _vhost(rabbit, f"bench-{side}-{run}")
                if side == "import":
                    t0 = time.perf_counter()
                    reply = call(f"{rabbit.url}/api/definitions/{quote(vhost, safe='')}", "POST",
                                 data=definitions, auth=rabbit.auth, timeout=3600)
                    imports.append(time.perf_counter() - t0)
                    assert reply.status == 204, reply.text
                    imported = _queues(rabbit, vhost)
                else:
                    broker["vhost"] = vhost
                    (root / ".meta").write_text(json.dumps(manifest, indent=2) + "\n")
                    t0 = time.perf_counter()
                    _meta(root, env, "apply", "bench")
                    applies.append(time.perf_counter() - t0)
                    t0 = time.perf_counter()
                    second = json.loads(_meta(root, env, "apply", "bench", "--json").stdout)
                    again.append(time.perf_counter() - t0)
                    assert second["changes"] == [], second["changes"][:3]
                    applied = _queues(rabbit, vhost)
                call(f"{rabbit.url}/api/vhosts/{quote(vhost, safe='')}", "DELETE", auth=rabbit.auth, timeout=3600)
            assert imported == applied, "the two sides declared different queues"
            print(f"run {run + 1}: import {imports[-1]:.2f}s, meta broker apply {applies[-1]:.2f}s, "
                  f"apply again {again[-1]:.2f}s", flush=True)
        base, ours = statistics.median(imports), statistics.median(applies)
        ratio = ours / base
        print(f"POST /api/definitions (one request)  {base:7.2f}s")
        print(f"meta broker apply                    {ours:7.2f}s  {ratio:.2f}x  (target {TARGET}x: "
              f"{'PASS' if ratio <= TARGET else 'MISS'})")
        print(f"meta broker apply, nothing to do     {statistics.median(again):7.2f}s")
        print(f"load average: {os.getloadavg()[0]:.2f}")
    return 0


def _meta(root: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([sys.executable, "-m", "metarepo", "broker", *args], cwd=root, env=env,
                          capture_output=True, text=True, timeout=3600)
    if proc.returncode != 0:
        sys.exit(f"meta broker {' '.join(args)} failed: {proc.stderr.strip()[-2000:]}")
    return proc


def _vhost(rabbit, name: str) -> str:
    assert rabbit.api(f"vhosts/{name}", "PUT", {}).status in (201, 204)
    assert rabbit.api(f"permissions/{name}/{rabbit.user}", "PUT",
                      {"configure": ".*", "write": ".*", "read": ".*"}).status in (201, 204)
    return name


def _queues(rabbit, vhost: str) -> dict[str, dict]:
    reply = call(f"{rabbit.url}/api/queues/{quote(vhost, safe='')}?columns=name,arguments,durable", auth=rabbit.auth,
                 timeout=600)
    return {q["name"]: (q["arguments"], q["durable"]) for q in reply.json()}


if __name__ == "__main__":
    sys.exit(main())
