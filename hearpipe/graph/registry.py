"""Block registry: `type` names used in graph files -> block classes."""

from __future__ import annotations

import difflib
import importlib

from hearpipe.errors import InvalidInput

_REGISTRY: dict[str, type] = {}

# Modules whose import registers blocks; imported lazily so the CLI starts fast.
BLOCK_MODULES = (
    "hearpipe.blocks.stft",
    "hearpipe.blocks.basic",
    "hearpipe.blocks.prescription",
    "hearpipe.blocks.dynamics",
    "hearpipe.blocks.limiter",
    "hearpipe.blocks.learned",
    "hearpipe.blocks.enhance",
)
_loaded = False


def register(cls):
    """Class decorator: make a Block subclass available under its `type_name`."""
    name = cls.type_name
    if name in _REGISTRY and _REGISTRY[name] is not cls:
        raise RuntimeError(f"block type {name!r} registered twice")
    _REGISTRY[name] = cls
    return cls


def _load_all() -> None:
    global _loaded
    if _loaded:
        return
    for mod in BLOCK_MODULES:
        try:
            importlib.import_module(mod)
        except ModuleNotFoundError as e:
            if e.name != mod:  # a real missing dependency inside an existing module
                raise
    _loaded = True


def block_types() -> dict[str, type]:
    _load_all()
    return dict(sorted(_REGISTRY.items()))


def get_block_class(name: str, where: str = "") -> type:
    types = block_types()
    if name in types:
        return types[name]
    near = difflib.get_close_matches(name, types, n=3, cutoff=0.5)
    hint = f"; did you mean {' or '.join(repr(n) for n in near)}?" if near else ""
    raise InvalidInput(f"{where}unknown block type {name!r}{hint} (known types: {', '.join(types)})")
