"""Window lengths of intraday settings: a duration (``"90D"``) or a number of bars (``"500 bars"``).

The ``[intraday]`` windows and the walk-forward's cadence state a length either in time, converted to bars by the
bar index itself (the bars whose stamps fall within the duration), or directly in bars. Parsing lives here, in the
lowest layer, so that settings validation and the data and selection layers read lengths one way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pandas as pd

__all__ = ["Length", "parse_length"]

_BARS = re.compile(r"\s*(\d+)\s*(?:bars?)\s*", re.IGNORECASE)
_DURATION = re.compile(r"\s*(\d+)\s*(min|m|h|d|w)\s*", re.IGNORECASE)
_UNIT = {"min": "min", "m": "min", "h": "h", "d": "D", "w": "W"}


@dataclass(frozen=True)
class Length:
    """A parsed length: exactly one of ``bars`` and ``duration`` is set.

    Attributes
    ----------
    text : str
        As written in the settings.
    bars : int or None
        A number of bars (``"500 bars"``).
    duration : pandas.Timedelta or None
        A span of time (``"90D"``, ``"6H"``, ``"2W"``, ``"30min"``).
    """

    text: str
    bars: int | None = None
    duration: pd.Timedelta | None = None


def parse_length(text: str) -> Length:
    """Parse ``"N bars"`` or a duration ``"N min|H|D|W"`` (case-insensitive, N >= 1).

    Raises
    ------
    ValueError
        Any other text; the message names the accepted forms.
    """
    raw = str(text)
    m = _BARS.fullmatch(raw)
    if m and int(m.group(1)) >= 1:
        return Length(raw, bars=int(m.group(1)))
    m = _DURATION.fullmatch(raw)
    if m and int(m.group(1)) >= 1:
        unit = _UNIT[m.group(2).lower()]
        return Length(
            raw,
            duration=pd.Timedelta(int(m.group(1)), unit=unit) if unit != "W" else pd.Timedelta(weeks=int(m.group(1))),
        )
    raise ValueError(
        f"{raw!r} is not a length: write a number of bars ('500 bars') or a duration ('90D', '36H', '2W', '30min')"
    )
