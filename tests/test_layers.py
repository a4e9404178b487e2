"""The import graph has one direction: no module cycles, no package cycles, and no layer importing a higher one.

Every import counts: top level, inside functions, and under TYPE_CHECKING. `agent` reaches `model` only
through its front door, and an import inside a function says why on its line (or the line above); only
agent/cli.py is exempt, as a whole: its commands import their bodies when they run.
"""
from __future__ import annotations

import ast
import subprocess
import sys

import pytest

from tests.helpers import REPO

# Lowest first: a module may import its own layer and the ones before it.
LAYERS = [
    ["actions", "model"],
    ["agent.errors", "agent.settings"],
    ["agent.trace", "agent.tasks", "agent.desktop"],
    ["agent.policies"],
    ["agent.loop", "agent.run"],
    ["agent.bench", "agent.serve", "agent.viewer", "agent.report", "agent.export", "agent.record"],
    ["agent.commands"],
    ["agent.cli", "agent"],
]
SEPARATE = {("actions", "model"), ("model", "actions")}  # the two bottom packages never meet
LIGHT_COMMANDS = ["agent.cli", "agent.commands.validate", "agent.commands.parse", "agent.commands.view",
                  "agent.commands.report"]


def _modules() -> dict[str, tuple[ast.Module, list[str]]]:
    found = {}
    for top in ("actions", "model", "agent"):
        for path in sorted((REPO / top).rglob("*.py")):
            parts = path.relative_to(REPO).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            text = path.read_text(encoding="utf-8")
            found[name] = (ast.parse(text), text.splitlines())
    return found


SOURCES = _modules()
MODULES = {name: tree for name, (tree, _) in SOURCES.items()}


def _target(name: str) -> str | None:
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _imports(module: str, tree: ast.Module) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names |= {node.module} | {f"{node.module}.{alias.name}" for alias in node.names}
    return {found for name in names if (found := _target(name)) and found != module}


GRAPH = {module: _imports(module, tree) for module, tree in MODULES.items()}


def _layer(module: str) -> tuple[int, str]:
    """(layer index, unit): the longest layer entry that module falls under."""
    best = max((entry for layer in LAYERS for entry in layer if module == entry or module.startswith(entry + ".")),
               key=len)
    return next(i for i, layer in enumerate(LAYERS) if best in layer), best


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of graph as a path, or None."""
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        state[node] = "done"
        stack.pop()
        return None

    return next((found for node in sorted(graph) if node not in state and (found := visit(node))), None)


def test_no_module_cycles():
    assert _cycle(GRAPH) is None, " -> ".join(_cycle(GRAPH))


def test_no_package_cycles():
    units = {}
    for module, targets in GRAPH.items():
        unit = _layer(module)[1]
        units.setdefault(unit, set()).update(_layer(t)[1] for t in targets if _layer(t)[1] != unit)
    units.pop("agent", None)  # the front door re-exports from below, by design
    units = {unit: targets - {"agent"} for unit, targets in units.items()}
    assert _cycle(units) is None, " -> ".join(_cycle(units))


def test_no_layer_imports_a_higher_one():
    wrong = [f"{module} imports {target}" for module, targets in GRAPH.items() for target in targets
             if _layer(target)[0] > _layer(module)[0]
             or (_layer(module)[1].split(".")[0], _layer(target)[1].split(".")[0]) in SEPARATE]
    assert not wrong, "\n".join(sorted(wrong))


def test_agent_uses_model_only_through_its_front_door():
    wrong = [f"{module} imports {target}" for module, targets in GRAPH.items() if module.startswith("agent")
             for target in targets if target.startswith("model.")]
    assert not wrong, "\n".join(sorted(wrong)) + "\n(import these names from `model`, its front door)"


def _in_function_imports(tree: ast.Module):
    for function in ast.walk(tree):
        if isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield from (node for node in ast.walk(function) if isinstance(node, (ast.Import, ast.ImportFrom)))


def _says_why(lines: list[str], lineno: int) -> bool:
    """A comment on the import's line, or on the line above its block of imports."""
    index = lineno - 1
    if "#" in lines[index]:
        return True
    while lines[index - 1].strip().startswith(("import ", "from ")):
        index -= 1
    return lines[index - 1].strip().startswith("#")


def test_every_import_inside_a_function_says_why():
    silent = [f"{module}:{node.lineno}" for module, (tree, lines) in SOURCES.items() if module != "agent.cli"
              for node in _in_function_imports(tree) if not _says_why(lines, node.lineno)]
    assert not silent, "imports inside functions without a reason:\n" + "\n".join(sorted(silent))


@pytest.mark.parametrize("module", LIGHT_COMMANDS)
def test_light_commands_load_no_torch(module):
    probe = f"import sys, {module}; print(sorted(m for m in ('torch', 'transformers') if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
