"""Checks of the live path that refuse or report before an order is sent.

* :func:`selection_age`: how many exchange sessions a selection is older than the last close a signal uses; a
  selection older than ``live.max_selection_age_sessions`` (default 7, i.e. a weekly selection missed once) is
  refused by ``volts signal --execute`` (exit 3) unless ``--allow-stale``; the dry run prints the age.

Source: the exchange calendar of :mod:`volts.data.calendar` (XNYS).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from volts.core.errors import DataError


@dataclass(frozen=True)
class SelectionAge:
    """Age of a selection at a signal's last close.

    Attributes
    ----------
    asof : datetime.date
        The selection's as-of date.
    day : datetime.date
        The last close the signal uses.
    sessions : int
        Exchange sessions after ``asof`` up to and including ``day`` (0 when ``day <= asof``).
    path : str
        The selection file (for messages).
    """

    asof: dt.date
    day: dt.date
    sessions: int
    path: str = ""

    def line(self, limit: int) -> str:
        """One line for the command's output."""
        over = f", older than live.max_selection_age_sessions = {limit}" if self.sessions > limit else ""
        return f"selection as of {self.asof}: {self.sessions} session(s) old at the close of {self.day}{over}"

    def check(self, limit: int, *, allow_stale: bool = False) -> None:
        """Raise :class:`DataError` when the selection is older than ``limit`` sessions (unless ``allow_stale``).

        Raises
        ------
        DataError
            Naming the selection file, its as-of date, its age in sessions and the limit.
        """
        if self.sessions > limit and not allow_stale:
            raise DataError(
                f"{self.path}: the selection as of {self.asof} is {self.sessions} session(s) old at the "
                f"close of {self.day}, over live.max_selection_age_sessions = {limit}; --execute "
                "refuses it. Run volts select again (weekly), or pass --allow-stale to trade it anyway; "
                "nothing sent"
            )


def selection_age(selection: dict, day, *, selection_path: Path | str = "", calendar: str = "XNYS") -> SelectionAge:
    """The :class:`SelectionAge` of ``selection`` (its ``asof``) at the close of ``day`` (exchange sessions).

    Parameters
    ----------
    selection : dict
        ``selection.json`` as read by :func:`volts.core.artifacts.read_selection`.
    day : date-like
        The last close used by the signal.
    selection_path : path
        For messages.
    calendar : str
        Exchange calendar code (:func:`volts.data.calendar.sessions`).
    """
    from volts.data.calendar import sessions

    asof = dt.date.fromisoformat(str(selection["asof"])[:10])
    day = dt.date.fromisoformat(str(day)[:10])
    if day <= asof:
        n = 0
    else:
        between = sessions(asof, day, calendar=calendar)
        n = int(sum(1 for d in between if asof < d.date() <= day))
    return SelectionAge(asof=asof, day=day, sessions=n, path=str(selection_path))


__all__ = ["SelectionAge", "selection_age"]
