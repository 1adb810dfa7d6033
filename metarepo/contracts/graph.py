"""The fleet graph: service and message nodes; a producer feeds a message, a message feeds its consumers.

networkx is imported here only, inside the functions. The text, JSON, DOT,
Mermaid and HTML forms are strings for the CLI to print or write; the HTML
form is one self-contained file with an inline SVG (no scripts, no fetches).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from html import escape
from typing import Any, Iterable, Mapping

from metarepo.errors import NotFoundError

from metarepo.contracts.model import CONSUMER, PRODUCER, Bindings, Contract, Message, Pair, Role

FORMATS = ("text", "json", "dot", "mermaid", "html")


def service_node(name: str) -> str:
    return f"service:{name}"


def message_node(message: Message) -> str:
    return f"message:{message.label}"


@dataclass(frozen=True)
class Party:
    """One service at one end of a message: its operation, the AsyncAPI bindings there, its own name for the
    message (a consumer may call it otherwise, ``matching``), and whether it is an operation's reply."""

    service: str
    operation: str
    message: Message
    bindings: Bindings
    reply: bool = False


@dataclass(frozen=True)
class Flow:
    """One message (channel and message id), who sends it and who reads it."""

    message: Message
    producers: tuple[Party, ...]
    consumers: tuple[Party, ...]


def build_graph(contracts: Mapping[str, Contract], pairs: Iterable[Pair] = ()) -> Any:
    """A ``networkx.DiGraph``: service nodes (``kind="service"``, ``label``), message nodes (``kind="message"``,
    ``label``, ``message``: a ``Message``); an edge from a producer to each message it sends and from each
    message to each consumer that reads it (``role`` publishes/consumes, ``party``: a ``Party``,
    ``breaking``: part of a pair that is not compatible)."""
    import networkx as nx

    from metarepo.contracts.matching import fleet_links

    graph = nx.DiGraph()
    ends = {(c.service, e.role, e.message): e for c in contracts.values() for e in c.endpoints}

    def party(service: str, role: Role, message: Message) -> Party:
        end = ends[(service, role, message)]
        return Party(service, end.operation, message, end.bindings, end.reply)

    def add_message(message: Message) -> str:
        node = message_node(message)
        if node not in graph:
            graph.add_node(node, kind="message", label=message.label, message=message)
        return node

    for service in contracts:
        graph.add_node(service_node(service), kind="service", label=service)
    read: set[tuple[str, Message]] = set()
    for contract in contracts.values():
        for message in contract.publishes:
            graph.add_edge(service_node(contract.service), add_message(message), role="publishes", breaking=False,
                           party=party(contract.service, PRODUCER, message))
    for link in fleet_links(contracts):
        read.add((link.consumer, link.read))
        graph.add_edge(message_node(link.sent), service_node(link.consumer), role="consumes", breaking=False,
                       party=party(link.consumer, CONSUMER, link.read))
    for contract in contracts.values():
        for message in contract.consumes:
            if (contract.service, message) not in read:  # nobody sends it
                graph.add_edge(add_message(message), service_node(contract.service), role="consumes",
                               breaking=False, party=party(contract.service, CONSUMER, message))
    for pair in pairs:
        if not pair.compatible:
            for edge in ((service_node(pair.producer), message_node(pair.message)),
                         (message_node(pair.message), service_node(pair.consumer))):
                if graph.has_edge(*edge):
                    graph.edges[edge]["breaking"] = True
    return graph


def flows(graph: Any) -> list[Flow]:
    """Every message of the graph with its producers and consumers, sorted by channel and message id."""
    out = []
    for node in _messages(graph):
        producers = tuple(graph.edges[p, node]["party"] for p in graph.predecessors(node))
        consumers = tuple(graph.edges[node, c]["party"] for c in graph.successors(node))
        out.append(Flow(graph.nodes[node]["message"], producers, consumers))
    return sorted(out, key=lambda flow: flow.message)


