"""Reading YAML/JSON documents and turning validation failures into one readable line per problem; where
the recorded data lives (`default_data_dir`)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from hearpipe.errors import InvalidInput

M = TypeVar("M", bound=BaseModel)


def default_data_dir() -> Path:
    """The recorded speech and noise (train/, dev/): $HEARPIPE_DATA, else ../shared/data relative to
    the repository root."""
    env = os.environ.get("HEARPIPE_DATA")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[1].parent / "shared" / "data"


def read_document(path: str | Path) -> dict[str, Any]:
    """Parse a YAML or JSON file into a mapping, or raise InvalidInput naming the file and line."""
    p = Path(path)
    if not p.is_file():
        raise InvalidInput(f"{p}: no such file")
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise InvalidInput(f"{p}: cannot read as text ({e})") from None
    try:
        doc = json.loads(text) if p.suffix.lower() == ".json" else yaml.safe_load(text)
    except (yaml.YAMLError, json.JSONDecodeError) as e:
        mark = getattr(e, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        msg = getattr(e, "problem", None) or str(e)
        raise InvalidInput(f"{p}: malformed document{where}: {msg}") from None
    if not isinstance(doc, dict):
        raise InvalidInput(f"{p}: expected a mapping of fields at the top level, found {type(doc).__name__}")
    return doc


def location(loc: tuple) -> str:
    """('nodes', 2, 'params', 'hop') -> 'nodes[2].params.hop'."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def describe_validation(err: ValidationError, prefix: str = "") -> str:
    lines = []
    pre = tuple(int(t) if t.isdigit() else t for t in prefix.split(".")) if prefix else ()
    for e in err.errors():
        where = location(pre + tuple(e["loc"]))
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            msg = "unknown field"
        elif e["type"] == "missing":
            msg = "required field is missing"
        inp = e.get("input")
        shown = (
            "" if e["type"] in ("missing", "extra_forbidden") or isinstance(inp, dict) else f" (got {inp!r})"
        )
        lines.append(f"{where}: {msg}{shown}")
    return "; ".join(lines)


def validate(model: type[M], data: Any, source: str, prefix: str = "") -> M:
    """Validate `data` into `model`, raising InvalidInput('<source>: <field>: <problem>')."""
    try:
        return model.model_validate(data)
    except ValidationError as e:
        raise InvalidInput(f"{source}: {describe_validation(e, prefix)}") from None


def load_model(model: type[M], path: str | Path) -> M:
    return validate(model, read_document(path), str(path))
