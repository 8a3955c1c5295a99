"""The import graph of ``aigc_biz`` points down the layers and has no circles.

Every module is parsed with :mod:`ast` (imports inside functions count too: a lazy import is still a
dependency), so the test sees the code as written rather than what one run happens to import.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = "aigc_biz"
ROOT = Path(__file__).resolve().parents[1] / PACKAGE

# data <- models <- ranking/evaluation <- copywriting/reporting/io <- api/pipeline <- cli
# The YAML runner (pipeline) calls api verbs it is handed by api.run, and imports none of them, so
# api -> pipeline is the one direction between the two (the cycle test keeps it that way).
LAYERS = {
    "data": 0,
    "models": 1,
    "ranking": 2,
    "evaluation": 2,
    "copywriting": 3,
    "reporting": 3,
    "io": 3,
    "synth": 3,
    "api": 4,
    "spark": 4,
    "pipeline": 4,
    "cli": 5,
    # helpers every layer may use
    "errors": 0,
    "_version": 0,
    "logging_setup": 0,
    "resources": 0,
    "__init__": 0,
    # the ranking metrics the models' training loop validates with (evaluation re-exports them)
    "metrics_core": 0,
    "json_safe": 0,
    "redaction": 0,
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def _resolve(target: str, modules: dict[str, Path]) -> str | None:
    """The longest prefix of *target* that is a module of the package (``a.b.func`` -> ``a.b``)."""
    parts = target.split(".")
    while parts:
        name = ".".join(parts)
        if name in modules:
            return name
        parts.pop()
    return None


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".")
                # a package's own name is its first level; a module's parent is
                base = base[: len(base) - node.level + (1 if is_package else 0)]
                stem = ".".join(base + ([node.module] if node.module else []))
            else:
                stem = node.module or ""
            # `from pkg import sub` names a submodule; `from mod import func` names the module
            targets = [f"{stem}.{alias.name}" for alias in node.names]
        else:
            continue
        for target in targets:
            if target.split(".")[0] != PACKAGE:
                continue
            resolved = _resolve(target, modules)
            if resolved is not None and resolved != name:
                found.add(resolved)
    return found


def import_graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(name, path, modules) for name, path in modules.items()}


def layer_of(module: str) -> int:
    parts = module.split(".")
    key = parts[1] if len(parts) > 1 else "__init__"
    if key not in LAYERS:
        pytest.fail(f"{module}: top-level part {key!r} has no layer in tests/test_layers.py LAYERS")
    return LAYERS[key]


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

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
                cycles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return cycles


def test_graph_sees_lazy_and_relative_imports():
    graph = import_graph()
    # api imports the loader inside a function; copywriting.render uses relative imports
    assert "aigc_biz.data.loading" in graph["aigc_biz.api"]
    assert "aigc_biz.copywriting.sms" in graph["aigc_biz.copywriting.render"]
    assert "aigc_biz.errors" in graph["aigc_biz.copywriting.render"]
    assert "aigc_biz.data.interactions" in graph["aigc_biz.data"]


def test_find_cycles_reports_a_circle():
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert find_cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles():
    cycles = find_cycles(import_graph())
    assert not cycles, "import circles: " + "; ".join(" <-> ".join(c) for c in cycles)


def test_no_import_points_up_a_layer():
    upward = [
        f"{src} (layer {layer_of(src)}) imports {dst} (layer {layer_of(dst)})"
        for src, targets in sorted(import_graph().items())
        for dst in sorted(targets)
        if layer_of(dst) > layer_of(src)
    ]
    assert not upward, "imports pointing up:\n" + "\n".join(upward)
