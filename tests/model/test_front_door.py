"""The package's front door: model/__init__.py names the public API, and every error the package raises
on purpose belongs to the ModelError family. (That agent/ uses only the front door: tests/test_layers.py.)"""
from __future__ import annotations

import importlib
import inspect
import pkgutil

import model
import model.errors as errors


def test_every_public_name_is_there():
    missing = [name for name in model.__all__ if not hasattr(model, name)]
    assert not missing and len(set(model.__all__)) == len(model.__all__), missing


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
