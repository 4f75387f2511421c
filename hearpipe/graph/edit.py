"""Edits of a prepared graph that give a new prepared graph (through `Graph.rebuilt`)."""

from __future__ import annotations

from collections.abc import Iterable

from hearpipe.config import validate
from hearpipe.errors import InvalidInput
from hearpipe.graph.engine import Graph
from hearpipe.graph.spec import INPUT, GraphSpec


def bypass(graph: Graph, names: Iterable[str]) -> Graph:
    """A new prepared graph with the named nodes replaced by wires (a hearing aid's "test mode": e.g.
    noise reduction off, which would treat the test tones as noise). Each bypassed node must have one
    input and pass its format through unchanged; its readers are fed by its input instead."""
    names = list(names)
    unknown = [n for n in names if n not in graph.blocks]
    if unknown:
        raise InvalidInput(f"--bypass: unknown node(s) {unknown} (nodes: {', '.join(graph.order)})")
    feed = {}
    for n in names:
        ins = graph.inputs[n]
        src = ins[0] if len(ins) == 1 else None
        if src is None or graph.formats[src] != graph.formats[n]:
            raise InvalidInput(f"--bypass: node '{n}' changes the signal format or has several inputs")
        feed[n] = src

    def source(n: str) -> str:
        while n in feed:
            n = feed[n]
        return n

    nodes = []
    for spec_node in graph.spec.nodes:
        if spec_node.name in feed:
            continue
        ins = [source(s) for s in graph.inputs[spec_node.name]]
        nodes.append({**spec_node.model_dump(), "inputs": ins})
    if not nodes:
        raise InvalidInput("--bypass: nothing left of the graph")
    doc = graph.spec.model_dump()
    doc["nodes"] = nodes
    if doc.get("output") in feed:
        doc["output"] = source(doc["output"]) if source(doc["output"]) != INPUT else None
    return graph.rebuilt(spec=validate(GraphSpec, doc, graph.source))
