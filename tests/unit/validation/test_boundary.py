"""The validation tooling stays outside the product: a product module that imports it breaks
the import-linter contract (the same check as tests/unit/test_layering.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from hub.settings import REPO_ROOT
from tests.unit.test_layering import lint_imports

pytestmark = pytest.mark.req("REQ-P11-VALIDATION", "REQ-INV-03")


def test_a_product_module_importing_the_validation_tooling_breaks_its_contract(
    tmp_path: Path,
) -> None:
    for part in ("hub", "connectors"):
        shutil.copytree(REPO_ROOT / part, tmp_path / part, ignore=shutil.ignore_patterns("*.pyc"))
    shutil.copy(REPO_ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    target = tmp_path / "hub" / "cli.py"
    target.write_text(target.read_text() + "\nimport hub.validation.trace  # noqa\n")
    result = lint_imports(tmp_path)
    assert result.returncode != 0
    broken = result.stdout.split("Broken contracts", 1)[-1]
    assert "the product never imports the validation tooling" in broken, result.stdout
