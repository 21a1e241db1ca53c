"""Replace a run folder atomically and recover from a kill at any step.

A run folder ``out/name`` is replaced by a complete staged folder so that, at every instant, the path ``out/name``
holds either the previous complete run or the new complete run:

* **exchange** (Linux, a file system that supports it): ``renameat2(staging, final, RENAME_EXCHANGE)`` swaps the
  two directory entries in one system call (Linux ``rename(2)``, since 3.15; ext4, xfs, btrfs, tmpfs ...). The
  staging path then holds the previous run, which is removed afterwards.
* **symlink swap** (elsewhere, or when the file system refuses the exchange): ``out/name`` is a relative symlink to
  a hidden folder ``out/.name.<token>.run``; a new symlink is made beside it and ``os.replace``-d over it (one
  ``rename(2)``, atomic on POSIX). A run folder that is still a real folder (written by the exchange path or an
  older volts) is moved aside to ``out/.name.<token>.old/name`` first: between that move and the symlink's
  creation ``out/name`` is missing, and :func:`recover` moves the previous run back. Where symlinks cannot be
  made either (Windows without the privilege), the previous run is moved aside and the new one renamed in, with
  the same recovery.

:func:`recover` is the clean-up of staging folders left by a killed process. It never deletes the only copy of a
run: when ``out/name`` is missing (or a dangling symlink) and a ``.old`` folder holds the previous run, that run is
moved back; only folders whose content is also (or newer) at ``out/name`` are removed.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import os
import platform
import re
import secrets
import shutil
import sys
import tempfile
from pathlib import Path

AT_FDCWD = -100
RENAME_EXCHANGE = 2
# renameat2 system call numbers, for a C library without the renameat2() wrapper (glibc < 2.28, musl < 1.2.?)
_SYSCALL_RENAMEAT2 = {"x86_64": 316, "amd64": 316, "aarch64": 276, "arm64": 276, "i386": 353, "i686": 353}

_STALE = re.compile(r"^\.(?P<name>.+)\.[^.]+\.(?P<kind>partial|old|run|link)$")


def _load_renameat2():
    """The C function ``renameat2`` (or a ``syscall`` wrapper), or None off Linux / without it."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
    except OSError:
        return None
    func = getattr(libc, "renameat2", None)
    if func is not None:
        func.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
        func.restype = ctypes.c_int
        return func
    number = _SYSCALL_RENAMEAT2.get(platform.machine().lower())
    syscall = getattr(libc, "syscall", None)
    if number is None or syscall is None:
        return None
    syscall.restype = ctypes.c_long

    def via_syscall(olddirfd, oldpath, newdirfd, newpath, flags):
        return syscall(
            ctypes.c_long(number),
            ctypes.c_int(olddirfd),
            ctypes.c_char_p(oldpath),
            ctypes.c_int(newdirfd),
            ctypes.c_char_p(newpath),
            ctypes.c_uint(flags),
        )

    return via_syscall


_renameat2 = _load_renameat2()


def exchange(a: str | Path, b: str | Path) -> bool:
    """Swap the directory entries ``a`` and ``b`` atomically (``renameat2`` with ``RENAME_EXCHANGE``).

    Parameters
    ----------
    a, b : path
        Two existing entries on the same file system.

    Returns
    -------
    bool
        True when swapped; False when the platform, the C library or the file system does not offer the exchange
        (nothing was changed: use another method).

    Raises
    ------
    OSError
        Any other failure (permissions, a missing entry ...), with the errno of the system call.
    """
    if _renameat2 is None:
        return False
    rc = _renameat2(AT_FDCWD, os.fsencode(a), AT_FDCWD, os.fsencode(b), RENAME_EXCHANGE)
    if rc == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, getattr(errno, "ENOTSUP", errno.EOPNOTSUPP)):
        return False
    raise OSError(err, os.strerror(err), str(a), None, str(b))


def _remove(path: Path) -> None:
    """Remove a folder, or a symlink and the hidden ``.run`` folder it points to."""
    if path.is_symlink():
        target = path.parent / os.readlink(path)
        os.unlink(path)
        if _STALE.match(target.name) and target.parent == path.parent:
            shutil.rmtree(target, ignore_errors=True)
    elif path.exists():
        shutil.rmtree(path, ignore_errors=True)


def _hidden(out: Path, name: str, suffix: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=f".{name}.", suffix=suffix, dir=out))


def _fresh(out: Path, name: str, suffix: str) -> Path:
    """An unused hidden name ``out/.name.<token>suffix`` (the caller holds the run's lock)."""
    while True:
        path = out / f".{name}.{secrets.token_hex(4)}{suffix}"
        if not os.path.lexists(path):
            return path


