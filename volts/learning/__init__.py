"""Learned lead-lag models: DeltaLag (sparse attention over leaders and lags), its baselines, losses and training.

Modules: :mod:`~volts.learning.deltalag` (the network and its settings), :mod:`~volts.learning.losses` (ranking,
IC and MSE losses), :mod:`~volts.learning.baselines` (Lag1Net, SelfLag, CorrGraph, LSTM) and
:mod:`~volts.learning.train` (seeded training with early stopping, predictions with the chosen leaders and lags).
The deep-learning stack is JAX + Optax + Equinox on the CPU.
"""

from volts.learning.baselines import MODELS, corr_graph_selection, settings_for
from volts.learning.deltalag import DeltaLagNet, DeltaLagSettings, price_volume_features
from volts.learning.losses import LOSSES, ic_loss, mse_loss, rank_loss
from volts.learning.train import FittedModel, Panel, fit, panel_from_bars, predict

__all__ = [
    "MODELS",
    "LOSSES",
    "DeltaLagNet",
    "DeltaLagSettings",
    "FittedModel",
    "Panel",
    "corr_graph_selection",
    "fit",
    "ic_loss",
    "mse_loss",
    "panel_from_bars",
    "predict",
    "price_volume_features",
    "rank_loss",
    "settings_for",
]