def affected_by(graph: Any, service: str) -> list[str]:
    """The services a change to ``service`` can reach downstream, nearest first."""
    import networkx as nx

    node = service_node(service)
    if node not in graph:
        raise NotFoundError(f"{service!r} publishes and consumes nothing in the graph")
    distances = nx.single_source_shortest_path_length(graph, node)
    reached = [(d, graph.nodes[n]["label"]) for n, d in distances.items()
               if n != node and graph.nodes[n]["kind"] == "service"]
    return [name for _, name in sorted(reached)]


def downstream(graph: Any, service: str) -> Any:
    """The part of the graph a change to ``service`` can reach: it, the messages on the way, the services reached."""
    import networkx as nx

    node = service_node(service)
    if node not in graph:
        raise NotFoundError(f"{service!r} publishes and consumes nothing in the graph")
    return graph.subgraph({node, *nx.descendants(graph, node)}).copy()


def _services(graph: Any) -> list[str]:
    return [n for n, kind in graph.nodes(data="kind") if kind == "service"]


def _messages(graph: Any) -> list[str]:
    return sorted((n for n, kind in graph.nodes(data="kind") if kind == "message"),
                  key=lambda n: graph.nodes[n]["message"])


def to_text(graph: Any) -> str:
    lines = []
    for message in _messages(graph):
        producers = [graph.nodes[p]["label"] for p in graph.predecessors(message)]
        consumers = [graph.nodes[c]["label"] + (" ✗" if graph.edges[message, c]["breaking"] else "")
                     for c in graph.successors(message)]
        lines.append(f"{graph.nodes[message]['label']}: {', '.join(producers) or '(nobody publishes)'} -> "
                     f"{', '.join(consumers) or '(nobody consumes)'}")
    lonely = [graph.nodes[s]["label"] for s in _services(graph) if graph.degree(s) == 0]
    if lonely:
        lines.append(f"no contracts: {', '.join(lonely)}")
    return "\n".join(lines)


def to_json(graph: Any) -> dict:
    def party(p: Party) -> dict:
        return {"service": p.service, "operation": p.operation, "message": p.message.name, "reply": p.reply,
                "bindings": p.bindings.as_json()}

    return {
        "services": [graph.nodes[s]["label"] for s in _services(graph)],
        "messages": [graph.nodes[m]["label"] for m in _messages(graph)],
        "edges": [{"from": graph.nodes[a]["label"], "to": graph.nodes[b]["label"], "role": data["role"],
                   "breaking": data["breaking"]} for a, b, data in graph.edges(data=True)],
        "flows": [{"channel": f.message.channel, "message": f.message.name,
                   "producers": [party(p) for p in f.producers], "consumers": [party(c) for c in f.consumers]}
                  for f in flows(graph)],
    }


def _dot_id(text: str) -> str:
    return json.dumps(text)


def to_dot(graph: Any) -> str:
    lines = ["digraph contracts {", "  rankdir=LR;", '  node [fontname="Helvetica"];']
    for node, data in graph.nodes(data=True):
        shape = "box" if data["kind"] == "service" else "ellipse"
        lines.append(f"  {_dot_id(node)} [label={_dot_id(data['label'])}, shape={shape}];")
    for a, b, data in graph.edges(data=True):
        style = ' [color=red, penwidth=2, label="breaking"]' if data["breaking"] else ""
        lines.append(f"  {_dot_id(a)} -> {_dot_id(b)}{style};")
    lines.append("}")
    return "\n".join(lines)


def to_mermaid(graph: Any) -> str:
    ids = {node: f"n{i}" for i, node in enumerate(graph.nodes)}
    lines = ["flowchart LR"]
    for node, data in graph.nodes(data=True):
        label = data["label"].replace('"', "'")
        lines.append(f'  {ids[node]}["{label}"]' if data["kind"] == "service" else f'  {ids[node]}(["{label}"])')
    red = []
    for i, (a, b, data) in enumerate(graph.edges(data=True)):
        lines.append(f"  {ids[a]} --> {ids[b]}")
        if data["breaking"]:
            red.append(str(i))
    if red:
        lines.append(f"  linkStyle {','.join(red)} stroke:red,stroke-width:3px")
    return "\n".join(lines)


