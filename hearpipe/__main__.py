"""`python -m hearpipe` and the `hearpipe` console script. The command line's modules (numba, scipy) take
a second or more to import: a Ctrl-C meanwhile ends the program with one line, not a traceback."""

import sys


def run() -> int:
    try:
        from hearpipe.cli import main
    except KeyboardInterrupt:
        print("hearpipe: interrupted", file=sys.stderr)
        return 130
    return main()


if __name__ == "__main__":
    sys.exit(run())
