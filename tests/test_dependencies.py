"""Every package declares exactly the distributions its source imports.

Imports are read with `source_imports` from every module under `packages/<name>/src`
(function-level imports included; relative ones resolve to the package itself, which is left out
like the standard library) and mapped to distributions with
`importlib.metadata.packages_distributions`. A distribution a package needs without importing
it, or imports in code that runs in another interpreter, is listed in `NOT_IMPORTED` / `FOREIGN`
with the reason.
"""

from __future__ import annotations

import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest
from source_imports import imported_modules

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = sorted(p.parent for p in ROOT.glob("packages/*/pyproject.toml"))

#: Declared, used, but never imported by the package's own code.
NOT_IMPORTED: dict[str, dict[str, str]] = {
    "vima-train": {
        "wandb": "Lightning's WandbLogger imports it (train.wandb)",
        "sentencepiece": "transformers' T5 tokenizer needs it (the t5 extra)",
    },
}
#: Imported only by code that runs in another interpreter, so not a dependency.
FOREIGN: dict[str, dict[str, str]] = {
    "vima-eval": {"vima-bench": "online/vima_bench_server.py runs in VIMA-Bench's interpreter"},
}


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirement_name(requirement: str) -> str:
    return _norm(re.split(r"[<>=!~\[ ;]", requirement, maxsplit=1)[0])


def declared(package: Path) -> set[str]:
    """Distributions in `dependencies` and every optional extra of the package."""
    meta = tomllib.loads((package / "pyproject.toml").read_text())["project"]
    names = {_requirement_name(r) for r in meta.get("dependencies", [])}
    for extra in meta.get("optional-dependencies", {}).values():
        names |= {_requirement_name(r) for r in extra}
    return names


def imported(package: Path) -> set[str]:
    """Distributions the package's source imports (itself excluded)."""
    distributions = packages_distributions()
    found: set[str] = set()
    src = package / "src"
    for path in sorted(src.rglob("*.py")):
        for module in imported_modules(path, src):
            top = module.split(".")[0]
            if top not in sys.stdlib_module_names:
                found |= {_norm(d) for d in distributions.get(top, [top])}
    own = tomllib.loads((package / "pyproject.toml").read_text())["project"]["name"]
    return found - {_norm(own)}


@pytest.mark.parametrize("package", PACKAGES, ids=[p.name for p in PACKAGES])
def test_declared_dependencies_are_the_imported_ones(package: Path) -> None:
    name = package.name
    uses = imported(package) - set(FOREIGN.get(name, {}))
    needs = declared(package) - set(NOT_IMPORTED.get(name, {}))
    assert sorted(uses - needs) == [], f"{name} imports undeclared distributions"
    assert sorted(needs - uses) == [], f"{name} declares distributions it never imports"


def test_the_exceptions_are_current() -> None:
    for name, exceptions in NOT_IMPORTED.items():
        package = ROOT / "packages" / name
        assert set(exceptions) <= declared(package) - imported(package), name
    for name, exceptions in FOREIGN.items():
        assert set(exceptions) <= imported(ROOT / "packages" / name) - declared(
            ROOT / "packages" / name
        )


def test_the_check_sees_a_missing_and_a_spare_dependency(tmp_path: Path) -> None:
    package = tmp_path / "demo"
    (package / "src" / "demo").mkdir(parents=True)
    (package / "pyproject.toml").write_text(
        '[project]\nname = "demo"\ndependencies = ["numpy>=1", "polars"]\n'
    )
    (package / "src" / "demo" / "m.py").write_text(
        "import json\nimport numpy as np\nfrom PIL import Image\nfrom . import other\n"
    )
    assert imported(package) == {"numpy", "pillow"}
    assert declared(package) == {"numpy", "polars"}
