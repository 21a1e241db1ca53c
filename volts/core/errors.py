"""Exception hierarchy of volts.

Every error a user can cause or meet carries a one-line message that names what went wrong and where (file,
symbol, date, rule). The CLI maps each kind to an exit code (see ``EXIT_CODES``) and prints the message without a
traceback unless ``--debug`` is given.
"""

from __future__ import annotations


class VoltsError(Exception):
    """Base class of every error volts raises on purpose."""

    exit_code: int = 1


class ConfigError(VoltsError):
    """The configuration or the command line is invalid (exit code 2)."""

    exit_code = 2


class UsageError(ConfigError):
    """A command was called with arguments that do not fit together (exit code 2)."""


class ArtifactError(ConfigError):
    """An artifact file (``selection.json``, ...) is missing, malformed or lacks a field (exit code 2)."""


class ArtifactWriteError(ArtifactError, OSError):
    """An artifact could not be written (full disk, permissions, read-only file system); the message names the
    path (exit code 2). Also an ``OSError``, so callers that catch write failures as such keep working."""


class DataError(VoltsError):
    """Market data break a rule: missing file, bad bar, calendar mismatch, degenerate window (exit code 3)."""

    exit_code = 3


class BrokerError(VoltsError):
    """The broker terminal failed or refused, after retries where they apply (exit code 4)."""

    exit_code = 4


EXIT_CODES = {ConfigError: 2, DataError: 3, BrokerError: 4}
