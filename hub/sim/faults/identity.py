"""Identity and custody faults: COI / DIN problems and broken handovers."""

from __future__ import annotations

from dataclasses import replace

from hub.sim import perturb as px
from hub.sim.facts import MesReceipt, OrderRef
from hub.sim.faults.base import Ctx, Effect, Facts, another_coi, fault
from hub.sim.timeline import M


@fault("COI_MISMATCH_RECEIPT", "MES receipt scans another patient's bag label (check Fail); "
       "QA re-scans the right bag 50 min later as a new receipt")  # fmt: skip
def _receipt_mismatch(c: Ctx) -> Effect:
    def facts(fs: Facts) -> Facts:
        first = px.find(fs, "receipt")
        assert isinstance(first, MesReceipt)
        rescan = replace(
            first, step="receipt.rescan", bod=first.bod + "-R", lot_id=first.lot_id + "-R1",
            receipt=first.receipt + 50 * M, received=first.received + 50 * M,
        )  # fmt: skip
        wrong = dict(scanned_coi=another_coi(c), scanned_din=None, check_result="Fail")
        return px.after(px.edit(fs, "receipt", **wrong), "receipt", rescan)

    return Effect(at=c.t.receipt, facts=facts)


@fault("COI_MISMATCH_INFUSION", "the bedside infusion record is based on another order "
       "(a draft ServiceRequest with another placer number)")  # fmt: skip
def _bedside_mismatch(c: Ctx) -> Effect:
    wrong = OrderRef(sr_id=f"sr-draft-{c.net.seed}-{c.p.n}", order_id=str(8_000_000 + c.p.n))
    return Effect(at=c.t.infusion, facts=lambda fs: px.edit(fs, "infusion", based_on=wrong))


@fault("DIN_UNLINKED", "the clinic's collection record carries no DIN; the bag label (EPCIS, "
       "courier, MES) does")  # fmt: skip
def _din_unlinked(c: Ctx) -> Effect:
    return Effect(at=c.t.collection_end, facts=lambda fs: px.edit(fs, "collection", din=None))


@fault("INVALID_IDENTIFIER", "the courier's pick-up webhook carries a DIN check character that "
       "fails Mod 37-2 (the courier keeps the handover; the chain raises the case)")  # fmt: skip
def _bad_check(c: Ctx) -> Effect:
    good = c.p.din_check
    bad = "0" if good != "0" else "1"
    return Effect(at=c.t.pickup, facts=lambda fs: px.edit(fs, "inbound.pickup", din_check=bad))


# --- custody ---------------------------------------------------------------------------------


@fault("CUSTODY_GAP", "the courier's delivery at the manufacturer is not signed for, and the "
       "MES receipt records no acceptance")  # fmt: skip
def _custody_gap(c: Ctx) -> Effect:
    unsigned = dict(signer=None, signer_scanned=None)
    return Effect(at=c.t.delivered, facts=lambda fs: px.edit(fs, "inbound.delivered", **unsigned))


@fault("DOUBLE_CUSTODY", "no goods issue (DESADV) and no courier pick-up scan at the "
       "manufacturer: the site signs for a product the manufacturer still holds")  # fmt: skip
def _double_custody(c: Ctx) -> Effect:
    return Effect(
        at=c.t.out_delivered,
        facts=lambda fs: px.drop(fs, "outbound.goods_issue", "outbound.pickup"),
    )


@fault("UNVERIFIED_HANDOVER", "the site pharmacist signs for the delivery without scanning "
       "the labels")  # fmt: skip
def _unverified(c: Ctx) -> Effect:
    return Effect(
        at=c.t.out_delivered,
        facts=lambda fs: px.edit(fs, "outbound.delivered", signer_scanned=False),
    )
