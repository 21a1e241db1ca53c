"""Cost and content of the selection figures for large selections (issue 13): top-k, one draw per figure."""

from __future__ import annotations

from types import SimpleNamespace

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from volts.reporting.figures import save_figure  # noqa: E402


def _figure():
    fig, axes = plt.subplots(2, 2, figsize=(6, 4))
    for k, ax in enumerate(axes.ravel()):
        ax.plot(np.arange(10), np.arange(10) ** (1 + k / 4), "o-")
        ax.set_title(f"panel {k}")
        ax.set_xlabel("x")
    fig.suptitle("four panels")
    return fig


def test_save_figure_draws_once_and_writes_the_same_pixels(tmp_path, monkeypatch):
    draws = []
    real = Figure.draw
    monkeypatch.setattr(Figure, "draw", lambda self, renderer: (draws.append(1), real(self, renderer))[1])
    fig = _figure()
    fig.tight_layout()
    fig.savefig(tmp_path / "plain.png", dpi=80)
    plain_draws = len(draws)
    plt.close(fig)
    draws.clear()
    fig = _figure()
    save_figure(fig, tmp_path / "once.png", dpi=80)
    plt.close(fig)
    assert len(draws) == 1 < plain_draws  # matplotlib's placeholder engine costs plain savefig a layout pass
    np.testing.assert_array_equal(plt.imread(tmp_path / "once.png"), plt.imread(tmp_path / "plain.png"))


def _choice(i: int, lo: float, hi: float):
    lags = tuple(range(1, 11))
    oos = {t: lo + (hi - lo) * t / 10 for t in lags}
    return SimpleNamespace(
        lags=lags,
        accuracy_oos=oos,
        accuracy_oos_std={t: 0.02 for t in lags},
        accuracy_in_sample={t: min(oos[t] + 0.05, 1.0) for t in lags},
        cv_splits=5,
        lag=1 + i % 10,
        knn_accuracy=oos[1 + i % 10],
        window=1,
        neighbors=7,
        n_samples=150,
        start="2022-11-16",
        end="2023-06-08",
    )


def test_lag_figure_panels_share_one_y_range_and_the_title_clears_the_panels(tmp_path, monkeypatch):
    import volts.reporting.figures.lag as lag_figures

    kept = {}
    real = lag_figures.save_figure

    def keep(fig, path, **kwargs):
        real(fig, path, **kwargs)
        kept["fig"] = fig

    monkeypatch.setattr(lag_figures, "save_figure", keep)
    choices = {f"L{i}->F{i}": _choice(i, 0.2 + 0.02 * i, 0.6 + 0.015 * i) for i in range(7)}
    lag_figures.plot_lag_accuracy(choices, tmp_path / "lag.png")
    fig = kept["fig"]
    axes = [ax for ax in fig.axes if ax.get_visible()]
    assert len(axes) == 7
    limits = {ax.get_ylim() for ax in axes}
    assert len(limits) == 1  # one y range for every panel ...
    ((lo, hi),) = limits
    low = min(c.accuracy_oos[t] - c.accuracy_oos_std[t] for c in choices.values() for t in c.lags)
    high = max(c.accuracy_in_sample[t] for c in choices.values() for t in c.lags)
    assert lo < low and hi > high and (lo, hi) != (0.0, 1.0)  # ... covering every panel's bands and curves
    labelled = [ax.yaxis.get_tick_params()["labelleft"] for ax in axes]
    assert labelled == [True, False, False] * 2 + [True]  # y tick labels on the left column only
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)  # the figure was closed: a fresh canvas to measure its text
    canvas.draw()
    renderer = canvas.get_renderer()
    top_of_titles = max(ax.title.get_window_extent(renderer).y1 for ax in axes)
    assert fig._suptitle.get_window_extent(renderer).y0 >= top_of_titles  # the suptitle no longer overlaps
    plt.close(fig)


def _selection(n_names: int = 60, n_pairs: int = 30):
    universe = [f"S{i:03d}" for i in range(n_names)]
    regimes = {s: ("low", "mid", "high")[i % 3] for i, s in enumerate(universe)}
    pairs, lags = [], {}
    for k in range(n_pairs):  # pair k: S(2k) -> S(2k+1), accuracy rising with k (k = 29 best)
        leader, follower = universe[2 * k], universe[2 * k + 1]
        pairs.append(SimpleNamespace(leader=leader, follower=follower))
        lags[f"{leader}->{follower}"] = SimpleNamespace(knn_accuracy=0.5 + k / 100)
    return SimpleNamespace(universe=universe, pairs=pairs, lags=lags, clusters=SimpleNamespace(regimes=regimes))


def test_figures_show_the_top_k_pairs_and_their_members():
    from volts.reporting.run_report import FIGURE_TOP_K, shown_lag_choices, shown_symbols

    sel = _selection()
    shown = shown_lag_choices(sel)
    assert list(shown) == [f"S{2 * k:03d}->S{2 * k + 1:03d}" for k in range(30 - FIGURE_TOP_K, 30)]
    symbols = shown_symbols(sel)
    members = {x for key in shown for x in key.split("->")}
    assert members <= set(symbols)
    others = [s for s in symbols if s not in members]
    # the other names: the first FIGURE_TOP_K // 3 of each regime in universe order, whether or not in a pair
    # that is not shown
    assert others == [f"S{i:03d}" for i in range(3 * (FIGURE_TOP_K // 3))]
    assert symbols == [s for s in sel.universe if s in set(symbols)]
    small = _selection(n_names=12, n_pairs=5)
    assert shown_symbols(small) == small.universe and len(shown_lag_choices(small)) == 5


@pytest.mark.parametrize("n", [1, 2, 4])
def test_small_lag_figures_render(tmp_path, n):
    from volts.reporting.figures.lag import plot_lag_accuracy

    out = plot_lag_accuracy({f"A{i}->B{i}": _choice(i, 0.3, 0.7) for i in range(n)}, tmp_path / "lag.png")
    image = plt.imread(out)
    assert image.shape[1] == round(110 * 4.6 * min(n, 3)) and image.std() > 0
