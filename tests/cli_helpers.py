"""Helpers shared by the CLI tests: run ``volts`` in-process and read its one error line (the empty working
folder is the ``isolated_cwd`` fixture of ``tests/conftest.py``)."""

from __future__ import annotations

import textwrap

from volts.cli import main


def run_volts(capsys, *args) -> tuple[int, str, str]:
    """``volts ARGS`` in this process: (exit code, stdout, stderr)."""
    rc = main([str(a) for a in args])
    out = capsys.readouterr()
    return rc, out.out, out.err


def one_error(err: str) -> str:
    """The last non-warning line of stderr, which must be an ``error:`` line: no traceback, no internal error."""
    lines = [ln for ln in err.splitlines() if ln.strip() and not ln.startswith("warning:")]
    assert lines and lines[-1].startswith("error: "), err
    assert "Traceback" not in err and "internal error" not in err and "unexpected" not in err, err
    return lines[-1]


#: A synthetic-market config whose whole `volts run` takes seconds (fewer surrogates, one EM start, a short lag
#: window). Tests that use it check files and behaviour, not figures.
FAST = textwrap.dedent("""
    [data]
    source = "synthetic"
    [granger]
    series = "log_return"
    [lag]
    window = 1
    [entropy]
    surrogates = 20
    [clustering]
    n_init = 1
""")
