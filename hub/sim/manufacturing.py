"""The manufacturer's reports of one batch: MES production reports and LIMS QC exports.

MES reports are cumulative, as real ones are: every report repeats the segments already done
(the connector keys events by segment, so the hub drops the repeats). QC results are in
specification for the product profile, each export sent shortly after its results.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from hub.chain.profiles import QcSpec
from hub.sim.facts import LimsExport, LimsResult, MesPerformance, MesSegment
from hub.sim.timeline import D, H, M

if TYPE_CHECKING:
    from hub.sim.journey import Journey

_METHODS = {
    "STERILITY": "rapid sterility (BacT/ALERT 7 d)",
    "MYCOPLASMA": "qPCR (Ph. Eur. 2.6.7)",
    "ENDOTOXIN": "kinetic chromogenic LAL",
    "VIABILITY": "flow cytometry 7-AAD",
    "CD3_PCT": "flow cytometry",
    "CAR_PCT": "flow cytometry",
    "VCN": "ddPCR",
    "POTENCY_IFNG": "IFN-gamma release co-culture",
    "ID_FLOW": "flow cytometry identity",
}


def segments(j: Journey) -> tuple[MesSegment, ...]:
    """The process segments of the batch between manufacturing start and cryopreservation."""
    start, cryo, n = j.t.mfg_start, j.t.cryo, j.p.n
    plan = (
        ("010", "TCELL-SELECTION", start, start + 5 * H, f"CLINIMACS-PRODIGY-{n % 9 + 1:02d}"),
        ("020", "TCELL-ACTIVATION", start + 5 * H + 30 * M, start + D, "INC-07"),
        ("030", "TRANSDUCTION", start + D + H, start + 2 * D, "BSC-03"),
        ("040", "EXPANSION", start + 2 * D + H, cryo - 6 * H, "G-REX-11"),
        ("050", "CRYOPRESERVATION", cryo - 5 * H, cryo, "CRF-KRYO-750-02"),
    )
    return tuple(
        MesSegment(
            seg_id=f"PR-{j.p.order_id}-{code}",
            process=process,
            start=begin,
            end=end,
            person=f"op-{(n * 7 + i) % 40 + 2200}",
            equipment=equipment,
        )
        for i, (code, process, begin, end, equipment) in enumerate(plan)
    )


def performance_reports(j: Journey) -> list[MesPerformance]:
    """A report at start, one after each segment, and the final one (completed, cryo)."""
    p, t, cdmo = j.p, j.t, j.net.cdmo
    segs = segments(j)
    moments = [t.mfg_start + 10 * M] + [s.end + 15 * M for s in segs[:-1] if s.end]
    reports: list[MesPerformance] = []
    for k, published in enumerate([*moments, t.mfg_complete + 10 * M], start=1):
        final = published > t.mfg_complete
        bod = f"BOD-PHL-{j.net.seed % 1000:03d}-{p.n:05d}-{j.seq('bod'):02d}"
        reports.append(
            MesPerformance(
                coi=p.coi, step=f"mfg.report.{k}", received=published + 2 * M,
                zone=j.cdmo_zone, bod=bod,
                perf_id=f"PP-PHL-{p.n:05d}-{k:02d}", response_id=f"PR-{p.order_id}",
                order_id=p.order_id, site=cdmo.site.code, sender=cdmo.mes_sender,
                published=published, start=t.mfg_start, segments=segs,
                state="Completed" if final else "Running",
                end=t.mfg_complete if final else None, din=p.din, batch=p.batch,
                bag_id=f"{p.batch}-BAG1", volume_ml=60 + j.rng.randrange(0, 30),
                expiry=t.expires,
            )
        )  # fmt: skip
    return reports


def in_spec(test: str, spec: QcSpec, wiggle: float) -> tuple[float | None, str | None]:
    """A result comfortably inside ``spec``: (value, None) or (None, accepted text)."""
    if spec.low is not None and spec.high is not None:
        return round((spec.low + spec.high) / 2 + wiggle * (spec.high - spec.low) / 10, 2), None
    if spec.low is not None:
        return round(spec.low * 1.15 + abs(wiggle) * 3 + 2, 1), None
    if spec.high is not None:
        return round(spec.high * (0.2 + abs(wiggle) / 10), 2), None
    return None, spec.accepted[0].capitalize()


def spec_text(spec: QcSpec, text: str | None) -> str:
    unit = f" {spec.unit}" if spec.unit else ""
    if text is not None:
        return text
    if spec.low is not None and spec.high is not None:
        return f"{spec.low:g}-{spec.high:g}{unit}"
    if spec.low is not None:
        return f">= {spec.low:g}{unit}"
    return f"<= {spec.high:g}{unit}"


def qc_result(j: Journey, test: str, at: datetime, k: int) -> LimsResult:
    spec = j.profile.qc_tests[test]
    value, text = in_spec(test, spec, j.rng.uniform(-1, 1))
    return LimsResult(
        result_id=f"R-{j.net.seed % 1000:03d}{j.p.n:05d}{k:02d}",
        sample_id=f"S-{j.p.n:05d}-FP-{k:02d}",
        test=test,
        method=_METHODS.get(test, "per SOP"),
        value=value,
        text=text,
        unit=spec.unit,
        low=spec.low,
        high=spec.high,
        spec_text=spec_text(spec, text),
        status="FINAL",
        at=at,
        analyst=f"qc-analyst-{j.p.n % 30 + 10:03d}",
        reviewer=f"qc-reviewer-{j.p.n % 4 + 1:03d}",
    )


def lims_exports(j: Journey) -> list[LimsExport]:
    """One export per result time (results reported together travel together)."""
    by_time: dict[datetime, list[str]] = {}
    for test, at in j.t.qc:
        by_time.setdefault(at, []).append(test)
    exports: list[LimsExport] = []
    k = 0
    for at, tests in sorted(by_time.items()):
        results = []
        for test in tests:
            k += 1
            results.append(qc_result(j, test, at, k))
        exports.append(
            LimsExport(
                coi=j.p.coi, step=f"qc.{'+'.join(tests)}", received=at + 20 * M,
                zone=j.cdmo_zone,
                export_id=f"LIMS-PHL-{j.net.seed % 1000:03d}-{j.p.n:05d}-{len(exports) + 1:02d}",
                lab=j.net.cdmo.lab, fmt="json" if j.rng.random() < 0.4 else "csv",
                batch=j.p.batch, with_coi=j.rng.random() < 0.7, results=tuple(results),
            )
        )  # fmt: skip
    return exports
