"""Causal screening of ordered pairs (X -> Y) among the candidate stocks (METHOD.md §4).

``granger`` scans Granger F-tests over the lag order, ``pcmci`` screens with tigramite's PCMCI / ParCorr partial
correlations, ``entropy`` estimates effective transfer entropy.
"""
