"""The layout's import rules (docs/architecture.md, "Layout"), checked on every module's AST.

* ``core`` imports no system, ``tuning``, ``export`` or ``cli``;
* a system package (embeddings, harmony, hmlp, spectra_lstm, ntk) imports ``core`` and itself;
* ``tuning`` and ``export`` import ``core`` and themselves (families through the registry);
* ``cli`` may import anything; no import cycle between packages; modules stay small;
* no import cycle between modules either (:func:`module_cycles`), lazy imports included.

Every import counts, also the lazy ones inside functions. The rules are tested on the real tree
and, to show the test can fail, on a copy with a forbidden edge added.
"""

from __future__ import annotations

import ast
import shutil
from pathlib import Path

import pytest

import spectral_cli

ROOT = Path(spectral_cli.__file__).resolve().parent
SYSTEMS = {"embeddings", "harmony", "hmlp", "spectra_lstm", "ntk"}
DRIVERS = {"tuning", "export"}
ALLOWED: dict[str, set[str]] = {
    "core": {"core"},
    **{s: {"core", s} for s in SYSTEMS},
    **{d: {"core", d} for d in DRIVERS},
    "cli": {"core", "cli", "tuning", "export", *SYSTEMS},
    # __init__ (version; the lazy API names modules as strings) and __main__
    "root": {"root", "cli", "core"},
}
MAX_LINES = 320  # "about 300": a module does one thing


def package_of(module: str) -> str:
    """``spectral_cli.core.config`` -> ``core``; top-level modules -> ``root``."""
    parts = module.split(".")
    return "root" if len(parts) < 3 else parts[1]


