"""The requirements register: its own consistency, and one requirement per exception code of
the catalogue, so a new code without a requirement fails the suite."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from hub.settings import REPO_ROOT
from hub.validation.__main__ import main
from hub.validation.register import (
    RegisterError,
    catalogue_problems,
    catalogue_severities,
    load_register,
)

pytestmark = pytest.mark.req("REQ-P11-VALIDATION")

REGISTER = REPO_ROOT / "docs" / "validation" / "requirements.yaml"


def _requirement(rid: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": rid,
        "title": "t",
        "sources": ["a"],
        "risk": "high",
        "impact": "patient safety",
        "rationale": "r",
        "feature": "f",
        **extra,
    }


def _write(tmp_path: Path, register: dict[str, Any]) -> Path:
    path = tmp_path / "requirements.yaml"
    path.write_text(yaml.safe_dump(register))
    return path


def _minimal() -> dict[str, Any]:
    return {
        "version": 1,
        "sources": {"a": {"document": "D", "title": "clause a"}},
        "requirements": [_requirement("REQ-A")],
    }


@pytest.mark.req("REQ-EXC-CATALOGUE")
def test_the_register_holds_one_requirement_per_code_of_the_catalogue() -> None:
    register = load_register(REGISTER)
    severities = catalogue_severities()
    assert catalogue_problems(register, severities) == []
    codes = {r.exception_code for r in register.requirements if r.exception_code}
    assert codes == set(severities)


def test_authentication_roles_signatures_and_secrets_are_in_force() -> None:
    by_id = load_register(REGISTER).by_id()
    in_force = ("AUTH", "ROLES", "ESIG", "AUDIT-CHAIN", "RECONSTRUCT")
    for rid in [*(f"REQ-P11-{r}" for r in in_force), "REQ-SEC-NO-DEFAULT-SECRETS"]:
        assert by_id[rid].status == "active"
        assert by_id[rid].risk == "high"


def test_a_new_code_without_a_requirement_is_named() -> None:
    register = load_register(REGISTER)
    severities = {**catalogue_severities(), "SPLIT_BAG": "CRITICAL"}
    assert catalogue_problems(register, severities) == [
        "exception code SPLIT_BAG (CRITICAL) has no requirement"
    ]


def test_a_risk_below_the_code_severity_and_a_code_not_in_the_catalogue_are_named(
    tmp_path: Path,
) -> None:
    raw = _minimal()
    raw["requirements"] = [
        _requirement("REQ-EXC-CUSTODY_GAP", exception_code="CUSTODY_GAP", risk="medium"),
        _requirement("REQ-EXC-GONE", exception_code="GONE"),
    ]
    register = load_register(_write(tmp_path, raw))
    problems = catalogue_problems(register, {"CUSTODY_GAP": "HIGH"})
    assert problems == [
        "REQ-EXC-CUSTODY_GAP: risk medium is lower than high, "
        "which a HIGH exception code calls for",
        "REQ-EXC-GONE: exception code GONE is not in the catalogue",
    ]


def test_check_prints_an_entry_to_start_from_for_a_missing_code(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    raw = yaml.safe_load(REGISTER.read_text())
    raw["requirements"] = [
        r for r in raw["requirements"] if r.get("exception_code") != "SHIPMENT_LOST"
    ]
    assert main(["check", "--register", str(_write(tmp_path, raw))]) == 1
    err = capsys.readouterr().err
    assert "exception code SHIPMENT_LOST (CRITICAL) has no requirement" in err
    stub = yaml.safe_load(err.split("(add under requirements:):\n", 1)[1])
    assert stub[0]["id"] == "REQ-EXC-SHIPMENT_LOST"
    assert (stub[0]["exception_code"], stub[0]["risk"]) == ("SHIPMENT_LOST", "high")
    assert main(["check", "--register", str(REGISTER)]) == 0


def _add(**fields: Any) -> Any:
    return lambda r: r["requirements"].append(_requirement(**fields))


def _set(**fields: Any) -> Any:
    return lambda r: r["requirements"][0].update(fields)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (_add(rid="REQ-A"), "REQ-A: id used twice"),
        (_add(rid="REQ-B", sources=["b"]), "'b' is not declared"),
        (lambda r: r["sources"].update(c={"document": "D", "title": "c"}), "'c' is cited by no"),
        (_add(rid="req-lower"), "String should match pattern"),
        (_set(risk="severe"), "Input should be 'high', 'medium' or 'low'"),
        (_set(rationale="one\ntwo"), "must be one line"),
        (_set(status="someday"), "'active' or 'planned'"),
        (_set(owner="x"), "Extra inputs are not permitted"),
        (lambda r: r["requirements"][0].pop("rationale"), "rationale"),
    ],
)
def test_an_invalid_register_is_refused_with_its_file_and_reason(
    tmp_path: Path, change: Any, message: str
) -> None:
    register = _minimal()
    load_register(_write(tmp_path, register))  # the minimal one is valid
    change(register)
    path = _write(tmp_path, register)
    with pytest.raises(RegisterError, match="requirements register") as caught:
        load_register(path)
    assert str(path) in str(caught.value)
    assert message in str(caught.value)


def test_a_missing_register_is_an_error_not_an_empty_one(tmp_path: Path) -> None:
    with pytest.raises(RegisterError, match="cannot be read"):
        load_register(tmp_path / "nope.yaml")
