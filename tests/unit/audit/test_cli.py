"""``v2v audit verify`` and ``reconstruct --from`` on an export, offline; the report's HTML
and PDF; ``keygen`` and ``public-key``."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from hub.audit import keys
from hub.audit.keys import public_pem
from hub.cli import main
from tests.unit.audit.conftest import Made


@pytest.fixture
def pinned(made: Made, tmp_path: Path) -> Path:
    path = tmp_path / "trusted.pem"
    path.write_text(public_pem(made.key.public_key()))
    return path


def reconstruct_args(coi: str, at: str, export: Path, key: Path, out: Path) -> list[str]:
    return ["audit", "reconstruct", "--coi", coi, "--as-of", at, "--from", str(export),
            "--public-key", str(key), "--out", str(out)]  # fmt: skip


def test_verify_an_export_exits_0_and_1_once_tampered(
    export_dir: Path, pinned: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["audit", "verify", str(export_dir), "--public-key", str(pinned)]) == 0
    assert "VERIFIED" in capsys.readouterr().out
    path = export_dir / "records.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    rows[3]["body"]["event_type"] = "INFUSION_COMPLETED"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert main(["audit", "verify", str(export_dir), "--public-key", str(pinned), "--json"]) == 1
    verdict = json.loads(capsys.readouterr().out)
    assert verdict["ok"] is False
    assert any(p.startswith("altered: record") for p in verdict["problems"])


def test_verify_trusts_only_the_pinned_key_over_the_exports_own(
    export_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = tmp_path / "other.pem"
    keys.generate(other)
    # the export carries the signer's public key, but the pinned one decides
    assert main(["audit", "verify", str(export_dir), "--public-key", str(other)]) == 1
    assert "not the trusted key" in capsys.readouterr().out


def test_reconstruct_writes_the_report_as_html_and_pdf(
    made: Made, export_dir: Path, pinned: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    coi = made.cois[1]
    last = [r for r in made.trail.records if r["chain"] == coi][-1]
    out = tmp_path / "report"
    code = main(reconstruct_args(coi, last["at"], export_dir, pinned, out))
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert "reproduced exactly" in printed
    [html] = out.glob("*.html")
    [pdf] = out.glob("*.pdf")
    page = html.read_text()
    for text in (coi, "VERIFIED", "QC_OUT_OF_SPEC", "qp-anna", "Custody ledger", "ACKNOWLEDGED"):
        assert text in page, text
    assert pdf.read_bytes().startswith(b"%PDF-")
    assert b"/Type /Page" in pdf.read_bytes()


def test_reconstruct_of_a_tampered_export_says_so_and_exits_1(
    made: Made, export_dir: Path, pinned: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    coi = made.cois[0]
    path = export_dir / "records.jsonl"
    lines = path.read_text().splitlines()
    keep = [line for line in lines if not (f'"{coi}"' in line and '"seq": 2,' in line)]
    assert len(keep) == len(lines) - 1
    path.write_text("\n".join(keep) + "\n")
    at = made.hub.audit[-1].at + timedelta(days=1)
    out = tmp_path / "report"
    code = main(reconstruct_args(coi, at.isoformat(), export_dir, pinned, out))
    assert code == 1
    assert "NOT VERIFIED" in next(out.glob("*.html")).read_text()
    assert "deleted" in capsys.readouterr().out


def test_keygen_and_public_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    key = tmp_path / "k.pem"
    assert main(["audit", "keygen", "--out", str(key)]) == 0
    assert main(["audit", "keygen", "--out", str(key)]) == 2  # never overwritten
    monkeypatch.setenv("V2V_AUDIT_SIGNING_KEY_FILE", str(key))
    capsys.readouterr()
    assert main(["audit", "public-key"]) == 0
    assert capsys.readouterr().out.startswith("-----BEGIN PUBLIC KEY-----")
