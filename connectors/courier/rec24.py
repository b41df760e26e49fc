"""UN/ECE Recommendation 24 (Trade and Transport Status Codes): every code, classified.

Source. Codes 1-103 and their meanings are the Rec 24 code list as UN/EDIFACT published it
(data element 9011 "Status event, coded", directory D.96B; EANCOM 1997 part III carries the same
list). Where the later revision of Rec 24 renamed a code, the name here is the revision's, as
OASIS UBL 2.0 distributes it (code list ``TransportationStatusCode-2.0``, "UN/ECE rec 24, Third
Revision", agency 6 = UNECE): codes 1-41, 44 and 45. Codes 42 and 43 ("Handover delivered",
"Handover received") are absent from that revision but kept, since a carrier on the older list may
still send them.

Known gap: Rec 24 editions after the EDIFACT D.96B list added codes above 103; their text was
not available to us, so such a code is rejected as unknown (dead-lettered with a reason that says
so) until it is added here. Adding one is one line: the code, its name, its class.

Classes say what a status means for a patient's material, not for the carrier's equipment
(which is ``other``). The connector turns every code into at least one canonical event; see
``normalise.py`` and ``README.md``.
"""

from __future__ import annotations

from enum import StrEnum
from typing import NamedTuple

SOURCE = (
    "UN/ECE Recommendation 24, code list 1-103 as published in UN/EDIFACT D.96B data element 9011; "
    "names of codes 1-41, 44, 45 per OASIS UBL 2.0 TransportationStatusCode-2.0 (Rec 24 3rd rev.)"
)


class Rec24Class(StrEnum):
    """What a transport status means for the consignment."""

    PROGRESS = "progress"
    ARRIVAL = "arrival"
    DELIVERY = "delivery"
    EXCEPTION = "exception"
    DAMAGE = "damage"
    LOSS = "loss"
    REFUSAL = "refusal"
    DELIVERY_NOT_COMPLETED = "delivery-not-completed"
    CUSTOMS = "customs"
    OTHER = "other"


class Rec24Code(NamedTuple):
    name: str
    cls: Rec24Class


_P = Rec24Class.PROGRESS
_A = Rec24Class.ARRIVAL
_D = Rec24Class.DELIVERY
_X = Rec24Class.EXCEPTION
_DMG = Rec24Class.DAMAGE
_L = Rec24Class.LOSS
_R = Rec24Class.REFUSAL
_N = Rec24Class.DELIVERY_NOT_COMPLETED
_C = Rec24Class.CUSTOMS
_O = Rec24Class.OTHER

REC24: dict[str, Rec24Code] = {
    code: Rec24Code(name, cls)
    for code, name, cls in (
        ("1", "Arrival, completed", _A),
        ("2", "Loading, authorized", _P),
        ("3", "Arrival, in defective condition", _DMG),
        ("4", "Defective equipment returned to service", _O),
        ("5", "Process, begun", _P),
        ("6", "Booking, completed", _P),
        ("7", "Booking, cancelled", _X),
        ("8", "Cleared, import restrictions", _C),
        ("9", "Cleared, export restrictions", _C),
        ("10", "Cleared, by agriculture, food or fisheries authorities", _C),
        ("11", "Cleared, by port authority", _C),
        ("12", "Cleared, by customs", _C),
        ("13", "Collection/pick-up, completed", _P),
        ("14", "Process, completed", _P),
        ("15", "Consolidated", _P),
        ("16", "Crossed border", _P),
        ("17", "Customs clearance, refused", _C),
        ("18", "Damaged in the course of transport", _DMG),
        ("19", "Equipment, damage quoted for", _O),
        ("20", "Delayed, in the course of transport", _X),
        ("21", "Delivery, completed", _D),
        ("22", "Delivery, completed as per instruction", _D),
        ("23", "Delivery, not completed", _N),
        ("24", "Departure, completed", _P),
        ("25", "Departure, delayed", _X),
        ("26", "Deramped", _P),
        ("27", "Despatch, completed", _P),
        ("28", "Stripped", _P),
        ("29", "Unloaded", _P),
        ("30", "Empty on inspection", _L),
        ("31", "En route", _P),
        ("32", "Equipment, returned from repair", _O),
        ("33", "Equipment, sent for repair", _O),
        ("34", "Equipment, repaired", _O),
        ("35", "Forwarded to destination", _P),
        ("36", "Not found", _L),
        ("37", "Found", _P),
        ("38", "Freight paid", _O),
        ("39", "Released from bond", _C),
        ("40", "Arrival, at port", _A),
        ("41", "Handed over under continued responsibility", _P),
        ("42", "Handover delivered", _P),
        ("43", "Handover received", _P),
        ("44", "Misrouted consignment corrected", _X),
        ("45", "Arrival, consignee informed", _A),
        ("46", "Into bond", _C),
        ("47", "Into packing depot", _P),
        ("48", "Loaded", _P),
        ("49", "Lost", _L),
        ("50", "Manifested", _P),
        ("51", "Means of transport damaged", _X),
        ("52", "Mechanical breakdown", _X),
        ("53", "No pick-up", _X),
        ("54", "Not identified", _X),
        ("55", "Not collected", _X),
        ("56", "Not delivered", _N),
        ("57", "Not loaded", _X),
        ("58", "Off hire", _O),
        ("59", "Off loaded", _P),
        ("60", "On hire", _O),
        ("61", "Outstanding claims settled", _O),
        ("62", "Over landed", _X),
        ("63", "Package not ready", _X),
        ("64", "Pick-up awaited", _P),
        ("65", "Plugged equipment", _O),
        ("66", "Plundered", _L),
        ("67", "Positioned goods/consignments/equipment", _P),
        ("68", "Pre-informed", _P),
        ("69", "Put to refuse", _L),
        ("70", "Ramped equipment", _P),
        ("71", "Ready for transportation", _P),
        ("72", "Receipt fully acknowledged", _D),
        ("73", "Receipt partially acknowledged", _N),
        ("74", "Received", _A),
        ("75", "Reconsigned", _X),
        ("76", "Reforwarding on request", _P),
        ("77", "Refused without reason given", _R),
        ("78", "Released", _P),
        ("79", "Reloaded", _P),
        ("80", "Returned as instructed", _X),
        ("81", "Returned as wreck", _DMG),
        ("82", "Returned", _X),
        ("83", "Sealed equipment", _P),
        ("84", "Service ordered", _O),
        ("85", "Short landed", _L),
        ("86", "Short shipped", _X),
        ("87", "Sorted wrong route", _X),
        ("88", "Split", _O),
        ("89", "Steam cleaned", _O),
        ("90", "Stopped", _X),
        ("91", "Stored", _P),
        ("92", "Stowed", _P),
        ("93", "Stuffed", _P),
        ("94", "Stuffed and sealed", _P),
        ("95", "Sub-lease in", _O),
        ("96", "Sub-lease out", _O),
        ("97", "Surveyed damage", _DMG),
        ("98", "Transferred in", _P),
        ("99", "Transferred out", _P),
        ("100", "Transhipment", _P),
        ("101", "Transit delay", _X),
        ("102", "Unknown goods/consignments/equipment", _X),
        ("103", "Unplugged equipment", _O),
    )
}
"""Every Rec 24 code the hub knows: code -> (name, class)."""
