"""Shared fixtures. The reference data are read in place from ../shared/data/ohlcv (never copied).

Float comparisons, the rule of this suite: a result is compared exactly (``==``, ``assert_array_equal``,
``check_exact=True``, equal bytes) only where it is the same code on the same inputs in the same process. A result
computed in another process (a Dask worker, a ``volts`` subprocess), by another library, or that may run on another
BLAS kernel or thread split (OpenBLAS picks its kernel per CPU, ``OPENBLAS_CORETYPE`` overrides it) is compared with
a tolerance and a one-line comment giving the reason; ``tests/close.py`` does so for run artifacts. Cluster and
mixture labels are compared invariant to a permutation of the labels (sorted by a property, or by a score such as
the adjusted Rand index), unless the code under test defines their order.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[1]
REF_DATA = (REPO.parent / "shared" / "data" / "ohlcv").resolve()
PAPER_UNIVERSE = ("MSFT", "GOOGL", "MU", "NVDA", "AMZN", "META", "QCOM", "IBM", "INTC", "TSLA")


@pytest.fixture(scope="session", autouse=True)
def _private_user_cache(tmp_path_factory):
    """Point ``$XDG_CACHE_HOME`` at a folder of this test session (of this pytest-xdist worker).

    The live path's account locks default to ``$XDG_CACHE_HOME/volts/locks``: without this, tests in two workers
    (or two test sessions on one machine) that trade the stand-in's account would wait on each other's lock, and
    a test would touch the user's real lock folder. Tests that need a lock folder of their own still set it.
    Subprocesses started by tests inherit the variable.
    """
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("xdg-cache")))
        yield


@pytest.fixture(scope="session")
def ref_data_dir() -> Path:
    """Directory of the reference Yahoo-layout CSV files (../shared/data/ohlcv)."""
    if not REF_DATA.is_dir():
        pytest.fail(f"reference data not found at {REF_DATA}; ../shared must sit beside the repository")
    return REF_DATA


@pytest.fixture(scope="session")
def paper_market(ref_data_dir):
    """The paper's ten stocks, 2019-01-02 .. 2023-12-29, as validated MarketData (through the CSV source)."""
    from volts.data.csv import load_csv_market

    return load_csv_market(ref_data_dir, symbols=PAPER_UNIVERSE, start="2019-01-01", end="2023-12-31")


@pytest.fixture(scope="session")
def demo_market_run(tmp_path_factory):
    """One ``volts run --config examples/demo.toml`` (the synthetic market with planted pairs), run once per test
    session and shared by the tests that only read it: ``(exit code, stdout, run folder of 2023-06-08)``.
    Tests must not change the folder (copy it first)."""
    return _demo_command(tmp_path_factory, "run")


@pytest.fixture(scope="session")
def demo_market_select(tmp_path_factory):
    """One ``volts select --config examples/demo.toml``, shared like :func:`demo_market_run`:
    ``(exit code, stdout, run folder of 2023-06-08)``."""
    return _demo_command(tmp_path_factory, "select")


def _demo_command(tmp_path_factory, command: str):
    import contextlib
    import io

    from volts.cli import main

    out = tmp_path_factory.mktemp(f"demo-{command}")
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        rc = main([command, "--config", str(REPO / "examples" / "demo.toml"), "--out", str(out)])
    return rc, stdout.getvalue(), out / "2023-06-08"


@pytest.fixture(scope="session")
def check_report_html():
    """A function ``check(path) -> dict`` that renders a report page in headless Chromium.

    It runs ``scripts/check_report_html.py`` (images loaded, none broken, no console error) and skips the calling
    test at that point, after its other assertions, when no Chromium/chromedriver is installed (``.ci/run``
    installs them).
    """
    spec = importlib.util.spec_from_file_location("check_report_html", REPO / "scripts" / "check_report_html.py")
    checker = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(checker)

    def check(path: Path) -> dict:
        if checker.find_browser() is None:
            pytest.skip(
                "chromium/chromedriver not installed: HTML rendering not checked (apt-get install chromium "
                "chromium-driver; .ci/run does)"
            )
        return checker.check_report(path)

    return check


@pytest.fixture
def isolated_cwd(tmp_path, monkeypatch):
    """Run from an empty folder so that no ./config.toml is picked up (use with ``autouse`` in a module)."""
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    return cwd
