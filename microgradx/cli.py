"""The ``microgradx`` command line: ``demo`` trains the demo model, ``draw`` renders an expression's graph."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from . import __version__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="microgradx", description="microgradx: autograd from first principles.")
    parser.add_argument("--version", action="version", version=f"microgradx {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="train the demo model and write its graph and plots")
    demo.add_argument("--out", default="out/demo", help="folder for the outputs (default: out/demo)")
    demo.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (2 for a usage error)."""
    args = build_parser().parse_args(argv)
    if args.command == "demo":
        from .demo import run_demo

        run_demo(args.out, seed=args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
