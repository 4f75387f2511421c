"""`hearpipe compress MODEL -o OUT.npz`: prune, cluster or quantise a GroupComm weight file into a packed
file that the fixed-point runtime executes as stored; `--report` compresses the model every way and
scores each variant (stored bytes, ratio, MAC/s, MIPS, SI-SNRi, STOI; docs/compression.md).

The recipe comes from a YAML file (`--config`: bits, prune, cluster, share) or the flags. The MODEL must
hold pinned fixed-point formats (`hearpipe evaluate MODEL --pin`); builtin models do.
"""

from __future__ import annotations

import argparse
import json

from hearpipe.compress.pipeline import Recipe, compress_file, estimator_bytes
from hearpipe.datadir import default_data_dir
from hearpipe.errors import InvalidInput
from hearpipe.evaluation.compression import VARIANTS, report, table
from hearpipe.evaluation.mixtures import dev_mixtures
from hearpipe.models.weights import load_weights, resolve_weights


def add_parser(sub) -> None:
    p = sub.add_parser(
        "compress",
        help="compress a GroupComm weight file (low-bit, pruning, clustering, sharing); --report",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "model", nargs="?", default="builtin:enhance_conv", help="float weight file or builtin:NAME"
    )
    p.add_argument("-o", "--out", help="the compressed weight file to write (.npz)")
    p.add_argument("--config", help="recipe file (YAML: bits, prune, cluster, share)")
    p.add_argument("--bits", type=int, help="bits per weight of quantised layers, 2..8 (default 8)")
    p.add_argument("--prune", type=float, nargs="+", help="staged row-pruning shares, e.g. 0.25 0.5")
    p.add_argument("--cluster", type=int, help="k-means centroids per sign (+ zero) instead of --bits")
    p.add_argument("--share", action="store_true", help="the repeated blocks share block 0's matrices")
    p.add_argument("--report", action="store_true", help="compress every way and score each variant")
    p.add_argument(
        "--extra", nargs="*", default=[], metavar="NAME=FILE", help="--report: also score these files"
    )
    p.add_argument(
        "--n", type=int, default=None, help="--report: dev utterances, each at 0 and 5 dB (default all)"
    )
    p.add_argument("--no-stoi", action="store_true", help="--report: skip STOI (faster)")
    p.add_argument(
        "--only", nargs="*", default=None, metavar="VARIANT",
        help="--report: only these variants by name (e.g. float '3-bit PTQ'); default all",
    )  # fmt: skip
    p.add_argument("--data", default=None, help="data folder (default $HEARPIPE_DATA or ../shared/data)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(run=run)


def recipe_of(a) -> Recipe:
    d = {}
    if a.config:
        d = Recipe.from_file(a.config).to_dict()
    for key in ("bits", "prune", "cluster"):
        if getattr(a, key) is not None:
            d[key] = getattr(a, key)
    if a.share:
        d["share"] = True
    return Recipe.from_dict(d, a.config or "flags")


def run(a) -> int:
    if a.report:
        extra = {}
        for item in a.extra:
            name, sep, path = item.partition("=")
            if not sep:
                raise InvalidInput(f"--extra {item!r}: expected NAME=FILE")
            extra[name] = path
        variants = VARIANTS
        if a.only is not None:
            unknown = sorted(set(a.only) - {name for name, _ in VARIANTS})
            if unknown:
                names = ", ".join(repr(name) for name, _ in VARIANTS)
                raise InvalidInput(f"--only: unknown variant(s) {', '.join(unknown)}; choose from {names}")
            variants = tuple(v for v in VARIANTS if v[0] in a.only)
        mixtures = dev_mixtures(a.data or default_data_dir(), n=a.n)
        rows = report(a.model, mixtures, variants, extra=extra, stoi=not a.no_stoi)
        if a.json:
            print(json.dumps({"model": a.model, "n_mixtures": len(mixtures), "rows": rows}, indent=2))
        else:
            print(f"{a.model}: {len(mixtures)} dev mixtures (0 and 5 dB SNR), fixed point on hearing-aid-dsp")
            print(table(rows))
        return 0
    if not a.out:
        raise InvalidInput("compress: give -o OUT.npz (or --report)")
    recipe = recipe_of(a)
    path = compress_file(a.model, a.out, recipe)
    res = {
        "model": a.model,
        "out": str(path),
        "recipe": recipe.to_dict(),
        "stored_bytes": estimator_bytes(load_weights(path)),
        "float32_bytes": estimator_bytes(load_weights(resolve_weights(a.model))),
    }
    res["ratio_vs_float32"] = res["float32_bytes"] / res["stored_bytes"]
    if a.json:
        print(json.dumps(res, indent=2))
    else:
        print(
            f"{path}: mask estimator {res['stored_bytes']} bytes stored ({res['ratio_vs_float32']:.2f}x smaller "
            f"than float32), recipe {recipe.to_dict()}"
        )
    return 0
