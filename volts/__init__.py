"""volts: the Vol-TS method for lead-lag pair trading on daily bars.

Letteri, "A Framework for Predictive Directional Trading Based on Volatility and Causal Inference"
(the paper), specified stage by stage in the project's METHOD.md.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("volts")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]

from volts import _compat as _compat  # noqa: E402  (old module paths of volts 0.2, with a deprecation warning)

_compat.install()
