"""The CLI stays a skin over the api: every command calls exactly one api function, and nothing in
aigc_biz/cli imports from below the api (data, models, ranking, io…) or calls the api outside a command."""

from __future__ import annotations

import ast
from pathlib import Path

import aigc_biz.cli

CLI = Path(aigc_biz.cli.__file__).parent
#: what the CLI may import from the package: the api, itself, the error types and the version
ALLOWED = ("aigc_biz.api", "aigc_biz.cli", "aigc_biz.errors", "aigc_biz._version")


def _is_command(func: ast.FunctionDef) -> bool:
    return any(
        isinstance(d, ast.Call) and isinstance(d.func, ast.Attribute) and d.func.attr == "command"
        for d in func.decorator_list
    )


def _api_calls(node: ast.AST) -> list[str]:
    return [
        n.func.attr
        for n in ast.walk(node)
        if isinstance(n, ast.Call)
        and isinstance(n.func, ast.Attribute)
        and isinstance(n.func.value, ast.Name)
        and n.func.value.id == "api"
    ]


def _allowed(module: str) -> bool:
    return any(module == a or module.startswith(a + ".") for a in ALLOWED)


def problems(source: str, name: str = "<cli>") -> list[str]:
    """Every way ``source`` (a CLI module) breaks the rule, one line each."""
    tree = ast.parse(source)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("aigc_biz"):
            names = [f"{node.module}.{a.name}" for a in node.names] if node.module == "aigc_biz" else [node.module]
            found += [f"{name}:{node.lineno} imports {m}" for m in names if not _allowed(m)]
        elif isinstance(node, ast.Import):
            found += [
                f"{name}:{node.lineno} imports {a.name}"
                for a in node.names
                if a.name.startswith("aigc_biz") and not _allowed(a.name)
            ]
    for func in (n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)):
        calls = _api_calls(func)
        if _is_command(func) and len(calls) != 1:
            found.append(f"{name}: command {func.name} calls {len(calls)} api functions {calls}, not one")
        elif (
            not _is_command(func)
            and calls
            and not any(
                _is_command(f) for f in ast.walk(tree) if isinstance(f, ast.FunctionDef) and func in ast.walk(f)
            )
        ):
            found.append(f"{name}: helper {func.name} calls the api ({calls}); only commands may")
    return found


def test_every_cli_command_calls_one_api_function_and_imports_nothing_below_it():
    modules = sorted(CLI.glob("*.py"))
    commands = [
        f.name
        for path in modules
        for f in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(f, ast.FunctionDef) and _is_command(f)
    ]
    assert {"inspect", "recommend", "train", "evaluate", "copy_cmd", "report", "run"} <= set(commands)
    found = [p for path in modules for p in problems(path.read_text(encoding="utf-8"), path.name)]
    assert found == []


def test_the_check_catches_a_fat_command():
    fat = """
from aigc_biz import api
from aigc_biz.io.files import read_recs
import aigc_biz.models.registry

def helper():
    return api.load("x.csv")

@app.command()
def recommend(data):
    loaded = api.load(data)
    return api.recommend(loaded)
"""
    found = problems(fat)
    assert any("imports aigc_biz.io.files" in p for p in found)
    assert any("imports aigc_biz.models.registry" in p for p in found)
    assert any("command recommend calls 2 api functions" in p for p in found)
    assert any("helper helper calls the api" in p for p in found)
    assert problems("from aigc_biz import api\n@app.command()\ndef inspect(d):\n    return api.inspect(d)\n") == []
