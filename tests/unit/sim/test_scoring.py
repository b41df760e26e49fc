"""Scoring over seeds: the per-code sums, the JSON and the text of ``python -m hub.sim.scoring``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hub.sim.scoring import main, score_seeds


def test_ordered_arrival_scores_perfectly_over_two_seeds() -> None:
    report, passed = score_seeds([1, 2], 10, "ordered", jobs=1)
    assert passed
    assert report["seeds_passed"] == 2
    rows = {row["code"]: row for row in report["codes"]}
    assert all(row["precision"] == row["recall"] == 1.0 for row in rows.values())
    assert sum(row["injected"] for row in rows.values()) > 0
    assert all(
        row["withdrawn_clean"]["count"] == row["open_on_clean"] == 0 for row in rows.values()
    )


def test_the_command_writes_json_and_reports_realistic_arrival_honestly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "score.json"
    code = main(
        ["--seeds", "1", "--first-seed", "7", "--patients", "12", "--jobs", "1", "--json", str(out)]
    )
    text = capsys.readouterr().out
    report = json.loads(out.read_text())
    assert report["arrival"] == "realistic"
    assert "1 seeds x 12 patients, realistic arrival" in text
    rows = {row["code"]: row for row in report["codes"]}
    assert rows["LATE_EVENT"]["recall"] == 1.0  # the records sent beyond lateness
    assert code == (0 if report["seeds_passed"] == 1 else 1)
