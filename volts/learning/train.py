"""Seeded training with early stopping, and predictions with the chosen leaders, lags and weights.

The data is a :class:`Panel` (bars of N stocks on T days). A *sample* is a decision day t: the model sees the
bars of days ``t - window + 1 .. t`` and predicts the return of day t + 1 (close t to close t + 1). A span
``(start, end)`` holds the samples whose *predicted* day t + 1 lies in it, so training on a span ending at ``end``
uses no bar after ``end``.

Procedure (:func:`fit`):

1. Scaling from the training span only: each raw feature is divided by its standard deviation over the training
   bars (all stocks pooled), the target by that of the close-to-close return; missing values become 0 after
   scaling and the stock is unavailable that day.
2. Adam (Optax) with global-norm clipping on mini-batches of ``batch_days`` days drawn in a seeded random order;
   one loss per day's cross-section (:mod:`volts.learning.losses`), averaged over the batch.
3. After every epoch the loss on the validation span, which must lie wholly before any test span and after the
   training span; training stops after ``patience`` epochs without a better validation loss and returns the
   parameters of the best epoch.

Determinism: the initial weights come from ``jax.random.PRNGKey(seed)`` and the batch order from
``numpy.random.default_rng(seed)``; on CPU the same settings and data give the same parameters in the same process.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pandas as pd

from volts.learning.baselines import corr_graph_selection
from volts.learning.deltalag import FEATURES, DeltaLagNet, DeltaLagSettings, price_volume_features
from volts.learning.losses import loss_by_name

__all__ = ["Panel", "panel_from_bars", "FittedModel", "fit", "predict"]


@dataclass(frozen=True, eq=False)
class Panel:
    """Bars of N stocks on T days, as the model's raw features.

    Attributes
    ----------
    dates : pandas.DatetimeIndex, length T
    symbols : tuple of str, length N
    features : numpy.ndarray, shape (T, N, F)
        Raw features (:func:`volts.learning.deltalag.price_volume_features`), NaN where missing.
    """

    dates: pd.DatetimeIndex
    symbols: tuple[str, ...]
    features: np.ndarray

    @property
    def returns(self) -> np.ndarray:
        """Close-to-close log returns (T, N): the target and the input of the CorrGraph matrix."""
        return self.features[:, :, FEATURES.index("ret")]


def panel_from_bars(bars: dict[str, pd.DataFrame]) -> Panel:
    """Build a :class:`Panel` from ``open, high, low, close, volume`` frames (dates x symbols, same labels).

    Raises
    ------
    ValueError
        If a field is missing or the frames' index or columns differ (the message names the field).
    """
    need = ("open", "high", "low", "close", "volume")
    missing = [f for f in need if f not in bars]
    if missing:
        raise ValueError(f"bars lack {', '.join(missing)}; need {', '.join(need)}")
    ref = bars["close"]
    for f in need:
        if not (bars[f].index.equals(ref.index) and bars[f].columns.equals(ref.columns)):
            raise ValueError(f"bars[{f!r}] has other dates or symbols than bars['close']; align them first")
    feats = price_volume_features(*(bars[f].to_numpy() for f in need))
    return Panel(dates=pd.DatetimeIndex(ref.index), symbols=tuple(map(str, ref.columns)), features=feats)


@dataclass(eq=False)
class FittedModel:
    """A trained model, its settings, the scaling of its training span and its training history.

    Attributes
    ----------
    model : DeltaLagNet
    settings : DeltaLagSettings
    feature_scale : numpy.ndarray, shape (F,)
        Standard deviation of each raw feature over the training span.
    target_scale : float
        Standard deviation of the return over the training span.
    history : list of (int, float, float)
        (epoch, mean training loss, validation loss) per epoch.
    best_epoch : int
    """

    model: DeltaLagNet
    settings: DeltaLagSettings
    feature_scale: np.ndarray
    target_scale: float
    history: list = field(default_factory=list)
    best_epoch: int = 0


def _span_days(panel: Panel, span, window: int) -> np.ndarray:
    """Decision days t (indices) whose predicted day t + 1 lies in ``span`` and whose window is complete."""
    start, end = (pd.Timestamp(s) for s in span)
    if end < start:
        raise ValueError(f"span ends ({end.date()}) before it starts ({start.date()})")
    nxt = panel.dates[1:]
    t = np.flatnonzero((nxt >= start) & (nxt <= end))
    return t[t >= window - 1]


def _arrays(panel: Panel, fitted: FittedModel):
    """Device arrays: scaled features X (T, N, F), window availability A (T, N), targets Y and mask M (T, N)."""
    s = fitted.settings
    x = panel.features / fitted.feature_scale
    finite = np.all(np.isfinite(x), axis=-1)  # (T, N)
    bad = np.cumsum(~finite, axis=0)
    prev = np.vstack([np.zeros((s.window, bad.shape[1]), dtype=bad.dtype), bad])[: len(bad)]
    avail = (bad - prev) == 0  # every bar of the window t - L + 1 .. t is complete
    avail[: s.window - 1] = False
    y = np.full(avail.shape, np.nan)
    y[:-1] = panel.returns[1:] / fitted.target_scale
    mask = avail & np.isfinite(y)
    x = np.where(np.isfinite(x), x, 0.0)
    return (
        jnp.asarray(x, dtype=jnp.float32),
        jnp.asarray(avail),
        jnp.asarray(np.nan_to_num(y), dtype=jnp.float32),
        jnp.asarray(mask, dtype=jnp.float32),
    )


def _fixed(panel: Panel, s: DeltaLagSettings, selection=None):
    if s.variant != "fixed":
        if selection is not None:
            raise ValueError(f"a given selection needs the 'fixed' variant, got {s.variant!r}")
        return None
    T, n = panel.returns.shape
    if selection is None:
        lead, lag, w = corr_graph_selection(panel.returns, k=s.k, l_max=s.l_max, window=s.corr_window)
    else:
        lead, lag, w = (np.asarray(a)[:T] for a in selection)
        if lead.shape != (T, n, s.k) or lag.shape != lead.shape or w.shape != lead.shape:
            raise ValueError(
                f"selection arrays must have shape (days, stocks, k) = ({T}, {n}, {s.k}) at least up "
                f"to the last day used; got {lead.shape}, {lag.shape}, {w.shape}"
            )
        if lead.min() < 0 or lead.max() >= n or lag.min() < 1 or lag.max() > s.l_max:
            raise ValueError(f"selection leaders must be stock indices 0 .. {n - 1} and lags 1 .. {s.l_max}")
    return jnp.asarray(lead), jnp.asarray(lag), jnp.asarray(w, dtype=jnp.float32)


def _day(model, data, fixed, t, window: int, dense: bool = False):
    x, avail = data[0], data[1]
    n, f = x.shape[1], x.shape[2]
    xw = jnp.swapaxes(jax.lax.dynamic_slice(x, (t - window + 1, 0, 0), (window, n, f)), 0, 1)
    fx = None if fixed is None else tuple(a[t] for a in fixed)
    return model(xw, avail[t], fx, dense)


def _batch_loss(model, data, fixed, days, window: int, loss_fn, dense: bool = False):
    y, m = data[2], data[3]

    def one(t):
        pred = _day(model, data, fixed, t, window, dense)[0]
        return loss_fn(pred, y[t], m[t])

    return jnp.mean(jax.vmap(one)(days))


def fit(panel: Panel, settings: DeltaLagSettings, train, valid, *, selection=None) -> FittedModel:
    """Train the model of ``settings`` on the ``train`` span with early stopping on the ``valid`` span.

    Parameters
    ----------
    panel : Panel
        The data; bars after ``valid[1]`` are never read.
    settings : DeltaLagSettings
        Model, loss and training choices (``variant`` picks DeltaLag or a baseline).
    train, valid : (date-like, date-like)
        Inclusive spans of predicted days; ``valid`` must start after ``train`` ends.
    selection : (leaders, lags, weights), optional
        For ``variant="fixed"``: the (leader index, lag, weight) of every (day, lagger), arrays of shape
        (T, N, k) aligned with ``panel.dates`` (e.g. random leaders for a null, or a planted truth), instead of the
        CorrGraph matrix. Row t must depend on bars up to t only.

    Returns
    -------
    FittedModel
        The parameters of the epoch with the lowest validation loss.

    Raises
    ------
    ValueError
        If the spans overlap or are out of order, or a span holds no sample (too short, or before the first
        complete window of ``settings.window`` bars).
    """
    s = settings
    if pd.Timestamp(valid[0]) <= pd.Timestamp(train[1]):
        raise ValueError(
            f"the validation span must start after the training span ends ({train[1]}); got validation from {valid[0]}"
        )
    tr, va = _span_days(panel, train, s.window), _span_days(panel, valid, s.window)
    if len(tr) == 0 or len(va) == 0:
        raise ValueError(
            f"no sample in the {'training' if len(tr) == 0 else 'validation'} span: need at least "
            f"{s.window} bars before its first predicted day"
        )
    last_bar = tr[-1] + 1  # the last bar the training span reads (its last target)
    fs = np.nanstd(panel.features[: last_bar + 1].reshape(-1, panel.features.shape[-1]), axis=0)
    fs = np.where(np.isfinite(fs) & (fs > 0), fs, 1.0)
    fitted = FittedModel(model=None, settings=s, feature_scale=fs, target_scale=float(fs[FEATURES.index("ret")]))
    cut = va[-1] + 2  # bars 0 .. last validation target: nothing later is used
    sub = Panel(dates=panel.dates[:cut], symbols=panel.symbols, features=panel.features[:cut])
    data = _arrays(sub, fitted)
    fixed = _fixed(sub, s, selection)
    loss_fn = loss_by_name(s.loss, alpha=s.rank_alpha, beta=s.rank_beta, gamma=s.rank_gamma)
    model = DeltaLagNet(panel.features.shape[-1], s, jax.random.PRNGKey(s.seed))
    opt = optax.chain(optax.clip_by_global_norm(s.clip_norm), optax.adam(s.learning_rate))
    opt_state = opt.init(eqx.filter(model, eqx.is_inexact_array))

    @eqx.filter_jit
    def step(model, opt_state, data, fixed, days, dense):
        loss, grads = eqx.filter_value_and_grad(_batch_loss)(model, data, fixed, days, s.window, loss_fn, dense)
        updates, opt_state = opt.update(grads, opt_state, eqx.filter(model, eqx.is_inexact_array))
        return eqx.apply_updates(model, updates), opt_state, loss

    @eqx.filter_jit
    def evaluate(model, data, fixed, days):
        return _batch_loss(model, data, fixed, days, s.window, loss_fn)

    rng = np.random.default_rng(s.seed)
    b = s.batch_days
    best, best_loss, best_epoch, waited = model, np.inf, 0, 0
    history = []
    va_j = jnp.asarray(va)
    attention = s.variant in ("deltalag", "lag1", "self")
    n_dense = s.dense_epochs if attention else 0
    for epoch in range(1, n_dense + s.max_epochs + 1):
        dense = epoch <= n_dense
        order = rng.permutation(tr)
        # pad the last batch by wrapping around so that every batch has the same shape (one compilation)
        n_batches = int(np.ceil(len(order) / b))
        order = np.concatenate([order, order[: n_batches * b - len(order)]])
        losses = []
        for i in range(n_batches):
            model, opt_state, loss = step(model, opt_state, data, fixed, jnp.asarray(order[i * b : (i + 1) * b]), dense)
            losses.append(float(loss))
        vloss = float(evaluate(model, data, fixed, va_j))
        history.append((epoch, float(np.mean(losses)), vloss))
        if dense:
            continue
        if vloss < best_loss:
            best, best_loss, best_epoch, waited = model, vloss, epoch, 0
        else:
            waited += 1
            if waited >= s.patience:
                break
    if best_epoch == 0:
        raise FloatingPointError(
            f"training of {s.variant!r} gave no finite validation loss in {len(history)} "
            "epochs (diverged); lower learning_rate or check the inputs for extreme values"
        )
    fitted.model, fitted.history, fitted.best_epoch = best, history, best_epoch
    return fitted


def predict(fitted: FittedModel, panel: Panel, dates, *, selection=None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Predictions for the given decision dates and, for attention models, the chosen leaders, lags and weights.

    Parameters
    ----------
    fitted : FittedModel
    panel : Panel
        Data with the same symbols and features as the training panel; only bars up to each decision date are read.
    dates : iterable of date-like
        Decision dates (closes) in ``panel.dates``; dates before the first complete window are skipped.
    selection : (leaders, lags, weights), optional
        As in :func:`fit`, for a model trained with one.

    Returns
    -------
    predictions : pandas.DataFrame
        Index = decision date, columns = symbols: the predicted log return of the *next* bar (return units), NaN
        where the stock has no complete window.
    selections : pandas.DataFrame
        Columns ``date, lagger, rank, leader, lag, weight`` (rank 1 = the highest score of the top-k;
        for CorrGraph the largest absolute correlation); empty for the ``"lstm"`` variant.

    Raises
    ------
    ValueError
        If a date is not in ``panel.dates``.
    """
    s = fitted.settings
    idx = panel.dates.get_indexer(pd.DatetimeIndex(dates))
    if np.any(idx < 0):
        bad = pd.DatetimeIndex(dates)[idx < 0][0]
        raise ValueError(f"decision date {bad.date()} is not a bar of the panel")
    idx = idx[idx >= s.window - 1]
    cut = int(idx.max()) + 1 if len(idx) else 0
    sub = Panel(dates=panel.dates[:cut], symbols=panel.symbols, features=panel.features[:cut])
    data = _arrays(sub, fitted)
    fixed = _fixed(sub, s, selection)

    @eqx.filter_jit
    def run(model, data, fixed, days):
        return jax.vmap(lambda t: _day(model, data, fixed, t, s.window))(days)

    pred, lead, lag, w = (np.asarray(a) for a in run(fitted.model, data, fixed, jnp.asarray(idx)))
    avail = np.asarray(data[1])[idx]
    pred = np.where(avail, pred * fitted.target_scale, np.nan)
    d = panel.dates[idx]
    predictions = pd.DataFrame(pred, index=d, columns=list(panel.symbols))
    if s.variant == "lstm" or len(idx) == 0:
        return predictions, pd.DataFrame(columns=["date", "lagger", "rank", "leader", "lag", "weight"])
    T, n, k = lead.shape
    sym = np.asarray(panel.symbols)
    keep = np.repeat(avail[:, :, None], k, axis=2).ravel()
    sel = pd.DataFrame(
        {
            "date": np.repeat(d.to_numpy(), n * k),
            "lagger": np.tile(np.repeat(sym, k), T),
            "rank": np.tile(np.arange(1, k + 1), T * n),
            "leader": sym[lead.ravel()],
            "lag": lag.ravel().astype(int),
            "weight": w.ravel().astype(float),
        }
    )
    return predictions, sel[keep].reset_index(drop=True)
