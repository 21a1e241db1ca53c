"""The package's shape, read from its source with :mod:`ast` (no import is executed).

The rules of the architecture page of the documentation:

* **Layers import downwards only.** ``core`` < ``data`` < ``selection`` < ``learning`` < ``trading`` <
  ``evaluation`` < ``live`` < ``reporting`` < ``commands``/``cli``. A module may import from its own layer and
  the layers below it; a lower layer reaches a higher one through a registry or a callback, never an import.
  ``volts.testing`` (the stand-in terminal) sits beside the layers: it may import from core and data, and only
  tests, the live layer and the commands import it.
* **No import cycle between modules**, counting every import: at module level, inside functions and under
  ``if TYPE_CHECKING:`` alike (only a module's ``if __name__ == "__main__":`` block, which never runs on import,
  is left out).
* **No module over 700 lines**, and **no function whose body exceeds 80 lines** unless its docstring says why
  in a paragraph that starts with ``Length:``.

Each test names every offender, so a failure says what to move.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "volts"

LAYERS = ("core", "data", "selection", "learning", "trading", "evaluation", "live", "reporting", "commands")
RANK = {name: i for i, name in enumerate(LAYERS)}
MAX_MODULE_LINES = 700
MAX_FUNCTION_LINES = 80


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def layer(module: str) -> str:
    """The layer of a module: its first package below ``volts`` (``cli``/``__main__`` count as commands; the
    root package and its compatibility shim as core)."""
    parts = module.split(".")
    if len(parts) == 1 or parts[1] in ("_compat",):
        return "core"
    if parts[1] in ("cli", "__main__"):
        return "commands"
    return parts[1]


def _target(module: str, node: ast.ImportFrom | ast.Import, alias: ast.alias) -> str | None:
    """The volts module an import statement reaches (the longest existing module prefix), else None."""
    if isinstance(node, ast.Import):
        name = alias.name
    else:
        if node.level:
            pkg = module.split(".") if MODULES[module].name == "__init__.py" else module.split(".")[:-1]
            base = pkg[: len(pkg) - (node.level - 1)]
            name = ".".join(base + ([node.module] if node.module else []))
        else:
            name = node.module or ""
        if f"{name}.{alias.name}" in MODULES:
            name = f"{name}.{alias.name}"
    if not name.startswith("volts"):
        return None
    while name not in MODULES and "." in name:
        name = name.rsplit(".", 1)[0]
    return name if name in MODULES else None


def _is_main_guard(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.If)
        and isinstance(node.test, ast.Compare)
        and isinstance(node.test.left, ast.Name)
        and node.test.left.id == "__name__"
    )


def _walk_importable(tree: ast.AST):
    """Every node of the tree except those under ``if __name__ == "__main__":`` (run as a script only, never
    when the module is imported)."""
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(child for child in ast.iter_child_nodes(node) if not _is_main_guard(child))


def imports_of(module: str) -> dict[str, int]:
    """``{imported volts module: line}`` for every import in ``module`` (any depth in the tree, except a
    ``__main__`` block)."""
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    out: dict[str, int] = {}
    for node in _walk_importable(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                target = _target(module, node, alias)
                if target and target != module:
                    out.setdefault(target, node.lineno)
    return out


GRAPH = {m: imports_of(m) for m in MODULES}


def test_the_import_graph_is_read():
    # the reader itself must see imports, or every rule below passes vacuously
    assert "volts.core.errors" in GRAPH["volts.data.market"]
    assert "volts.selection.screens.base" in GRAPH["volts.selection.screens.causal"]
    assert len(MODULES) > 60 and sum(map(len, GRAPH.values())) > 200


def test_layers_import_downwards_only():
    upward = []
    for module, targets in GRAPH.items():
        src = layer(module)
        for target, line in targets.items():
            dst = layer(target)
            if src == "testing":
                ok = dst in ("core", "data", "testing")
            elif dst == "testing":
                ok = src in ("live", "commands")
            else:
                ok = RANK[dst] <= RANK[src]
            if not ok:
                upward.append(f"{MODULES[module].relative_to(ROOT.parent)}:{line} ({src}) imports {target} ({dst})")
    assert not upward, "imports from a lower layer to a higher one:\n" + "\n".join(upward)


def find_cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, {}):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_cycle_finder_finds_a_planted_cycle():
    planted = {"a": {"b": 1}, "b": {"c": 1}, "c": {"a": 1}, "d": {"a": 1}}
    assert find_cycles(planted) == [["a", "b", "c"]]
    assert find_cycles({"a": {"b": 1}, "b": {}}) == []


def test_no_import_cycle_between_modules():
    cycles = find_cycles(GRAPH)
    assert not cycles, "modules that import each other (directly or through others):\n" + "\n".join(
        " <-> ".join(c) for c in cycles
    )


def test_no_module_over_700_lines():
    long = {
        str(p.relative_to(ROOT.parent)): n
        for p in MODULES.values()
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
    }
    assert not long, f"modules over {MAX_MODULE_LINES} lines (split them): {long}"


def _body_lines(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    body = fn.body
    if (
        body
        and isinstance(body[0], ast.Expr)
        and isinstance(body[0].value, ast.Constant)
        and isinstance(body[0].value.value, str)
    ):
        body = body[1:]
    return 0 if not body else body[-1].end_lineno - body[0].lineno + 1


def test_long_functions_say_why():
    unexplained = []
    for module, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = _body_lines(node)
                if n > MAX_FUNCTION_LINES and "Length:" not in (ast.get_docstring(node) or ""):
                    unexplained.append(f"{path.relative_to(ROOT.parent)}:{node.lineno} {node.name} ({n} lines)")
    assert not unexplained, (
        "functions longer than 80 lines without a 'Length:' reason in their docstring:\n" + "\n".join(unexplained)
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    "old, new",
    [
        ("volts.walkforward", "volts.evaluation.walkforward"),
        ("volts.screens.base", "volts.selection.screens.base"),
        ("strategies.lead_lag_trend", "volts.trading.strategies.lead_lag_trend"),
    ],
)
def test_old_import_paths_work_for_one_release_with_a_warning(old, new):
    import importlib
    import subprocess
    import sys

    # a fresh interpreter: in this one the old name may be cached already (no second warning)
    code = (
        f"import warnings, importlib\nwarnings.simplefilter('error', DeprecationWarning)\n"
        f"import volts\ntry:\n    importlib.import_module({old!r})\nexcept DeprecationWarning as w:\n"
        f"    print('WARNED', w)\nwarnings.simplefilter('ignore')\nold = importlib.import_module({old!r})\n"
        f"print('SAME', old is importlib.import_module({new!r}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT.parent
    ).stdout
    # the first warning names the old path or the old package it sits in (imported first), with its new place
    warned = re.search(r"WARNED '([\w.]+)' moved to '([\w.]+)'", out)
    assert warned and old.startswith(warned.group(1)) and new.startswith(warned.group(2)), out
    assert "SAME True" in out, out
    importlib.import_module(new)
