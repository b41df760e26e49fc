"""``python -m hub.validation report``: the traceability matrix, the summary report and the gate
on high-risk requirements, from results files written here (the real register and catalogue)."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from hub.settings import REPO_ROOT
from hub.validation.__main__ import main
from hub.validation.register import load_register
from hub.validation.results import Evidence, RunRecord

pytestmark = pytest.mark.req("REQ-P11-VALIDATION", "REQ-A11-PERIODIC")

REGISTER = load_register(REPO_ROOT / "docs" / "validation" / "requirements.yaml")
COMMIT = "0123456789abcdef0123456789abcdef01234567"
T = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def _evidence(rid: str, outcome: str = "passed", message: str = "") -> Evidence:
    return Evidence.model_validate(
        {
            "nodeid": f"tests/unit/test_x.py::test_{rid.lower()}",
            "requirements": [rid],
            "outcome": outcome,
            "message": message,
        }
    )


def _covering(*, leave_out: str = "") -> list[Evidence]:
    """One passing test per requirement in force, but ``leave_out``."""
    return [
        _evidence(r.id) for r in REGISTER.requirements if r.status == "active" and r.id != leave_out
    ]


def _report(
    tmp_path: Path, tests: list[Evidence], register: str = "docs/validation/requirements.yaml"
) -> tuple[int, Path]:
    run = RunRecord(
        commit=COMMIT,
        dirty=False,
        started_at=T,
        finished_at=T + timedelta(minutes=9),
        exit_status=0,
        args=("-m", "not integration"),
        environment={"python": "3.11.9", "pytest": "9.2.0"},
        register_file=register,
        tests=tuple(tests),
    )
    results = tmp_path / "results.json"
    run.write(results)
    out = tmp_path / "report"
    return main(["report", str(results), "--out", str(out)]), out


def test_every_high_risk_requirement_with_a_passing_test_passes_the_gate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = _report(tmp_path, _covering())
    assert code == 0
    assert "validation gate passed" in capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir()) == [
        "summary.html",
        "traceability.csv",
        "traceability.html",
        "validation.json",
    ]
    digest = json.loads((out / "validation.json").read_text())
    assert (digest["gate"], digest["blocking"], digest["commit"]) == ("pass", [], COMMIT)


def test_an_uncovered_high_risk_requirement_fails_the_gate_by_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = _report(tmp_path, _covering(leave_out="REQ-EXC-SHIPMENT_LOST"))
    assert code == 1
    err = capsys.readouterr().err
    assert "REQ-EXC-SHIPMENT_LOST (high risk) A shipment reported lost" in err
    assert "no test is marked for it" in err
    digest = json.loads((out / "validation.json").read_text())
    assert digest["blocking"] == [
        {"id": "REQ-EXC-SHIPMENT_LOST", "why": "no test is marked for it"}
    ]
    summary = (out / "summary.html").read_text()
    uncovered = summary.split("<h2>5.", 1)[1].split("<h2>6.", 1)[0]
    assert "REQ-EXC-SHIPMENT_LOST" in uncovered


def test_skipped_or_expected_failures_are_no_evidence(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tests = _covering(leave_out="REQ-INV-05")
    tests += [_evidence("REQ-INV-05", "skipped"), _evidence("REQ-INV-05", "xfailed")]
    code, _ = _report(tmp_path, tests)
    assert code == 1
    assert "REQ-INV-05 (high risk)" in capsys.readouterr().err


def test_a_failing_test_is_a_deviation_and_fails_its_high_risk_requirement(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    failing = Evidence(
        nodeid="tests/unit/test_y.py::test_no_mrn",
        requirements=("REQ-INV-05",),
        outcome="failed",
        message="AssertionError: MRN <12345> on v2v.events",
    )
    code, out = _report(tmp_path, [*_covering(), failing])
    assert code == 1
    assert "REQ-INV-05 (high risk)" in capsys.readouterr().err
    summary = (out / "summary.html").read_text()
    deviations = summary.split("<h2>4.", 1)[1].split("<h2>5.", 1)[0]
    assert "tests/unit/test_y.py::test_no_mrn" in deviations
    assert "MRN &lt;12345&gt; on v2v.events" in deviations  # escaped, never raw markup
    assert "1 failing test" in summary


def test_an_uncovered_medium_requirement_is_reported_but_does_not_gate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert REGISTER.by_id()["REQ-INV-03"].risk == "medium"
    code, out = _report(tmp_path, _covering(leave_out="REQ-INV-03"))
    assert code == 0
    medium = [r for r in REGISTER.requirements if r.risk == "medium" and r.status != "planned"]
    total = len(medium)
    assert f"medium-risk requirements: {total} (1 not covered, {total - 1} pass" in (
        capsys.readouterr().out
    )
    summary = (out / "summary.html").read_text()
    assert "REQ-INV-03" in summary.split("<h3>medium risk: 1</h3>", 1)[1].split("<h3>", 1)[0]


def test_planned_requirements_are_shown_as_not_yet_covered_and_never_gate(
    tmp_path: Path,
) -> None:
    # the register with one requirement whose feature is not built yet
    text = (REPO_ROOT / "docs" / "validation" / "requirements.yaml").read_text(encoding="utf-8")
    feature = "    feature: hub/audit point-in-time reconstruction"
    assert feature in text
    register = tmp_path / "requirements.yaml"
    register.write_text(text.replace(feature, "    status: planned\n" + feature), encoding="utf-8")
    planned = ["REQ-P11-RECONSTRUCT"]
    tests = [e for e in _covering() if planned[0] not in e.requirements]
    code, out = _report(tmp_path, tests, str(register))
    assert code == 0
    section = (out / "summary.html").read_text().split("<h2>6.", 1)[1].split("<h2>7.", 1)[0]
    for rid in planned:
        assert f"#{rid}" in section
    assert section.count("(not covered)") == len(planned)


def test_the_matrix_traces_requirement_to_tests_result_and_commit(tmp_path: Path) -> None:
    tests = _covering(leave_out="REQ-EXC-SHIPMENT_LOST")
    tests.append(_evidence("REQ-EXC-QC_OUT_OF_SPEC", "failed"))
    _, out = _report(tmp_path, tests)
    with (out / "traceability.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert {r["commit"] for r in rows} == {COMMIT}
    lost = [r for r in rows if r["requirement"] == "REQ-EXC-SHIPMENT_LOST"]
    assert [(r["test"], r["outcome"], r["result"]) for r in lost] == [("", "", "not covered")]
    qc = [(r["outcome"], r["result"]) for r in rows if r["requirement"] == "REQ-EXC-QC_OUT_OF_SPEC"]
    assert qc == [("passed", "fail"), ("failed", "fail")]
    assert {r["requirement"] for r in rows} == REGISTER.ids
    html = (out / "traceability.html").read_text()
    assert 'id="REQ-EXC-QC_OUT_OF_SPEC"' in html
    assert COMMIT[:12] in html


def test_results_that_name_an_unknown_requirement_are_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _ = _report(tmp_path, [*_covering(), _evidence("REQ-NOT-IN-REGISTER")])
    assert code == 2
    err = capsys.readouterr().err
    assert "REQ-NOT-IN-REGISTER (in tests/unit/test_x.py::test_req-not-in-register)" in err


def test_an_unreadable_results_file_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "results.json"
    bad.write_text('{"format": 1}')
    assert main(["report", str(bad), "--out", str(tmp_path / "out")]) == 2
    assert "not a validation results file" in capsys.readouterr().err
    assert main(["report", str(tmp_path / "nope.json"), "--out", str(tmp_path / "out")]) == 2
