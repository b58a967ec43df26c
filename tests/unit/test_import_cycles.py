"""The package's import graph has layers: no cycle between files or between packages, and nothing below
``sentvec.cli`` and ``sentvec.server`` imports them.

The graph is read from the source with ``ast``: every ``import`` and ``from ... import`` of a ``sentvec`` module,
at the top of a file or inside a function (a lazy import still runs, only later). Imports under
``if TYPE_CHECKING:`` never run, so they make no cycle; they still count as a wrong-way arrow into the CLI or
the server. ``from package import name`` is an edge to the submodule ``package.name`` when there is one, else
to the package's ``__init__``.
"""

from __future__ import annotations

import ast
import dataclasses
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"
ROOT = "sentvec"
TOP = (f"{ROOT}.cli", f"{ROOT}.server")  # the layers nothing below may import
ENTRY = f"{ROOT}.__main__"  # `python -m sentvec`: the CLI's entry, above it


@dataclasses.dataclass(frozen=True)
class Edge:
    source: str
    target: str
    where: str  # file:line of the import
    typing_only: bool


def _modules() -> dict[str, Path]:
    modules = {}
    for path in sorted((SRC / ROOT).rglob("*.py")):
        parts = path.relative_to(SRC).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        modules[name] = path
    return modules


MODULES = _modules()


def _is_package(name: str) -> bool:
    return MODULES[name].name == "__init__.py"


def _typing_only_nodes(tree: ast.AST) -> set[int]:
    """The ids of the nodes inside ``if TYPE_CHECKING:`` blocks (not their ``else``)."""
    inside: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            inside |= {id(child) for statement in node.body for child in ast.walk(statement)}
    return inside


def _targets(module: str, node: ast.Import | ast.ImportFrom) -> Iterator[str]:
    """The ``sentvec`` modules one import statement loads by name."""
    if isinstance(node, ast.Import):
        for alias in node.names:
            if alias.name in MODULES:
                yield alias.name
        return
    base = node.module or ""
    if node.level:  # relative: from the module's package, one level up per extra dot
        package = module.split(".") if _is_package(module) else module.split(".")[:-1]
        package = package[: len(package) - (node.level - 1)]
        base = ".".join([*package, base] if base else package)
    for alias in node.names:
        submodule = f"{base}.{alias.name}"
        if submodule in MODULES:
            yield submodule
        elif base in MODULES:
            yield base


def _edges() -> list[Edge]:
    edges = []
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        typing_only = _typing_only_nodes(tree)
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                where = f"{path.relative_to(SRC.parent)}:{node.lineno}"
                for target in _targets(module, node):
                    if target != module:
                        edges.append(Edge(module, target, where, id(node) in typing_only))
    return edges


EDGES = _edges()


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one node (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    nodes = sorted(set(graph) | {w for targets in graph.values() for w in targets})
    for start in nodes:
        if start in index:
            continue
        work = [(start, iter(sorted(graph.get(start, ()))))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            v, children = work[-1]
            w = next(children, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = len(index)
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(graph.get(w, ())))))
                elif w in on_stack:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                component = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    component.append(w)
                    if w == v:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def _describe(cycles: list[list[str]], edges: list[tuple[str, str, str]]) -> str:
    """Each cycle, with the imports that make it (``a -> b  (file:line)``)."""
    lines = []
    for component in cycles:
        members = set(component)
        lines.append("cycle: " + " <-> ".join(component))
        shown = set()
        for source, target, where in edges:
            if source in members and target in members and (source, target) not in shown:
                shown.add((source, target))
                lines.append(f"    {source} -> {target}  ({where})")
    return "\n".join(lines)


def _runtime_edges() -> list[Edge]:
    return [edge for edge in EDGES if not edge.typing_only]


def _child(package: str, module: str) -> str | None:
    """The direct child of ``package`` (a submodule or subpackage) that holds ``module``; None when outside."""
    if not module.startswith(package + "."):
        return None
    return package + "." + module[len(package) + 1 :].split(".")[0]


def test_the_graph_is_read():
    """The walk sees the package: lazy imports inside functions, relative imports and typing-only ones."""
    assert f"{ROOT}.encoder" in MODULES and f"{ROOT}.cli.main" in MODULES
    targets = {(edge.source, edge.target) for edge in EDGES}
    assert (f"{ROOT}.cli.main", f"{ROOT}.cli.encode") in targets
    assert any(edge.typing_only for edge in EDGES)
    assert any(edge.source.startswith(f"{ROOT}.cli.") and edge.target == f"{ROOT}.evaluation" for edge in EDGES)


def test_no_cycle_between_files():
    graph: dict[str, set[str]] = defaultdict(set)
    lines = []
    for edge in _runtime_edges():
        graph[edge.source].add(edge.target)
        lines.append((edge.source, edge.target, edge.where))
    cycles = _cycles(graph)
    assert not cycles, "import cycles between files:\n" + _describe(cycles, lines)


def test_no_cycle_between_packages():
    """Within each package, its direct children (modules and subpackages, each with all it holds) import each
    other one way only; at the top that means ``search``, ``evaluation``, ``training``, ... form layers."""
    packages = [name for name in MODULES if _is_package(name)]
    problems = []
    for package in packages:
        graph: dict[str, set[str]] = defaultdict(set)
        lines = []
        for edge in _runtime_edges():
            source, target = _child(package, edge.source), _child(package, edge.target)
            if source is not None and target is not None and source != target:
                graph[source].add(target)
                lines.append((source, target, f"{edge.source} -> {edge.target}, {edge.where}"))
        cycles = _cycles(graph)
        if cycles:
            problems.append(f"in {package}:\n" + _describe(cycles, lines))
    assert not problems, "import cycles between packages:\n" + "\n".join(problems)


def test_nothing_below_the_cli_and_the_server_imports_them():
    def layer(module: str) -> str | None:
        return next((top for top in TOP if module == top or module.startswith(top + ".")), None)

    wrong = sorted(
        f"{edge.source} -> {edge.target}  ({edge.where})"
        for edge in EDGES
        if layer(edge.target) is not None and layer(edge.source) is None and edge.source != ENTRY
    )
    assert not wrong, "imports of the CLI or the server from below them:\n" + "\n".join(wrong)
