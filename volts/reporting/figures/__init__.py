"""Figures of volts: one module per stage; each function takes result objects and a path and writes a PNG."""

from __future__ import annotations

__all__ = ["save_figure"]


def save_figure(fig, path, **kwargs) -> None:
    """``fig.tight_layout(**layout)`` then ``fig.savefig(path, **kwargs)``, drawing the figure once.

    ``Figure.tight_layout`` leaves a placeholder layout engine on the figure, and ``savefig`` answers any layout
    engine with an extra full layout pass over every artist before the real draw (matplotlib 3.6+); that pass
    changes nothing after ``tight_layout`` (the placeholder does no layout) but costs as much as drawing the
    figure. The placeholder is removed first, so the PNG is the same, pixel for pixel, at about half the cost.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
    path : str or pathlib.Path
        File to write.
    **kwargs
        ``layout`` (dict of :meth:`~matplotlib.figure.Figure.tight_layout` arguments, e.g. ``{"rect": ...}``;
        ``None`` skips ``tight_layout``), the rest go to :meth:`~matplotlib.figure.Figure.savefig`.
    """
    from matplotlib.layout_engine import PlaceHolderLayoutEngine

    layout = kwargs.pop("layout", {})
    if layout is not None:
        fig.tight_layout(**layout)
    if isinstance(fig.get_layout_engine(), PlaceHolderLayoutEngine):
        fig.set_layout_engine(None)  # back to no engine (a real one, e.g. constrained, is kept)
    fig.savefig(path, **kwargs)
