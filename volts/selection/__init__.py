"""Selection layer: from validated bars to this week's ordered pairs and their lags.

Stages, in funnel order: range-based volatility (:mod:`~volts.selection.volatility`), the KNN anomaly filter
(:mod:`~volts.selection.anomaly`), the Gaussian-mixture volatility regimes (:mod:`~volts.selection.regimes`), the
screen family (:mod:`~volts.selection.screens`, built on the causality tests of :mod:`~volts.selection.causality`),
the DTW k-NN lag (:mod:`~volts.selection.lag`), and the pipeline that runs them (:mod:`~volts.selection.pipeline`).
Beside the funnel: all-pairs lead-lag matrices (:mod:`~volts.selection.leadlag`), Hermitian clustering
(:mod:`~volts.selection.hermitian`), the Hayashi-Yoshida estimator (:mod:`~volts.selection.hayashi_yoshida`),
selection stability (:mod:`~volts.selection.stability`) and date stability
(:mod:`~volts.selection.date_stability`).

This package imports from :mod:`volts.core` and :mod:`volts.data` only. ``from volts.selection import
run_selection`` (the old module's names) keeps working: they are served from :mod:`volts.selection.pipeline`.
"""

from __future__ import annotations


def __getattr__(name: str):
    # the names of the volts 0.2 module ``volts.selection``, now volts.selection.pipeline (loaded on first use so
    # that importing one stage does not import the whole funnel)
    if name.startswith("__"):
        raise AttributeError(name)
    import importlib

    pipeline = importlib.import_module("volts.selection.pipeline")
    try:
        return getattr(pipeline, name)
    except AttributeError:
        raise AttributeError(f"module 'volts.selection' has no attribute {name!r}") from None
