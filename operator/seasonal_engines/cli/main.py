"""The ``seasonal`` command: one sub-command per module in this package, each with ``add_parser`` and ``run``."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

import seasonal_engines

# Sub-command name -> module in seasonal_engines.cli. Modules are imported lazily so that
# `seasonal --help` stays fast and one broken sub-command cannot take the others down.
COMMANDS: dict[str, str] = {
    "traffic": "traffic",
    "trace": "trace",
    "plan": "plan",
    "render-job": "render_job",
    "validate": "validate",
    "crd": "crd",
    "replay": "replay",
    "seasons": "seasons",
    "quickstart": "quickstart",
    "engines": "engines",
    "run": "run",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="seasonal", description="Seasonal Engines: TensorRT-LLM engines sized "
                                     "to the traffic they serve.")
    parser.add_argument("--version", action="version", version=f"seasonal {seasonal_engines.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module_name in COMMANDS.items():
        try:
            module = importlib.import_module(f"seasonal_engines.cli.{module_name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"seasonal_engines.cli.{module_name}":
                continue  # not shipped yet
            raise
        module.add_parser(sub, name)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        parser.print_help()
        return 2
    try:
        return int(args.run(args) or 0)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `seasonal ... | head`: the reader left. Point stdout at /dev/null so the interpreter's final flush
        # does not raise again, and end quietly as other command-line tools do.
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except (ValueError, FileNotFoundError) as exc:  # bad input: say what and where, no traceback
        print(f"seasonal {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
