"""The house has one direction (issue 16): no import cycle, layers import downward, modules stay small.

Every `import`/`from ... import` of a hearpipe module is counted, at module level or inside a function,
so a function-level import cannot hide a cycle.
"""

import ast
from pathlib import Path

from tests.conftest import REPO

PKG = REPO / "hearpipe"
MAX_LINES = 500
# numba kernel files may be long: a kernel is one loop nest and splitting it would hide what it computes
KERNEL_FILES = ("_kernels.py",)


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_module_name(p): p for p in sorted(PKG.rglob("*.py"))}


def _resolve(name: str) -> str | None:
    """The hearpipe module an import names (a package's __init__ for a package, None outside hearpipe)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _imports(mod: str) -> set[str]:
    path = MODULES[mod]
    tree = ast.parse(path.read_text(), filename=str(path))
    package = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            names = [base] + [f"{base}.{a.name}" for a in node.names]
        else:
            continue
        for n in names:
            if n == "hearpipe" or n.startswith("hearpipe."):
                target = _resolve(n)
                if target and target != mod:
                    found.add(target)
    return found


GRAPH = {m: _imports(m) for m in MODULES}


def _ancestors(mod: str) -> set[str]:
    parts = mod.split(".")
    return {".".join(parts[:i]) for i in range(1, len(parts))}


def _cycles() -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan). Importing a submodule runs its
    package's __init__ first, so a package importing its own submodules is not a cycle; edges from a
    module to its own ancestors packages are left out."""
    edges = {m: {t for t in ts if t not in _ancestors(m)} for m, ts in GRAPH.items()}
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for m in edges:
        if m not in index:
            visit(m)
    return out


def test_no_import_cycle():
    assert _cycles() == []


def _importers_of(prefix: str) -> dict[str, set[str]]:
    return {
        m: {t for t in ts if t == prefix or t.startswith(prefix + ".")}
        for m, ts in GRAPH.items()
        if not (m == prefix or m.startswith(prefix + "."))
    }


def test_fixed_point_kernels_import_nothing_above_fixed():
    allowed = {"hearpipe.errors"}
    bad = {
        m: sorted(t for t in ts if not t.startswith("hearpipe.fixed") and t not in allowed)
        for m, ts in GRAPH.items()
        if m.startswith("hearpipe.fixed")
    }
    assert {m: ts for m, ts in bad.items() if ts} == {}


def test_metrics_import_nothing_of_hearpipe_but_errors():
    bad = {
        m: sorted(t for t in ts if not t.startswith("hearpipe.metrics") and t != "hearpipe.errors")
        for m, ts in GRAPH.items()
        if m.startswith("hearpipe.metrics")
    }
    assert {m: ts for m, ts in bad.items() if ts} == {}


def test_only_the_command_line_imports_train():
    """The training package needs torch (an optional extra): only the train command and `evaluate --torch`
    (scoring the PyTorch twin) reach it, each inside the function that needs it."""
    importers = {m for m, ts in _importers_of("hearpipe.train").items() if ts}
    assert importers <= {"hearpipe.cli.train", "hearpipe.cli.evaluate"}


def test_modules_are_small():
    long = {
        m: n
        for m, p in MODULES.items()
        if (n := len(p.read_text().splitlines())) > MAX_LINES and not p.name.endswith(KERNEL_FILES)
    }
    assert long == {}


# the direction of the house: each layer on the left never imports any on the right (a package name
# covers its submodules)
LAYERS = {
    ("hearpipe.dsp", "hearpipe.models", "hearpipe.budget"): ("hearpipe.graph", "hearpipe.io", "hearpipe.cli"),
    ("hearpipe.graph", "hearpipe.blocks"): (
        "hearpipe.io", "hearpipe.cli", "hearpipe.evaluation", "hearpipe.report", "hearpipe.testbox",
    ),
}  # fmt: skip


def _within(mod: str, prefixes) -> bool:
    return any(mod == p or mod.startswith(p + ".") for p in prefixes)


def test_lower_layers_never_import_upper_ones():
    bad = {
        m: sorted(t for t in ts if _within(t, upper))
        for lower, upper in LAYERS.items()
        for m, ts in GRAPH.items()
        if _within(m, lower)
    }
    assert {m: ts for m, ts in bad.items() if ts} == {}
    assert GRAPH  # the walk found the package (an empty graph would pass every check)
