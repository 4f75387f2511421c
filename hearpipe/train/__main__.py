"""`python -m hearpipe.train CONFIG|RECIPE --out DIR`: the `hearpipe train` command on its own."""

import argparse
import sys

from hearpipe.cli import train
from hearpipe.errors import HearpipeError

parser = argparse.ArgumentParser(prog="python -m hearpipe.train")
train.add_parser(parser.add_subparsers(dest="command", required=True))
args = parser.parse_args(["train", *sys.argv[1:]])
try:
    sys.exit(args.run(args))
except HearpipeError as e:
    print(f"error: {e}", file=sys.stderr)
    sys.exit(e.exit_code)
except KeyboardInterrupt:
    sys.exit(130)
