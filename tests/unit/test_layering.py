"""The layering of DESIGN.md holds only while a test fails when it is broken: the project's
import-linter contracts pass, and a copy of the tree with one wrong-way import fails them."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from hub.settings import REPO_ROOT

pytestmark = pytest.mark.req("REQ-INV-03", "REQ-A11-CHANGE")

LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=root,
        env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_the_project_keeps_every_contract() -> None:
    result = lint_imports(REPO_ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "wrong_way", "contract"),
    [
        ("hub/chain/engine.py", "import hub.runtime.app", "the engine is pure"),
        ("hub/chain/catalogue.py", "import hub.cases.models", "the engine is pure"),
        ("hub/flow/core.py", "import redis", "the flow core is pure"),
        ("connectors/courier/normalise.py", "import hub.chain.engine", "connectors know"),
        ("hub/sim/offline.py", "import hub.runtime.context", "the simulator and replay"),
        ("hub/auth/gate.py", "import hub.runtime.app", "auth decides"),
    ],
)
def test_a_wrong_way_import_breaks_its_contract(
    tmp_path: Path, module: str, wrong_way: str, contract: str
) -> None:
    for part in ("hub", "connectors"):
        shutil.copytree(REPO_ROOT / part, tmp_path / part, ignore=shutil.ignore_patterns("*.pyc"))
    shutil.copy(REPO_ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    target = tmp_path / module
    target.write_text(target.read_text() + f"\n{wrong_way}  # noqa\n")
    result = lint_imports(tmp_path)
    assert result.returncode != 0
    broken = result.stdout.split("Broken contracts", 1)[-1]
    assert contract in broken, result.stdout


def _function_lengths(package: Path) -> dict[str, int]:
    lengths = {}
    for path in sorted(package.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                where = f"{path.relative_to(REPO_ROOT)}:{node.lineno} {node.name}"
                lengths[where] = (node.end_lineno or node.lineno) - node.lineno + 1
    return lengths


def test_the_worker_stays_a_thin_adapter_over_the_flow_core() -> None:
    """The runtime wires the flow core to Faust, Kafka and Redis; decisions live in hub/flow.
    A function that grows past 80 lines there is logic that belongs in the core."""
    lengths = _function_lengths(REPO_ROOT / "hub" / "runtime")
    assert any(" create_app" in where for where in lengths)
    assert {where: n for where, n in lengths.items() if n > 80} == {}
