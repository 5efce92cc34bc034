"""The layers of the design hold: the import-linter contracts of pyproject.toml, run by `lint-imports`.

`lint-imports` runs as its own process, as a developer or CI would run it, with `--no-cache` so that
it writes nothing into the tree it checks. To show that the checks can fail, the last test runs it
on copies of the packages with one forbidden import added: the real tree is never touched, so the
tests are safe beside each other under pytest-xdist.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
CONFIG = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]
LAYERS = next(c["name"] for c in CONFIG["contracts"] if c["type"] == "layers")
NOT_CHECKED = {"benchmarks"}  # not shipped; measures the packages from outside


def lint_imports(folder: Path) -> subprocess.CompletedProcess:
    """`lint-imports` on the packages in `folder` (found there first: it is the working folder)."""
    assert LINT_IMPORTS.exists(), f"import-linter is not installed next to {sys.executable}"
    env = {**os.environ, "PYTHONPATH": str(folder), "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=folder, env=env, capture_output=True,
                          text=True, timeout=300)


def test_every_package_of_the_project_is_under_the_contracts():
    """A package missing from root_packages would be checked by no contract (web, when it arrives)."""
    packages = {init.parent.name for init in REPO.glob("*/__init__.py")} - NOT_CHECKED
    assert packages == set(CONFIG["root_packages"]), \
        "list every top-level package in [tool.importlinter] root_packages of pyproject.toml"


def test_the_code_keeps_every_contract():
    done = lint_imports(REPO)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"Contracts: {len(CONFIG['contracts'])} kept, 0 broken." in done.stdout, done.stdout


ENTRY_POINTS = next(c["name"] for c in CONFIG["contracts"] if c["id"] == "entry-points-not-storage")


@pytest.mark.parametrize(("module", "contract", "complaint"), [
    # the pure domain importing the database runs up the layers
    ("states/formatting.py", LAYERS, "states is not allowed to import storage"),
    # the command line is above storage, but an entry point: it calls the service layer
    ("ideaflow/cli.py", ENTRY_POINTS, "ideaflow.cli is not allowed to import storage"),
], ids=["domain", "command-line"])
def test_an_import_of_storage_where_it_does_not_belong_breaks_a_contract(tmp_path, module, contract, complaint):
    """The same check on a copy with one import of storage added: it must fail, name the contract and say where."""
    for package in CONFIG["root_packages"]:
        shutil.copytree(REPO / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", tmp_path)
    with (tmp_path / module).open("a", encoding="utf-8") as source:
        source.write("\nimport storage  # does not belong here\n")

    done = lint_imports(tmp_path)

    assert done.returncode == 1, done.stdout + done.stderr
    broken = done.stdout.split("Broken contracts", 1)[-1]
    assert " ".join(contract.split()) in " ".join(broken.split()), done.stdout
    assert complaint in broken
    assert f"{module.removesuffix('.py').replace('/', '.')} -> storage" in broken
