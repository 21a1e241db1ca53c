"""Wall time of the user-facing commands, each in a fresh process (interpreter start and imports included):

* ``volts select`` on the paper's ten stocks (reference data) — target <= 5 s;
* ``volts run`` on the ten stocks, stage by stage (the stage times come from the run's own report).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = (REPO.parent / "shared" / "data" / "ohlcv").resolve()


def _volts(*args: str, cwd: Path) -> tuple[float, subprocess.CompletedProcess]:
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", MPLBACKEND="Agg")
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "volts", *args], cwd=cwd, env=env, capture_output=True, text=True)
    return time.perf_counter() - t0, proc


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        rows = []
        for i in range(3):
            wall, proc = _volts(
                "select", "--asof", "2023-06-08", "--data-dir", str(DATA), "--out", str(tmp / "sel"), "--force", cwd=tmp
            )
            if proc.returncode:
                print(proc.stderr)
                raise SystemExit(f"volts select failed ({proc.returncode})")
            rows.append(("volts select (10 stocks, with figures)" + (" [first run]" if i == 0 else ""), wall))
        wall, proc = _volts("run", "--data-dir", str(DATA), "--out", str(tmp / "run"), cwd=tmp)
        if proc.returncode:
            print(proc.stderr)
            raise SystemExit(f"volts run failed ({proc.returncode})")
        rows.append(("volts run (10 stocks, paper's windows)", wall))
        print(f"{'command':<48} {'wall s':>8}")
        for name, secs in rows:
            print(f"{name:<48} {secs:>8.2f}")
        report = next((tmp / "run").glob("*/report.md")).read_text()
        section = report.split("## Wall time per stage", 1)[-1]
        print("\nvolts run, stage by stage (in-process wall time, from the report):")
        for stage, secs in re.findall(r"^\| (.+?) \| ([0-9.]+) \|$", section, flags=re.M):
            print(f"  {stage:<30} {float(secs):>8.2f}")


if __name__ == "__main__":
    main()
