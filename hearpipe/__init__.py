"""hearpipe: hearing-aid signal-processing graphs, float and bit-true fixed point, with device budgets."""

from hearpipe.errors import FormatMismatch, HearpipeError, InvalidInput, OverBudget
from hearpipe.graph.engine import Graph, load_graph

__version__ = "0.1.0"


def render(*args, **kwargs):
    """Render audio files through a graph (see `hearpipe.render_files.render`)."""
    from hearpipe.render_files import render as _render

    return _render(*args, **kwargs)


__all__ = ["FormatMismatch", "Graph", "HearpipeError", "InvalidInput", "OverBudget", "load_graph", "render"]
