"""What a source file imports, read with `ast` without importing it: the one import reader of the
structure and dependency tests.

Every import counts, function-level ones included (`ast.walk`). Relative imports are resolved
against the module's package, so `from ..data import store` in `vima_train/model/policy.py`
reads as `vima_train.data` and `vima_train.data.store`.
"""

from __future__ import annotations

import ast
from pathlib import Path


def module_name(path: Path, src: Path) -> str:
    """Dotted name of the module in file `path` under the import root `src`."""
    parts = path.relative_to(src).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path, src: Path) -> set[str]:
    """Absolute names the module in file `path` (under the import root `src`) imports.

    `import a.b` gives `a.b`; `from m import x` gives `m` and `m.x` (`x` may be a submodule),
    `from m import *` only `m`.
    """
    module = module_name(path, src)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(node, package, path)
            names.add(base)
            names |= {f"{base}.{alias.name}" for alias in node.names if alias.name != "*"}
    return names


def _absolute(node: ast.ImportFrom, package: str, path: Path) -> str:
    """The module a `from ... import` reads from, relative levels resolved against `package`."""
    if not node.level:
        assert node.module is not None
        return node.module
    parts = package.split(".") if package else []
    if node.level > len(parts):
        raise ValueError(f"{path}:{node.lineno}: relative import beyond the top-level package")
    base = parts[: len(parts) - node.level + 1]
    return ".".join([*base, node.module] if node.module else base)
