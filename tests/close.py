"""Comparisons of results computed in different processes (Dask workers, another BLAS kernel or thread count).

Such results agree to rounding, not bit for bit: a least-squares fit or a sum may be evaluated by another kernel
(OpenBLAS picks one per CPU), another thread split, or on differently aligned memory. These helpers compare the
discrete content (names, dates, counts, lags, text) exactly and every float with a relative tolerance. Results of
the same code on the same inputs in one process are compared exactly elsewhere in the suite.
"""

from __future__ import annotations

import io
import json
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd

RTOL, ATOL = 1e-9, 1e-12
_NUMBER = re.compile(r"-?\d+(?:\.(\d+))?(?:[eE][-+]?\d+)?")


def assert_json_close(a, b, *, rtol: float = RTOL, atol: float = ATOL, where: str = "$") -> None:
    """Assert two decoded JSON values are equal, floats within ``rtol``/``atol`` (NaN equals NaN)."""
    if isinstance(a, float) or isinstance(b, float):
        assert (
            isinstance(a, (int, float))
            and isinstance(b, (int, float))
            and not isinstance(a, bool)
            and not isinstance(b, bool)
        ), (where, a, b)
        assert (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=rtol, abs_tol=atol), (where, a, b)
    elif isinstance(a, dict):
        assert isinstance(b, dict) and list(a) == list(b), (where, list(a), b)
        for k in a:
            assert_json_close(a[k], b[k], rtol=rtol, atol=atol, where=f"{where}.{k}")
    elif isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b), (where, a, b)
        for i, (x, y) in enumerate(zip(a, b)):
            assert_json_close(x, y, rtol=rtol, atol=atol, where=f"{where}[{i}]")
    else:
        assert a == b and type(a) is type(b), (where, a, b)


def assert_text_close(a: str, b: str, *, where: str = "") -> None:
    """Assert two texts are equal but for their printed decimals, which may differ by one unit of the last digit
    (a value on a rounding boundary); whole numbers (counts, dates) must be equal."""
    assert _NUMBER.sub("#", a) == _NUMBER.sub("#", b), where  # the text between the numbers
    for x, y in zip(_NUMBER.finditer(a), _NUMBER.finditer(b)):
        digits = max(len(x.group(1) or ""), len(y.group(1) or ""))
        if not digits:
            assert x.group(0) == y.group(0), (where, x.group(0), y.group(0))
            continue
        unit = 10.0**-digits
        assert abs(float(x.group(0)) - float(y.group(0))) <= unit * 1.000001, (where, x.group(0), y.group(0))


def assert_file_close(a: Path, b: Path) -> None:
    """Compare one artifact of two runs by its kind: JSON and CSV by value with a float tolerance, PNG by pixel
    (within two grey levels), other text with :func:`assert_text_close`."""
    a, b = Path(a), Path(b)
    suffix = a.suffix.lower()
    if suffix == ".json":
        assert_json_close(json.loads(a.read_text()), json.loads(b.read_text()), where=a.name)
    elif suffix == ".csv":
        fa, fb = pd.read_csv(io.StringIO(a.read_text())), pd.read_csv(io.StringIO(b.read_text()))
        pd.testing.assert_frame_equal(fa, fb, check_exact=False, rtol=RTOL, atol=ATOL, obj=a.name)
    elif suffix == ".png":
        import matplotlib.pyplot as plt

        ia, ib = plt.imread(a), plt.imread(b)
        assert ia.shape == ib.shape, a.name
        np.testing.assert_allclose(ia, ib, rtol=0, atol=2 / 255, err_msg=a.name)
    else:
        assert_text_close(a.read_text(), b.read_text(), where=a.name)
