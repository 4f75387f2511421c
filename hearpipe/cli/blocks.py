"""`hearpipe blocks [NAME]`: the block types a graph can use, with their parameters (types, defaults, units)."""

from __future__ import annotations

import json
from typing import Literal, get_args, get_origin

from hearpipe.errors import InvalidInput
from hearpipe.graph.registry import block_types


def add_parser(sub) -> None:
    p = sub.add_parser(
        "blocks",
        help="list block types and their parameters",
        description="List the block types a graph's nodes can use, with each parameter's type, default and "
        "description (units included).",
    )
    p.add_argument("name", nargs="?", help="show only this block type (e.g. wdrc)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(run=run)


def _type_name(ann) -> str:
    if get_origin(ann) is Literal:
        return "one of " + "|".join(map(str, get_args(ann)))
    s = str(ann) if get_args(ann) else getattr(ann, "__name__", str(ann))
    return s.replace("typing.", "")


def describe() -> list[dict]:
    """[{type, summary, params: [{name, type, required, default, description}]}] for every block type."""
    out = []
    for name, cls in block_types().items():
        params = []
        for field, info in cls.Params.model_fields.items():
            required = info.is_required()
            params.append(
                {
                    "name": field,
                    "type": _type_name(info.annotation),
                    "required": required,
                    "default": None if required else info.get_default(call_default_factory=True),
                    "description": info.description or "",
                }
            )
        out.append({"type": name, "summary": cls.summary, "params": params})
    return out


def run(a) -> int:
    types = describe()
    if a.name:
        types = [t for t in types if t["type"] == a.name]
        if not types:
            names = ", ".join(t["type"] for t in describe())
            raise InvalidInput(f"unknown block type {a.name!r} (block types: {names})")
    if a.json:
        print(json.dumps(types, indent=2, default=str))
        return 0
    for t in types:
        print(f"{t['type']}: {t['summary']}")
        for f in t["params"]:
            default = "required" if f["required"] else f"default {f['default']!r}"
            print(f"    {f['name']} ({f['type']}; {default}): {f['description']}")
    return 0
