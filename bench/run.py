"""`make bench`: run every bench/bench_*.py and print its ratio table.

Each module defines `main(args) -> list[dict]` returning rows (one dict per measurement) and
is timed against a raw-library reference inside the same process; this runner only finds
the modules, runs them, and prints their rows as aligned tables. `make bench ARGS=extract`
runs the modules whose name contains "extract"; `ARGS="--quick"` uses small sizes.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def print_table(title: str, rows: list[dict]) -> None:
    if not rows:
        return
    cols = list(dict.fromkeys(k for row in rows for k in row))
    cells = [[_fmt(row.get(c, "")) for c in cols] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(cols)]
    print(f"\n## {title}\n")
    print("  ".join(c.rjust(w) for c, w in zip(cols, widths, strict=True)))
    for r in cells:
        print("  ".join(v.rjust(w) for v, w in zip(r, widths, strict=True)))


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.3f}" if abs(value) < 1000 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("only", nargs="*", help="substrings of benchmark names to run")
    parser.add_argument("--quick", action="store_true", help="small sizes (smoke run)")
    args = parser.parse_args()
    modules = sorted(HERE.glob("bench_*.py"))
    if args.only:
        modules = [m for m in modules if any(o in m.stem for o in args.only)]
    if not modules:
        print("no benchmark matched", file=sys.stderr)
        return 2
    for path in modules:
        spec = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        print_table(path.stem.removeprefix("bench_"), module.main(quick=args.quick))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
