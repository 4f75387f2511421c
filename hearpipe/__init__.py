"""hearpipe: hearing-aid signal-processing graphs, float and bit-true fixed point, with device budgets."""

import importlib
from importlib.metadata import PackageNotFoundError, version

from hearpipe.errors import FormatMismatch, HearpipeError, InvalidInput, OverBudget

try:
    __version__ = version("hearpipe")  # one source of truth: pyproject.toml
except PackageNotFoundError:  # a source checkout that was never installed
    __version__ = "0+unknown"

__all__ = ["FormatMismatch", "Graph", "HearpipeError", "InvalidInput", "OverBudget", "load_graph", "render"]

# The graph engine pulls in numba and scipy (a second or more): imported on first use, so `import
# hearpipe` (and the command line's start, hearpipe.__main__) stays instant and a Ctrl-C during the
# heavy import can be answered with one line.
_LAZY = {"Graph": "hearpipe.graph.engine", "load_graph": "hearpipe.graph.engine", "render": "hearpipe.io"}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'hearpipe' has no attribute {name!r}")


def __dir__() -> list[str]:
    """The lazy names too: `help(hearpipe)` lists render, load_graph and Graph with their signatures."""
    return sorted(set(globals()) | set(_LAZY))
