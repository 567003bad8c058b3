"""Every package of the workspace stays readable and inside its boundaries (issue 27): no module
over 500 lines or function over 60 (a newcomer reads them top down); each package imports only
the workspace packages it builds on (`MAY_IMPORT`), the packages of `WITHOUT_TORCH` never import
torch, and no package imports another library's private modules.

Imports are read with `source_imports` (function-level and relative ones included). What each
package declares is checked by `test_dependencies`, vima-eval's rooms by
`eval/test_eval_structure`.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from source_imports import imported_modules, module_name

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted(ROOT.glob("packages/*/src"))
MODULES = [(src, path) for src in SOURCES for path in sorted(src.rglob("*.py"))]
IDS = [module_name(path, src) for src, path in MODULES]
MAX_FILE_LINES = 500
MAX_FUNCTION_LINES = 60

#: The workspace packages each package may import besides itself.
MAY_IMPORT: dict[str, frozenset[str]] = {
    "vima_schema": frozenset(),
    "vima_convert": frozenset({"vima_schema"}),
    "vima_tokenize": frozenset({"vima_schema"}),
    "vima_sim": frozenset({"vima_schema"}),
    "vima_train": frozenset({"vima_schema", "vima_tokenize"}),
    "vima_eval": frozenset({"vima_schema", "vima_tokenize", "vima_sim", "vima_train"}),
}
#: Packages that never import torch.
WITHOUT_TORCH = frozenset({"vima_schema", "vima_convert", "vima_tokenize", "vima_sim"})


def boundary_crossings(path: Path, src: Path) -> list[str]:
    """The imports of file `path` (under `src`) that its package may not make."""
    own = path.relative_to(src).parts[0]
    forbidden = set(MAY_IMPORT) - MAY_IMPORT[own] - {own}
    if own in WITHOUT_TORCH:
        forbidden.add("torch")
    return [
        name for name in sorted(imported_modules(path, src)) if name.partition(".")[0] in forbidden
    ]


def oversized(path: Path) -> list[str]:
    """The file's length when over `MAX_FILE_LINES`, each function over `MAX_FUNCTION_LINES`."""
    text = path.read_text(encoding="utf-8")
    found = []
    if len(text.splitlines()) > MAX_FILE_LINES:
        found.append(f"{len(text.splitlines())} lines")
    for node in ast.walk(ast.parse(text, str(path))):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            assert node.end_lineno is not None
            lines = node.end_lineno - node.lineno + 1
            if lines > MAX_FUNCTION_LINES:
                found.append(f"{node.name} ({lines} lines)")
    return found


def private_imports(path: Path, src: Path) -> list[str]:
    """Imports of file `path` (under `src`) of another library's `_private` modules or names."""
    return [
        name
        for name in sorted(imported_modules(path, src))
        if not name.startswith("vima_")
        and any(part.startswith("_") and not part.startswith("__") for part in name.split("."))
    ]


def test_every_package_has_its_boundary() -> None:
    packages = {path.relative_to(src).parts[0] for src, path in MODULES}
    assert packages == set(MAY_IMPORT)


@pytest.mark.parametrize(("src", "path"), MODULES, ids=IDS)
def test_imports_stay_inside_the_boundaries(src: Path, path: Path) -> None:
    assert boundary_crossings(path, src) == []


@pytest.mark.parametrize(("src", "path"), MODULES, ids=IDS)
def test_modules_and_functions_stay_short(src: Path, path: Path) -> None:
    assert oversized(path) == []


@pytest.mark.parametrize(("src", "path"), MODULES, ids=IDS)
def test_no_private_imports_of_other_libraries(src: Path, path: Path) -> None:
    assert private_imports(path, src) == []


def test_the_checks_see_crossings_long_code_and_private_imports(tmp_path: Path) -> None:
    package = tmp_path / "vima_convert"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "sub" / "__init__.py").write_text("from .. import build\n")
    module = package / "sub" / "m.py"
    body = "    x = 1\n" * (MAX_FUNCTION_LINES - 2)
    module.write_text(
        "from ..build import plan\nfrom . import *\nfrom numpy._core import umath\n"
        f"def f():\n    import torch\n    from vima_tokenize.text import load_tokenizer\n{body}"
    )
    (package / "long.py").write_text("x = 1\n" * (MAX_FILE_LINES + 1))
    assert imported_modules(package / "sub" / "__init__.py", tmp_path) == {
        "vima_convert",
        "vima_convert.build",
    }
    assert {"vima_convert.build.plan", "vima_convert.sub"} <= imported_modules(module, tmp_path)
    assert boundary_crossings(module, tmp_path) == [
        "torch",
        "vima_tokenize.text",
        "vima_tokenize.text.load_tokenizer",
    ]
    assert oversized(module) == [f"f ({MAX_FUNCTION_LINES + 1} lines)"]
    assert oversized(package / "long.py") == [f"{MAX_FILE_LINES + 1} lines"]
    assert private_imports(module, tmp_path) == ["numpy._core", "numpy._core.umath"]


def test_a_relative_import_beyond_the_top_package_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "vima_sim").mkdir()
    (tmp_path / "vima_sim" / "m.py").write_text("from .. import vima_train\n")
    with pytest.raises(ValueError, match="beyond the top-level package"):
        imported_modules(tmp_path / "vima_sim" / "m.py", tmp_path)
