"""``python -m seasonal_engines.dashboards [--chart-dir DIR] [--check]``: regenerate the chart's dashboards,
alert rules and CRD copy, or (``--check``) fail when the committed ones are stale."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from seasonal_engines.dashboards import generating


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m seasonal_engines.dashboards", description=__doc__)
    parser.add_argument("--chart-dir", type=Path, default=Path("charts/seasonal-engines"),
                        help="the chart to write into (default: charts/seasonal-engines, from the repo root)")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if a file is stale")
    args = parser.parse_args(argv)
    try:
        if args.check:
            stale = generating.stale(args.chart_dir)
            for rel in stale:
                print(f"stale: {args.chart_dir / rel}", file=sys.stderr)
            if stale:
                print("regenerate with: python -m seasonal_engines.dashboards", file=sys.stderr)
            return 1 if stale else 0
        for rel in generating.write(args.chart_dir):
            print(f"wrote {args.chart_dir / rel}")
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
