"""The scripts/ files (no .py ending) as modules, for the tests of what they compute."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import sys
from types import ModuleType

from support import REPO


def load_script(name: str) -> ModuleType:
    """scripts/<name> imported as a module (its `if __name__ == "__main__"` part does not run)."""
    module_name = "storewatch_script_" + name.replace("-", "_")
    if module_name in sys.modules:
        return sys.modules[module_name]
    loader = importlib.machinery.SourceFileLoader(module_name, str(REPO / "scripts" / name))
    spec = importlib.util.spec_from_loader(module_name, loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    loader.exec_module(module)
    return module
