"""The ``mlinterview`` command line.

Each area of the package contributes its own subcommands through a module-level
``add_subcommands(subparsers)`` function; this file only wires them together.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from . import __version__

# (module, what it adds) - the order is the order of `mlinterview --help`.
SUBCOMMAND_MODULES = [
    "mlinterview.scenarios.cli",
    "mlinterview.extension.hub_cli",
    "mlinterview.kernels.cli",
    "mlinterview.extension.history_cli",
    "mlinterview.graders.cli",
]


class CommandError(Exception):
    """An error the user can act on: printed without a traceback, exit status 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mlinterview",
        description="Live data-modeling interviews on JupyterHub: scenarios, recorded sessions, replay grading.",
    )
    parser.add_argument("--version", action="version", version=f"mlinterview {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name in SUBCOMMAND_MODULES:
        importlib.import_module(module_name).add_subcommands(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        # `mlinterview` or `mlinterview scenarios` alone: show what can follow.
        (getattr(args, "subparser", None) or parser).print_help()
        return 2
    try:
        return int(handler(args) or 0)
    except CommandError as error:
        print(f"mlinterview: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("mlinterview: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    # Run as `python -m mlinterview.cli`: call the imported module's main, so that the CommandError
    # the subcommands raise (imported from mlinterview.cli) is the class caught there.
    from mlinterview.cli import main as imported_main

    sys.exit(imported_main())