def module_name(root: Path, path: Path) -> str:
    rel = path.relative_to(root.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(root: Path, path: Path) -> set[str]:
    """Every ``spectral_cli`` module imported anywhere in ``path`` (relative ones resolved)."""
    me = module_name(root, path)
    base = me.split(".") if path.name == "__init__.py" else me.split(".")[:-1]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                prefix = base[: len(base) - node.level + 1]
                mod = ".".join(prefix + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            out.add(mod)
            out.update(f"{mod}.{a.name}" for a in node.names)  # `from pkg import module`
    return {m for m in out if m == "spectral_cli" or m.startswith("spectral_cli.")}


def package_edges(root: Path) -> set[tuple[str, str, str]]:
    """(importing package, imported package, importing module) for every import."""
    edges = set()
    for path in root.rglob("*.py"):
        src = module_name(root, path)
        for target in imports_of(root, path):
            if target == "spectral_cli":
                edges.add((package_of(src), "root", src))
            elif len(target.split(".")) >= 2:
                edges.add(
                    (
                        package_of(src),
                        package_of(target)
                        if target.count(".") >= 2
                        else target.split(".")[1]
                        if (root / target.split(".")[1]).is_dir()
                        else "root",
                        src,
                    )
                )
    return edges


def cycles(edges: set[tuple[str, str, str]]) -> list[list[str]]:
    """Package-level cycles (self-loops excluded), found by depth-first search."""
    graph: dict[str, set[str]] = {}
    for a, b, _ in edges:
        if a != b:
            graph.setdefault(a, set()).add(b)
    found, state = [], {}

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                found.append(stack[stack.index(nxt) :] + [nxt])
            elif nxt not in state:
                visit(nxt, [*stack, nxt])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    return found


def violations(root: Path) -> list[str]:
    edges = package_edges(root)
    bad = [
        f"{mod} ({a}) imports {b}" for a, b, mod in sorted(edges) if b not in ALLOWED.get(a, set())
    ]
    bad += [" -> ".join(c) for c in cycles(edges)]
    return bad


def test_import_rules_hold() -> None:
    assert violations(ROOT) == []


def test_every_package_is_classified() -> None:
    packages = {p.name for p in ROOT.iterdir() if (p / "__init__.py").is_file()}
    assert packages == {"core", "cli", *SYSTEMS, *DRIVERS}


def test_modules_stay_small() -> None:
    long = {
        str(p.relative_to(ROOT)): n
        for p in ROOT.rglob("*.py")
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert long == {}


@pytest.mark.parametrize(
    ("module", "line", "expected"),
    [
        ("core/atomic.py", "from spectral_cli.embeddings import hpe", "(core) imports embeddings"),
        ("hmlp/layer.py", "import spectral_cli.harmony.measures", "(hmlp) imports harmony"),
        ("ntk/mlp.py", "from spectral_cli.cli import main", "(ntk) imports cli"),
        (
            "tuning/space.py",
            "from spectral_cli.hmlp.layer import HarmonicLayer",
            "(tuning) imports hmlp",
        ),
        ("core/report.py", "from ..tuning import stats", "(core) imports tuning"),
    ],
)
def test_the_rules_catch_a_forbidden_edge(
    tmp_path: Path, module: str, line: str, expected: str
) -> None:
    """The check fails on a copy of the package with one forbidden import added."""
    copy = tmp_path / "spectral_cli"
    shutil.copytree(ROOT, copy, ignore=shutil.ignore_patterns("__pycache__", "*.gz"))
    assert violations(copy) == []
    target = copy / module
    target.write_text(target.read_text(encoding="utf-8") + f"\n\ndef _late():\n    {line}\n")
    assert any(expected in v for v in violations(copy)), violations(copy)


def test_a_package_cycle_is_found() -> None:
    edges = {("a", "b", "x"), ("b", "c", "y"), ("c", "a", "z"), ("a", "a", "w")}
    assert cycles(edges) == [["a", "b", "c", "a"]]
    assert cycles({("a", "b", "x")}) == []


# --- module-level import cycles ---------------------------------------------------------------
#
# A module's edges are the ``spectral_cli`` modules its ``import``/``from ... import`` nodes name,
# anywhere in its AST (function bodies too): ``import a.b`` -> ``a.b``; ``from a import b`` ->
# ``a.b`` when that is a module, else ``a`` (a name from the package's ``__init__``). The parent
# packages Python initializes on the way are not edges: a package ``__init__`` that imports its
# own submodules is the normal layout, and an ``__init__`` imported by name is an edge like any.

# Cycles outside tuning/ the lead has yet to untangle: each entry names the modules of one cycle.
KNOWN_MODULE_CYCLES: set[frozenset[str]] = set()


def module_imports(root: Path, path: Path, modules: set[str]) -> set[str]:
    """The modules of ``modules`` that ``path`` imports, lazily or not (itself excluded)."""
    me = module_name(root, path)
    base = me.split(".") if path.name == "__init__.py" else me.split(".")[:-1]

    def known(name: str) -> str | None:  # the longest prefix of ``name`` that is a module
        parts = name.split(".")
        while parts and ".".join(parts) not in modules:
            parts.pop()
        return ".".join(parts) or None

    out: set[str | None] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out.update(known(a.name) for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                prefix = base[: len(base) - node.level + 1]
                mod = ".".join(prefix + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            for alias in node.names:
                sub = f"{mod}.{alias.name}"
                out.add(sub if sub in modules else known(mod))
    return {m for m in out if m is not None and m != me}


def module_graph(root: Path) -> dict[str, set[str]]:
    """Every module of the package under ``root`` -> the package's modules it imports."""
    paths = {module_name(root, p): p for p in root.rglob("*.py")}
    return {name: module_imports(root, path, set(paths)) for name, path in paths.items()}


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components with more than one module, each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def one_cycle(graph: dict[str, set[str]], members: list[str]) -> list[str]:
    """A shortest import path from the first member back to itself, inside its component."""
    start, inside = members[0], set(members)
    paths = {start: [start]}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for nxt in sorted(graph.get(node, set()) & inside):
            if nxt == start:
                return [*paths[node], start]
            if nxt not in paths:
                paths[nxt] = [*paths[node], nxt]
                queue.append(nxt)
    raise AssertionError(f"{members} is not a strongly connected component")


def module_cycles(
    graph: dict[str, set[str]], known: set[frozenset[str]] | None = None
) -> list[str]:
    """One line per import cycle not in ``known``: its modules and one loop through them."""
    return [
        f"import cycle among {', '.join(c)}: {' -> '.join(one_cycle(graph, c))}"
        for c in strongly_connected(graph)
        if frozenset(c) not in (known or set())
    ]


def test_no_module_imports_itself_back() -> None:
    assert module_cycles(module_graph(ROOT), KNOWN_MODULE_CYCLES) == []


def test_known_module_cycles_still_exist() -> None:
    """An allow-list entry whose cycle is gone must go too (or it would hide a new one)."""
    present = {frozenset(c) for c in strongly_connected(module_graph(ROOT))}
    assert KNOWN_MODULE_CYCLES - present == set()


def test_a_module_cycle_is_found_in_memory() -> None:
    graph = {"p.a": {"p.b"}, "p.b": {"p.a", "p.c"}, "p.c": set(), "p.d": {"p.d"}}
    assert strongly_connected(graph) == [["p.a", "p.b"]]
    assert module_cycles(graph) == ["import cycle among p.a, p.b: p.a -> p.b -> p.a"]
    assert module_cycles(graph, {frozenset({"p.a", "p.b"})}) == []  # an allow-listed cycle
    assert module_cycles({"p.a": {"p.b"}, "p.b": set()}) == []


def test_a_lazy_two_module_cycle_is_found_on_disk(tmp_path: Path) -> None:
    """Two files importing each other, one of them only inside a function, and a package
    ``__init__`` importing its own submodule (not a cycle)."""
    pkg = tmp_path / "spectral_cli"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("from spectral_cli.sub import b\n")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "a.py").write_text("def late():\n    from spectral_cli.sub import b\n")
    (pkg / "sub" / "b.py").write_text("from . import a\nimport spectral_cli.sub\n")
    graph = module_graph(pkg)
    assert graph["spectral_cli.sub.a"] == {"spectral_cli.sub.b"}
    assert graph["spectral_cli.sub.b"] == {"spectral_cli.sub.a", "spectral_cli.sub"}
    assert module_cycles(graph) == [
        "import cycle among spectral_cli.sub.a, spectral_cli.sub.b: "
        "spectral_cli.sub.a -> spectral_cli.sub.b -> spectral_cli.sub.a"
    ]
