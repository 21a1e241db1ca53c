"""A run folder is replaced atomically: a SIGKILL at any step of the commit leaves the previous or the new complete
run at ``out/name`` (or, only in the symlink fallback's one conversion step, the previous run aside for the next
command to move back), and the next command restores or keeps it: it never deletes the only copy of a run."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from volts.core import runswap
from volts.core.artifacts import RunFolder, atomic_write_json

NAME = "2023-06-08"
FILES = ("selection.json", "metrics.json", "report.md")

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="kills are simulated in forked children")
needs_exchange = pytest.mark.skipif(runswap._renameat2 is None, reason="no renameat2 on this platform")


def _commit_in_child(out: Path, kill_at: int, mode: str) -> tuple[int, int]:
    """Fork a child that commits a new run over out/NAME with the file-system calls of the commit wrapped: the
    k-th call (counted from the commit on) ends the child with ``os._exit`` before it runs, like a SIGKILL there
    (no Python clean-up, no ``__exit__``). ``kill_at`` = 0 runs to the end. Returns (exit status, calls made)."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        try:
            os.close(read_end)
            if mode in ("fallback", "no symlinks"):
                runswap._renameat2 = None
            if mode == "no symlinks":

                def refuse(*args):
                    raise OSError(1, "symbolic links are not permitted here")

                runswap._symlink = refuse
            calls = [0]

            def wrap(module, attr):
                real = getattr(module, attr)

                def step(*args, **kwargs):
                    calls[0] += 1
                    if calls[0] == kill_at:
                        os._exit(137)
                    return real(*args, **kwargs)

                setattr(module, attr, step)

            with RunFolder(out, NAME) as rf:
                for f in FILES:
                    atomic_write_json(rf.staging / f, {"run": "new", "file": f})
                for module, attr in [
                    (os, "rename"),
                    (os, "replace"),
                    (os, "symlink"),
                    (os, "unlink"),
                    (os, "rmdir"),
                    (shutil, "rmtree"),
                    (runswap, "exchange"),
                ]:
                    wrap(module, attr)
                rf.commit()
            os.write(write_end, str(calls[0]).encode())
            os._exit(0)
        except BaseException:
            os._exit(1)
    os.close(write_end)
    _, status = os.waitpid(pid, 0)
    with os.fdopen(read_end, "rb") as fh:
        text = fh.read().decode()
    return os.waitstatus_to_exitcode(status), int(text or 0)


def _write_run(out: Path, tag: str, *, mode: str) -> None:
    """Commit a complete run ``tag`` at out/NAME in-process (``mode`` = exchange or fallback)."""
    saved = runswap._renameat2
    if mode == "fallback":
        runswap._renameat2 = None
    try:
        with RunFolder(out, NAME) as rf:
            for f in FILES:
                atomic_write_json(rf.staging / f, {"run": tag, "file": f})
            rf.commit()
    finally:
        runswap._renameat2 = saved


def _which_run(folder: Path) -> str | None:
    """'old' or 'new' when ``folder`` holds one complete run, None when missing; fails on a mixed/partial run."""
    if not folder.is_dir():
        return None
    names = sorted(p.name for p in folder.iterdir())
    assert names == sorted(FILES), f"{folder}: incomplete run {names}"
    tags = {json.loads((folder / f).read_text())["run"] for f in FILES}
    assert len(tags) == 1, f"{folder}: a mix of runs {tags}"
    return tags.pop()


def _kill_at_every_step(tmp_path: Path, mode: str, previous: str | None) -> list[tuple[int, str | None]]:
    """Kill the commit at each of its steps; check the invariants after the kill and after the next command.

    ``previous``: None (no previous run), "exchange" or "fallback" (the mode that wrote the previous run, hence a
    real folder or the symlink layout)."""
    probe = tmp_path / "probe"
    if previous:
        _write_run(probe, "old", mode=previous)
    rc, steps = _commit_in_child(probe, 0, mode)
    assert rc == 0
    assert _which_run(probe / NAME) == "new"
    seen = []
    for k in range(1, steps + 1):
        out = tmp_path / f"kill{k}"
        if previous:
            _write_run(out, "old", mode=previous)
        rc, _ = _commit_in_child(out, k, mode)
        assert rc == 137, k
        at_kill = _which_run(out / NAME)
        if previous and at_kill is None:
            # only the symlink fallback converting a real folder (or the two renames without symlinks) may leave
            # out/NAME missing for a moment, with the previous run moved aside in one .old folder
            assert mode == "no symlinks" or (mode == "fallback" and previous == "exchange"), k
            aside = [p for p in out.iterdir() if p.name.endswith(".old")]
            assert len(aside) == 1 and _which_run(aside[0] / NAME) == "old"
        seen.append((k, at_kill))
        # the next command into the same folder restores / keeps a complete run and cleans everything else
        with RunFolder(out, NAME):
            pass
        after = _which_run(out / NAME)
        if previous:
            assert after in ("old", "new"), k
            assert (out / "latest").resolve() == (out / NAME).resolve() and _which_run(out / "latest") == after
        else:
            assert after in (None, "new"), k
        if at_kill is not None:
            assert after == at_kill, k  # a complete run at the path is kept as it is
        left = {p.name for p in out.iterdir()} - {NAME, "latest", f".{NAME}.lock"}
        target = os.readlink(out / NAME) if (out / NAME).is_symlink() else None
        assert left <= {target}, (k, left)
    return seen


