"""Every module-level import of the package is a declared runtime dependency (or the standard
library): a dev-only package imported at the top of a module would break `responsa serve` on a
machine installed without the test tools. Optional extras (the embedded model's runtimes) are
imported inside functions, so they are not checked here."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "responsa"
# Modules of the optional `local` extra: imported only inside functions, once the provider is built;
# and the pytest plugin, which only pytest loads (through its entry point), so pytest is there.
EXTRA_MODULES = {"responsa.providers.local_embedder", "responsa.testing.pytest_plugin"}


def _runtime_distributions() -> set[str]:
    """responsa's requirements without extras, and theirs, recursively (names normalized)."""
    seen: set[str] = set()
    todo = ["responsa"]
    while todo:
        name = todo.pop()
        try:
            requires = importlib.metadata.requires(name) or []
        except importlib.metadata.PackageNotFoundError:
            continue
        for requirement in requires:
            if "extra ==" in requirement:
                continue
            dist = re.split(r"[\s\[<>=!~;]", requirement, maxsplit=1)[0]
            normalized = re.sub(r"[-_.]+", "-", dist).lower()
            if normalized not in seen:
                seen.add(normalized)
                todo.append(dist)
    return seen


def _top_level_imports(path: Path) -> set[str]:
    """Dotted names imported at module level (not inside functions)."""
    names: set[str] = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def _module(path: Path) -> str:
    return ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)


def test_module_level_imports_are_runtime_dependencies() -> None:
    runtime = _runtime_distributions()
    providers = importlib.metadata.packages_distributions()
    missing: dict[str, str] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        if _module(path) in EXTRA_MODULES:
            continue
        for dotted in _top_level_imports(path):
            assert dotted not in EXTRA_MODULES, f"{path}: imports {dotted} at module level"
            name = dotted.split(".")[0]
            if name in sys.stdlib_module_names or name in ("responsa", "__future__"):
                continue
            dists = {re.sub(r"[-_.]+", "-", d).lower() for d in providers.get(name, [])}
            if not dists & runtime:
                missing[f"{path.relative_to(PACKAGE.parent)}: {name}"] = ", ".join(sorted(dists)) or "?"
    assert not missing, missing
