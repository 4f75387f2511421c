"""hearpipe: hearing-aid signal-processing graphs, float and bit-true fixed point, with device budgets."""

from importlib.metadata import PackageNotFoundError, version

from hearpipe.errors import FormatMismatch, HearpipeError, InvalidInput, OverBudget
from hearpipe.graph.engine import Graph, load_graph
from hearpipe.io import render

try:
    __version__ = version("hearpipe")  # one source of truth: pyproject.toml
except PackageNotFoundError:  # a source checkout that was never installed
    __version__ = "0+unknown"

__all__ = ["FormatMismatch", "Graph", "HearpipeError", "InvalidInput", "OverBudget", "load_graph", "render"]