@pytest.mark.slow
@needs_exchange
@pytest.mark.parametrize("previous", ["exchange", "fallback"])
def test_a_kill_at_any_step_of_the_exchange_leaves_a_complete_run_in_place(tmp_path, previous):
    seen = _kill_at_every_step(tmp_path, "exchange", previous)
    # with renameat2 the path is never without a complete run, and the kills cover both sides of the swap
    assert all(run is not None for _, run in seen)
    assert {run for _, run in seen} == {"old", "new"}


@pytest.mark.slow
@pytest.mark.parametrize("previous", ["fallback", "exchange", None])
def test_a_kill_at_any_step_of_the_symlink_swap_never_loses_the_previous_run(tmp_path, previous):
    if previous == "exchange" and runswap._renameat2 is None:
        previous = "fallback"
    seen = _kill_at_every_step(tmp_path, "fallback", previous)
    if previous == "fallback":  # symlink layout: one os.replace of the link, no gap at all
        assert all(run is not None for _, run in seen)
    if previous:
        assert {run for _, run in seen} >= {"old", "new"}


def test_a_previous_run_left_aside_by_a_killed_commit_is_moved_back_not_deleted(tmp_path, caplog):
    """The state an older volts left after a SIGKILL between its two renames: out/NAME missing, `latest`
    dangling, the only copy of the previous run in .NAME.*.old/NAME. The next command must move it back."""
    out = tmp_path / "runs"
    aside = out / f".{NAME}.k3j2x9.old" / NAME
    aside.mkdir(parents=True)
    for f in FILES:
        atomic_write_json(aside / f, {"run": "old", "file": f})
    (out / f".{NAME}.a8b7c6.partial").mkdir()  # the new run, half-written
    os.symlink(NAME, out / "latest")
    assert not (out / "latest").exists()  # dangling
    with caplog.at_level("WARNING", logger="volts.core.artifacts"):
        with RunFolder(out, NAME):
            pass
    assert _which_run(out / NAME) == "old" and _which_run(out / "latest") == "old"
    assert sorted(p.name for p in out.iterdir()) == sorted([NAME, "latest", f".{NAME}.lock"])
    assert any(
        "restored the previous run" in r.getMessage() and str(out / NAME) in r.getMessage() for r in caplog.records
    )


def test_another_runs_aside_copy_is_restored_when_its_lock_is_free(tmp_path):
    out = tmp_path / "runs"
    aside = out / ".2023-06-01.zz11yy.old" / "2023-06-01"
    aside.mkdir(parents=True)
    (aside / "selection.json").write_text("{}")
    with RunFolder(out, NAME):
        pass
    assert (out / "2023-06-01" / "selection.json").is_file()


def test_the_symlink_layout_is_read_through_and_replaced(tmp_path):
    out = tmp_path / "runs"
    _write_run(out, "old", mode="fallback")
    assert (out / NAME).is_symlink() and _which_run(out / NAME) == "old"
    _write_run(out, "new", mode="fallback")
    assert _which_run(out / NAME) == "new" and _which_run(out / "latest") == "new"
    hidden = [p.name for p in out.iterdir() if p.name.startswith(f".{NAME}.") and p.name != f".{NAME}.lock"]
    assert hidden == [os.readlink(out / NAME)]  # the previous run's folder is gone, only the target is left
    if runswap._renameat2 is not None:  # the exchange path replaces the symlink layout by a real folder
        _write_run(out, "third", mode="exchange")
        assert not (out / NAME).is_symlink() and _which_run(out / NAME) == "third"
        assert sorted(p.name for p in out.iterdir()) == sorted([NAME, "latest", f".{NAME}.lock"])


@needs_exchange
def test_exchange_swaps_two_folders(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "from_a").touch()
    assert runswap.exchange(tmp_path / "a", tmp_path / "b")
    assert (tmp_path / "b" / "from_a").exists() and not (tmp_path / "a" / "from_a").exists()
    with pytest.raises(FileNotFoundError):
        runswap.exchange(tmp_path / "a", tmp_path / "missing")


@pytest.mark.slow
def test_volts_select_after_a_kill_mid_replace_restores_the_previous_run(tmp_path, capsys):
    """Through the CLI: the state a SIGKILL between the two renames of an older volts left (the run moved aside,
    `latest` dangling); the next `volts select` moves the run back, says so, and keeps it (same hashes)."""
    from tests.test_safety import FAST
    from volts.cli import main

    cfg = tmp_path / "fast.toml"
    cfg.write_text(FAST)
    out = tmp_path / "runs"
    assert main(["select", "--config", str(cfg), "--out", str(out)]) == 0
    before = {p.name: p.read_bytes() for p in (out / NAME).iterdir()}
    aside = out / f".{NAME}.q1w2e3.old"
    aside.mkdir()
    os.rename(out / NAME, aside / NAME)
    assert not (out / "latest").exists()
    capsys.readouterr()
    assert main(["select", "--config", str(cfg), "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert f"{out / NAME}: restored the previous run" in err
    assert {p.name: p.read_bytes() for p in (out / NAME).iterdir()} == before
    assert (out / "latest").resolve() == (out / NAME).resolve()
    assert not aside.exists()


@pytest.mark.slow
@pytest.mark.parametrize("previous", ["exchange", None])
def test_without_symlinks_a_kill_between_the_two_renames_is_repaired_by_the_next_command(tmp_path, previous):
    if previous == "exchange" and runswap._renameat2 is None:
        pytest.skip("the previous run must be a real folder")
    seen = _kill_at_every_step(tmp_path, "no symlinks", previous)
    if previous:  # the gap exists (the path is empty between the renames) and every kill was repaired above
        assert None in {run for _, run in seen} and {"old", "new"} <= {run for _, run in seen}
