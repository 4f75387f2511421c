"""`hearpipe check FILE...`: validate graph, device profile and audiogram files."""

from __future__ import annotations

import json
import sys
import traceback

from hearpipe.budget.device import DeviceProfile
from hearpipe.config import load_model, read_document
from hearpipe.dsp.audiogram import load_audiogram
from hearpipe.errors import HearpipeError, InvalidInput
from hearpipe.graph.engine import graph_path, load_graph


def add_parser(sub) -> None:
    p = sub.add_parser(
        "check",
        help="validate graph, device and audiogram files",
        description="Validate graph, device profile and audiogram files: a graph is built and prepared, a "
        "profile or audiogram loaded. Exit code 2 when any file fails.",
    )
    p.add_argument("files", nargs="+", help="YAML or JSON files, or shipped graph names")
    p.add_argument(
        "--json", action="store_true", help="one JSON object per file: file, ok, kind, detail, error"
    )
    p.set_defaults(run=run)


def kind_of(doc: dict) -> str:
    """What a document is, from its fields: graph, device, audiogram or unknown."""
    if "nodes" in doc:
        return "graph"
    if "cycles_per_op" in doc or "arithmetic" in doc:
        return "device"
    if "frequencies_hz" in doc and ("left_db_hl" in doc or "right_db_hl" in doc):
        return "audiogram"
    return "unknown"


def check_file(f: str, debug: bool = False) -> dict:
    """{file, ok, kind, detail, error} for one file (or shipped graph name)."""
    kind = None
    try:
        path = graph_path(f)
        kind = kind_of(read_document(path))
        if kind == "graph":
            g = load_graph(path)
            detail = (
                f"graph, {len(g.blocks)} nodes, algorithmic latency {g.latency_ms:.3f} ms; a device adds its "
                "input block, see `hearpipe budget`"
            )
        elif kind == "device":
            d = load_model(DeviceProfile, path)
            detail = f"device '{d.name}' ({d.arithmetic}, {d.usable_mips:g} MIPS, {d.ram_kib:,.0f} KiB RAM)"
        elif kind == "audiogram":
            load_audiogram(path)
            detail = "audiogram"
        else:
            raise InvalidInput(
                f"{f}: not a graph (nodes:), device profile (cycles_per_op:) or audiogram (frequencies_hz:)"
            )
    except HearpipeError as e:
        return {"file": f, "ok": False, "kind": kind, "detail": None, "error": str(e)}
    except Exception as e:  # an internal error in one file must not hide the verdicts on the others
        if debug:
            traceback.print_exc()
        msg = f"{f}: internal error: {type(e).__name__}: {' '.join(str(e).split())[:300]}"
        return {"file": f, "ok": False, "kind": kind, "detail": None, "error": msg, "internal": True}
    return {"file": f, "ok": True, "kind": kind, "detail": detail, "error": None}


def run(a) -> int:
    results = [check_file(f, a.debug) for f in a.files]
    if a.json:
        print(json.dumps(results, indent=2))
    else:
        for r in results:
            if r["ok"]:
                print(f"{r['file']}: ok ({r['detail']})")
            else:
                print(r["error"], file=sys.stderr)
    if any(r.get("internal") for r in results):
        return 1
    return 0 if all(r["ok"] for r in results) else 2