def to_html(graph: Any, pairs: Iterable[Pair] = (), title: str = "Message contracts") -> str:
    """One self-contained page: producers left, messages centre, consumers right; breaking edges red."""
    services = _services(graph)
    messages = _messages(graph)
    row, width = 44, 980
    left = [s for s in services if graph.out_degree(s) or not graph.in_degree(s)]
    right = [s for s in services if graph.in_degree(s)]
    pos: dict[tuple[str, str], tuple[float, float]] = {}
    for i, s in enumerate(left):
        pos[("L", s)] = (20, 30 + i * row)
    for i, m in enumerate(messages):
        pos[("M", m)] = (390, 30 + i * row)
    for i, s in enumerate(right):
        pos[("R", s)] = (760, 30 + i * row)
    height = 60 + row * max(len(left), len(messages), len(right), 1)
    box_w, box_h = 200, 28
    parts = []
    for a, b, data in graph.edges(data=True):
        start = pos[("L", a)] if data["role"] == "publishes" else pos[("M", a)]
        end = pos[("M", b)] if data["role"] == "publishes" else pos[("R", b)]
        x1, y1 = start[0] + box_w, start[1] + box_h / 2
        x2, y2 = end[0], end[1] + box_h / 2
        colour, thick = ("#d11", 3) if data["breaking"] else ("#888", 1.5)
        who, what = (a, b) if data["role"] == "publishes" else (b, a)  # a consumes edge runs message -> service
        tip = escape(f"{graph.nodes[who]['label']} {data['role']} {graph.nodes[what]['label']}"
                     + (" (breaking)" if data["breaking"] else ""))
        parts.append(f'<path d="M{x1},{y1} C{x1 + 80},{y1} {x2 - 80},{y2} {x2},{y2}" stroke="{colour}" '
                     f'stroke-width="{thick}" fill="none" marker-end="url(#arrow)"><title>{tip}</title></path>')
    for (column, node), (x, y) in pos.items():
        data = graph.nodes[node]
        fill = "#e8f0fe" if data["kind"] == "service" else "#fff4e0"
        radius = 4 if data["kind"] == "service" else 14
        parts.append(f'<rect x="{x}" y="{y}" width="{box_w}" height="{box_h}" rx="{radius}" fill="{fill}" '
                     f'stroke="#445"/><text x="{x + box_w / 2}" y="{y + 18}" text-anchor="middle">'
                     f'{escape(data["label"])}</text>')
    breaking = any(d["breaking"] for *_, d in graph.edges(data=True))
    legend = (f"{len(services)} services, {len(messages)} messages"
              + (", the edges of breaking pairs in red" if breaking else ""))
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>
<style>body{{font-family:Helvetica,Arial,sans-serif;margin:24px}} text{{font-size:13px}}</style></head>
<body><h1>{escape(title)}</h1><p>{escape(legend)}. Producers left, messages in the middle, consumers right.</p>
<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}">
<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto">
<path d="M0,0 L10,5 L0,10 z" fill="#555"/></marker></defs>
{chr(10).join(parts)}
</svg>{_breaking_list(pairs)}</body></html>
"""


def _breaking_list(pairs: Iterable[Pair]) -> str:
    items = []
    for pair in pairs:
        if pair.compatible:
            continue
        changes = "".join(f"<li><code>{escape(c.path)}</code> {escape(c.kind)}: {escape(c.message)}</li>"
                          for c in pair.verdict.breaking)
        example = (f"<p>A message {escape(pair.producer)} may send and {escape(pair.consumer)} rejects:</p>"
                   f"<pre>{escape(json.dumps(pair.verdict.example, indent=2, default=str))}</pre>"
                   if pair.verdict.has_example else "")
        items.append(f"<li><b>{escape(pair.message.label)}</b>: {escape(pair.producer)} &rarr; "
                     f"{escape(pair.consumer)}<ul>{changes}</ul>{example}</li>")
    return f"<h2>Breaking pairs</h2><ul>{''.join(items)}</ul>" if items else ""
