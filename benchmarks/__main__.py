"""Run every benchmark module (``benchmarks/bench_*.py``), or the ones named: ``python -m benchmarks granger``."""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

import importlib
import pkgutil
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    here = Path(__file__).parent
    names = sorted(m.name[len("bench_") :] for m in pkgutil.iter_modules([str(here)]) if m.name.startswith("bench_"))
    chosen = argv or names
    unknown = [n for n in chosen if n not in names]
    if unknown:
        print(f"unknown benchmark(s) {', '.join(unknown)}; available: {', '.join(names)}", file=sys.stderr)
        return 2
    for name in chosen:
        print(f"=== benchmark: {name} (OPENBLAS_NUM_THREADS={os.environ['OPENBLAS_NUM_THREADS']})", flush=True)
        importlib.import_module(f"benchmarks.bench_{name}").main()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
