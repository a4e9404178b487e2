"""The package's front door: model/__init__.py names the public API, loads each name on first use, and
every error the package raises on purpose belongs to the ModelError family."""
from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import subprocess
import sys

import model
import model.errors as errors
from tests.helpers import REPO


def test_every_public_name_resolves_to_its_definition():
    for name in model.__all__:
        value = getattr(model, name)
        module = importlib.import_module(model._EXPORTS[name])
        assert value is getattr(module, name), name
    assert set(model.__all__) <= set(dir(model))


def test_light_names_load_no_torch():
    probe = ("import sys\nfrom model import HistoryPolicy, drop_oldest, ModelError\n"
             "print(sorted(m for m in ('torch', 'PIL', 'transformers') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_agent_imports_model_only_through_the_front_door():
    wrong = []
    for path in sorted((REPO / "agent").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([alias.name for alias in node.names] if isinstance(node, ast.Import)
                     else [node.module] if isinstance(node, ast.ImportFrom) and node.module else [])
            wrong += [f"{path.relative_to(REPO)}:{node.lineno} {name}" for name in names
                      if name.startswith("model.")]
    assert not wrong, "\n".join(wrong)


def _model_modules():
    for info in pkgutil.walk_packages(model.__path__, "model."):
        if not info.name.startswith("model.testing"):
            yield importlib.import_module(info.name)


def test_every_model_error_is_a_model_error():
    defined = {cls for module in _model_modules() for _, cls in inspect.getmembers(module, inspect.isclass)
               if issubclass(cls, Exception) and cls.__module__.startswith("model")}
    assert defined and all(issubclass(cls, errors.ModelError) for cls in defined), defined
    assert all(cls.__module__ == "model.errors" for cls in defined)  # one place to find them


def test_the_family_keeps_its_builtin_bases():
    assert issubclass(errors.LoadError, ValueError) and issubclass(errors.InputError, ValueError)
    assert issubclass(errors.KVBudgetError, RuntimeError)
    for child in (errors.ConfigError, errors.CheckpointError, errors.DeviceError, errors.TokenizerError,
                  errors.ChatTemplateError):
        assert issubclass(child, errors.LoadError)
    assert issubclass(errors.VideoReadError, errors.InputError)
