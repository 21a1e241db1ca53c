"""Evaluation layer: out-of-sample evidence.

The walk-forward (:mod:`~volts.evaluation.walkforward` and its parts: span, schedule, weeks, trading market,
summary), the random-pairs null, ablation and deflated Sharpe ratio (:mod:`~volts.evaluation.nulls`,
:mod:`~volts.evaluation.sharpe`), the screen comparison (:mod:`~volts.evaluation.screen_comparison`) and what a
run must disclose (:mod:`~volts.evaluation.disclosure`). Imports from core, data, selection and trading only.
"""
