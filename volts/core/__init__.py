"""Core layer: what every other layer stands on, importing nothing else of volts.

Errors and exit codes (:mod:`~volts.core.errors`), settings (:mod:`~volts.core.config`), artifact reading and
writing (:mod:`~volts.core.artifacts`, :mod:`~volts.core.runswap`), the executor that runs tasks in-process or
on Dask (:mod:`~volts.core.parallel`), symbols and pairs (:mod:`~volts.core.symbols`, :mod:`~volts.core.pairs`),
memory limits (:mod:`~volts.core.limits`) and the plug-in registries (:mod:`~volts.core.registry`).
"""