def replace_dir(staging: Path, final: Path) -> str:
    """Put the complete folder ``staging`` at ``final``, replacing a previous run atomically.

    Returns the method used: ``"rename"`` (no previous run), ``"exchange"``, ``"symlink"`` or, where symlinks
    cannot be made either, ``"two renames"``. After a kill at any step, ``final`` holds the previous or the new
    complete run, or (only while the symlink swap converts a real folder, or between the two renames) is missing
    with the previous run in ``.name.*.old/name`` for :func:`recover` to move back.
    """
    if not os.path.lexists(final):
        # no previous run: in the symlink layout the run lives in a .run folder from the start, so that it can
        # later be replaced by a symlink swap
        if _renameat2 is None:
            return _symlink_swap(staging, final)
        os.rename(staging, final)
        return "rename"
    if exchange(staging, final):
        _remove(staging)  # now the previous run (a folder, or a symlink to its .run folder)
        return "exchange"
    return _symlink_swap(staging, final)


def _symlink(target: str, link: Path) -> None:
    os.symlink(target, link)


def _two_renames(staging: Path, final: Path) -> str:
    """Last resort (no exchange, no symlinks, e.g. Windows without the symlink privilege): move the previous run
    aside to ``.name.*.old/name``, then the new one in; :func:`recover` moves the previous run back after a kill
    between the two."""
    out, name = final.parent, final.name
    trash = None
    if os.path.lexists(final):
        trash = _hidden(out, name, ".old")
        os.rename(final, trash / name)
    os.rename(staging, final)
    if trash is not None:
        shutil.rmtree(trash, ignore_errors=True)
    return "two renames"


def _symlink_swap(staging: Path, final: Path) -> str:
    out, name = final.parent, final.name
    run = _fresh(out, name, ".run")
    link = _fresh(out, name, ".link")
    try:
        _symlink(run.name, link)  # dangling until the rename below
    except (OSError, NotImplementedError):
        return _two_renames(staging, final)
    os.rename(staging, run)  # a complete new run, hidden; the previous one is still at final
    trash = None
    previous = None
    if final.is_symlink():
        previous = out / os.readlink(final)
    elif os.path.lexists(final):  # a real folder: move it aside (recover() moves it back after a kill here)
        trash = _hidden(out, name, ".old")
        os.rename(final, trash / name)
    os.replace(link, final)  # one rename(2): final now points at the new run
    if trash is not None:
        shutil.rmtree(trash, ignore_errors=True)
    if previous is not None and previous.parent == out and _STALE.match(previous.name):
        shutil.rmtree(previous, ignore_errors=True)
    return "symlink"


def _present(final: Path) -> bool:
    """``final`` exists (a folder, or a symlink that resolves)."""
    return final.is_dir()


def recover(out: Path, name: str) -> tuple[list[Path], list[Path]]:
    """Clean the staging folders of run ``name`` in ``out`` left by a killed process (the caller holds its lock).

    A previous complete run that a kill left only in ``.name.*.old/name`` while ``out/name`` is missing is moved
    back to ``out/name``; every other staging entry of the run (``.partial``, ``.old``, a ``.run`` folder that
    ``out/name`` does not point at, a ``.link`` symlink) is removed.

    Returns
    -------
    (restored, removed) : lists of paths
        ``restored`` holds ``out/name`` when a previous run was moved back.
    """
    final = out / name
    entries = []
    for entry in sorted(out.iterdir()):
        m = _STALE.match(entry.name)
        if m and m.group("name") == name:
            entries.append((entry, m.group("kind")))
    restored: list[Path] = []
    if not _present(final):
        for entry, kind in entries:
            kept = entry / name
            if kind == "old" and not entry.is_symlink() and kept.is_dir():
                if os.path.islink(final):
                    os.unlink(final)  # dangling
                os.rename(kept, final)
                restored.append(final)
                break
    target = None
    if final.is_symlink():
        target = (out / os.readlink(final)).name
    removed: list[Path] = []
    for entry, kind in entries:
        if kind == "run" and entry.name == target:
            continue
        if entry.is_symlink():
            with contextlib.suppress(FileNotFoundError):
                os.unlink(entry)
        else:
            shutil.rmtree(entry, ignore_errors=True)
        removed.append(entry)
    return restored, removed


def staging_names(out: Path) -> set[str]:
    """Run names with staging entries in ``out`` (``.name.*.partial|old|run|link``)."""
    names = set()
    if out.is_dir():
        for entry in out.iterdir():
            m = _STALE.match(entry.name)
            if m:
                names.add(m.group("name"))
    return names


def clean_latest_tmp(out: Path) -> list[Path]:
    """Remove ``out/.latest.<pid>.tmp`` symlinks left by killed processes (their pid no longer runs)."""
    removed = []
    if not out.is_dir():
        return removed
    for entry in out.glob(".latest.*.tmp"):
        pid = entry.name.split(".")[2]
        if not pid.isdigit() or not entry.is_symlink():
            continue
        try:
            os.kill(int(pid), 0)
            continue  # that process is alive (it may be pointing `latest` right now)
        except ProcessLookupError:
            pass
        except OSError:  # alive but another user's
            continue
        with contextlib.suppress(FileNotFoundError):
            os.unlink(entry)
        removed.append(entry)
    return removed
