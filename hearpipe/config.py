"""Reading YAML/JSON documents and turning validation failures into one readable line per problem.

Every document kind (graph, device profile, audiogram, training config) is read here, so every parser
or conversion failure becomes an InvalidInput naming the file and line, and a document cannot make the
reader hang or exhaust memory: its size, nesting depth and alias expansion are bounded.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from hearpipe.errors import InvalidInput, abbreviate

M = TypeVar("M", bound=BaseModel)

MAX_DOCUMENT_BYTES = 1 << 20  # 1 MiB: the largest shipped document is a few KiB
MAX_DEPTH = 32  # nesting levels of mappings and lists; shipped documents use 5
MAX_PROBLEMS = 5  # validation problems listed in one message
MAX_VALUES = 100_000  # scalars, lists and mappings after expanding YAML aliases (bounds alias bombs)


class _Loader(yaml.SafeLoader):
    """SafeLoader whose conversion failures (a date like 2024-02-30, `!!float abc`) name their line."""

    def construct_object(self, node, deep=False):
        try:
            return super().construct_object(node, deep)
        except yaml.YAMLError:
            raise
        except Exception as e:  # the constructors raise ValueError, KeyError, TypeError, ...
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"{abbreviate(node.value)} is not a valid {node.tag.rsplit(':', 1)[-1]}",
                node.start_mark,
            ) from e


def _check_yaml_shape(text: str) -> None:
    """Refuse nesting deeper than MAX_DEPTH (from the event stream, which needs no recursion) and alias
    expansion beyond MAX_VALUES (counted on the composed node graph, each alias at its full size)."""
    depth = 0
    for ev in yaml.parse(text, Loader=_Loader):
        if isinstance(ev, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            depth += 1
            if depth > MAX_DEPTH:
                raise _Limit(f"nested deeper than {MAX_DEPTH} levels", ev.start_mark)
        elif isinstance(ev, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            depth -= 1
    node = yaml.compose(text, Loader=_Loader)
    sizes: dict[int, int] = {}

    def size(n) -> int:  # depth is bounded above, so recursion is safe; memoised, so linear in nodes
        if id(n) not in sizes:
            if isinstance(n, yaml.MappingNode):
                sizes[id(n)] = 1 + sum(size(k) + size(v) for k, v in n.value)
            elif isinstance(n, yaml.SequenceNode):
                sizes[id(n)] = 1 + sum(size(v) for v in n.value)
            else:
                sizes[id(n)] = 1
            if sizes[id(n)] > MAX_VALUES:
                raise _Limit(f"aliases expand to more than {MAX_VALUES:,} values", n.start_mark)
        return sizes[id(n)]

    if node is not None:
        size(node)


class _Limit(Exception):
    def __init__(self, what: str, mark):
        super().__init__(what)
        self.what, self.mark = what, mark


def _json_depth_ok(doc: Any) -> None:
    stack = [(doc, 1)]
    while stack:
        v, d = stack.pop()
        if d > MAX_DEPTH:
            raise InvalidInput(f"nested deeper than {MAX_DEPTH} levels")
        if isinstance(v, dict):
            stack.extend((x, d + 1) for x in v.values())
        elif isinstance(v, list):
            stack.extend((x, d + 1) for x in v)


def parse_text(text: str, source: str, json_syntax: bool = False) -> Any:
    """Parse YAML (or JSON) text from `source` within the limits above, or raise InvalidInput."""
    if len(text) > MAX_DOCUMENT_BYTES:
        raise InvalidInput(f"{source}: larger than the {MAX_DOCUMENT_BYTES >> 10} KiB a document may have")
    try:
        if json_syntax:
            doc = json.loads(text)
            _json_depth_ok(doc)
            return doc
        _check_yaml_shape(text)
        return yaml.load(text, Loader=_Loader)
    except InvalidInput as e:
        raise InvalidInput(f"{source}: {e}") from None
    except RecursionError:  # JSON nested beyond Python's recursion limit, before the depth check
        raise InvalidInput(f"{source}: nested deeper than {MAX_DEPTH} levels") from None
    except json.JSONDecodeError as e:
        raise InvalidInput(f"{source}: malformed JSON (line {e.lineno}, column {e.colno}): {e.msg}") from None
    except ValueError as e:  # JSON: an integer longer than Python converts
        raise InvalidInput(f"{source}: malformed JSON: {e}") from None
    except (yaml.YAMLError, _Limit) as e:
        mark = getattr(e, "problem_mark", None) or getattr(e, "mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        msg = getattr(e, "problem", None) or getattr(e, "what", None) or str(e)
        if isinstance(e, yaml.reader.ReaderError):  # a NUL or other control character
            line = text.count("\n", 0, e.position)
            where = f" (line {line + 1}, column {e.position - (text.rfind(chr(10), 0, e.position) + 1) + 1})"
            code = e.character if isinstance(e.character, int) else ord(e.character)
            msg = f"control character U+{code:04X} is not allowed in a document"
        raise InvalidInput(f"{source}: malformed document{where}: {' '.join(str(msg).split())}") from None


def read_document(path: str | Path) -> dict[str, Any]:
    """Parse a YAML or JSON file into a mapping, or raise InvalidInput naming the file and line."""
    p = Path(path)
    if not p.is_file():
        raise InvalidInput(f"{p}: no such file")
    try:
        if p.stat().st_size > MAX_DOCUMENT_BYTES:
            raise InvalidInput(f"{p}: larger than the {MAX_DOCUMENT_BYTES >> 10} KiB a document may have")
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise InvalidInput(f"{p}: cannot read as text ({e})") from None
    doc = parse_text(text, str(p), json_syntax=p.suffix.lower() == ".json")
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
    errors = err.errors()
    pre = tuple(int(t) if t.isdigit() else t for t in prefix.split(".")) if prefix else ()
    for e in errors[:MAX_PROBLEMS]:
        where = location(pre + tuple(e["loc"]))
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            msg = "unknown field"
        elif e["type"] == "missing":
            msg = "required field is missing"
        inp = e.get("input")
        shown = (
            ""
            if e["type"] in ("missing", "extra_forbidden") or isinstance(inp, dict)
            else f" (got {abbreviate(inp)})"
        )
        lines.append(f"{where}: {msg}{shown}")
    more = f"; and {len(errors) - MAX_PROBLEMS} more problems" if len(errors) > MAX_PROBLEMS else ""
    return "; ".join(lines) + more


def validate(model: type[M], data: Any, source: str, prefix: str = "") -> M:
    """Validate `data` into `model`, raising InvalidInput('<source>: <field>: <problem>')."""
    try:
        return model.model_validate(data)
    except ValidationError as e:
        raise InvalidInput(f"{source}: {describe_validation(e, prefix)}") from None


def load_model(model: type[M], path: str | Path) -> M:
    return validate(model, read_document(path), str(path))
