"""Manufacturing, quality and release faults."""

from __future__ import annotations

from dataclasses import replace

from hub.sim import perturb as px
from hub.sim.facts import LimsExport, MesPerformance, QmsDeviation
from hub.sim.faults.base import Ctx, Effect, Facts, fault
from hub.sim.timeline import D, H, M


@fault("QC_OUT_OF_SPEC", "LIMS reports viability 8 points below specification; the retest "
       "after the phase I investigation (next day) is in specification")  # fmt: skip
def _oos(c: Ctx) -> Effect:
    spec = c.profile.qc_tests["VIABILITY"]
    assert spec.low is not None
    at = c.t.qc_at("VIABILITY")

    def facts(fs: Facts) -> Facts:
        export = next(
            f
            for f in fs
            if isinstance(f, LimsExport) and any(r.test == "VIABILITY" for r in f.results)
        )
        low = tuple(
            replace(r, value=spec.low - 8) if r.test == "VIABILITY" else r  # type: ignore[operator]
            for r in export.results
        )
        good = next(r for r in export.results if r.test == "VIABILITY")
        retest = replace(
            good, result_id=good.result_id + "R", at=good.at + 20 * H,
            value=round(spec.low * 1.12 + 3, 1),  # type: ignore[operator]
        )  # fmt: skip
        again = replace(
            export, step="qc.retest", export_id=export.export_id + "-RT",
            received=retest.at + 20 * M, results=(retest,),
        )  # fmt: skip
        return px.after(px.edit(fs, export.step, results=low), export.step, again)

    return Effect(at=at, facts=facts)


@fault("RELEASE_EVIDENCE_INCOMPLETE", "the batch record review is signed 4 h after the planned "
       "ship date minus the release-ready margin; certification follows it")  # fmt: skip
def _evidence(c: Ctx) -> Effect:
    due = c.t.ship - c.profile.release_ready_margin
    late = replace(c.t, review=due + 4 * H, certified=due + 6 * H)
    return Effect(at=due, timeline=late)


@fault("SHIPPED_BEFORE_RELEASE", "goods issue and pick-up happen 3 h before the QP's usage "
       "decision")  # fmt: skip
def _shipped(c: Ctx) -> Effect:
    return Effect(at=c.t.ship, timeline=replace(c.t, certified=c.t.ship + 3 * H))


@fault("OUT_OF_SEQUENCE", "the MES reports the production start 6 h later than it was: the "
       "first process step completes before the reported start")  # fmt: skip
def _sequence(c: Ctx) -> Effect:
    wrong = c.t.mfg_start + 6 * H
    return Effect(
        at=c.t.mfg_start + 5 * H,
        facts=lambda fs: px.edit_all(fs, MesPerformance, lambda f: replace(f, start=wrong)),
    )


@fault("TIMEZONE_MISSING", "the QMS sends a deviation's event time without UTC offset "
       "(read in the zone its registry entry declares; the event is kept)")  # fmt: skip
def _naive(c: Ctx) -> Effect:
    at = c.t.mfg_start + D + 3 * H

    def facts(fs: Facts) -> Facts:
        if not any(f.step == "deviation.opened" for f in fs):
            opened = QmsDeviation(
                coi=c.p.coi, step="deviation.opened", received=at + 5 * M,
                zone=c.net.cdmo.site.zone, message_id=f"QMS-{c.net.seed % 1000:03d}-"
                f"{c.p.n:05d}-TZ1", action="opened", at=at, batch=c.p.batch,
                dev_id=f"DEV-25-{c.p.n:05d}", classification=None,
                title="Incubator CO2 excursion during expansion", user="qa-specialist-012",
                site=c.net.cdmo.site.code,
            )  # fmt: skip
            closed = replace(
                opened, step="deviation.closed", message_id=opened.message_id[:-1] + "2",
                action="closed", at=c.t.mfg_start + 5 * D,
                received=c.t.mfg_start + 5 * D + 5 * M, classification="minor",
            )  # fmt: skip
            fs = px.after(fs, "mfg.report.2", opened, closed)
        return px.edit(fs, "deviation.opened", naive=True)

    return Effect(at=at, facts=facts)
