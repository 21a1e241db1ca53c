"""Small CSV fixtures built from real rows of the reference data (written by tests into tmp_path)."""

from __future__ import annotations

from pathlib import Path

REF = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "ohlcv"
HEADER = "Date,Open,High,Low,Close,Adj Close,Volume"


def real_rows(symbol: str = "MSFT", start: str = "2023-01-03", end: str = "2023-03-31") -> list[list[str]]:
    """Rows (as lists of the raw cell texts) of a reference file between two ISO dates, inclusive."""
    out = []
    with open(REF / f"{symbol}.csv", encoding="utf-8") as fh:
        header = fh.readline().strip()
        assert header == HEADER
        for line in fh:
            cells = line.strip().split(",")
            if start <= cells[0] <= end:
                out.append(cells)
    return out


def write_rows(directory: Path, symbol: str, rows: list[list[str]], header: str = HEADER) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{symbol}.csv"
    path.write_text(header + "\n" + "".join(",".join(r) + "\n" for r in rows), encoding="utf-8")
    return path


def set_cell(rows: list[list[str]], i: int, column: str, value: str) -> list[list[str]]:
    """Copy of ``rows`` with one cell replaced (``column`` named as in the Yahoo header)."""
    j = HEADER.split(",").index(column)
    out = [list(r) for r in rows]
    out[i][j] = value
    return out
