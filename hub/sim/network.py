"""The simulated vein-to-vein network: one manufacturer, several clinics, couriers, patients.

Everything is derived from a seed, so the same ``(seed, patients)`` gives the same network. The
clinics and lanes are the ones the product profiles (``hub/chain/profiles``) know, plus one
clinic whose lanes no profile names (the engine then uses the profile's default turnaround).
Transit times are the network's own (door to door), always inside the profile's turnaround.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from hub.events.identifiers import mod37_2

START = datetime(2025, 2, 3, 13, 0, tzinfo=UTC)
"""Simulated time starts here. The hub's clock is the receipt time of what it judges, so the
simulated network runs the same on any day (re-escalations follow simulated time too)."""


@dataclass(frozen=True)
class Site:
    name: str  # the name partners use; the profiles' lanes name the same sites
    zone: str  # IANA zone of the site's local times
    country: str
    sgln: str  # GS1 location (EPCIS read point)
    code: str  # the site's id in the ERP / MES / location references


@dataclass(frozen=True)
class Lane:
    name: str
    origin: Site
    destination: Site
    transit: timedelta
    courier: str
    cross_border: bool = False


@dataclass(frozen=True)
class Clinic:
    """A treatment centre with its apheresis unit; ``profiles`` are the products it orders."""

    key: str
    apheresis: Site
    infusion: Site
    fin: str  # ISBT 128 facility identification number (DIN prefix)
    ehr: str  # base of the EHR's identifier systems
    customer: str  # the clinic's customer number in the manufacturer's ERP
    profiles: tuple[str, ...]
    inbound: Lane
    outbound: Lane


@dataclass(frozen=True)
class Manufacturer:
    site: Site
    plant: str
    mes_sender: str
    lab: str
    material: str


@dataclass(frozen=True)
class Patient:
    n: int
    coi: str
    clinic: Clinic
    profile: str
    start: datetime
    din: str
    din_check: str
    mrn: str
    family: str
    given: str
    birth_date: str
    gender: str
    order_id: str
    batch: str

    @property
    def ship_in(self) -> str:
        return f"SHP-{self.n:05d}-IN"

    @property
    def ship_out(self) -> str:
        return f"SHP-{self.n:05d}-OUT"


@dataclass(frozen=True)
class Network:
    seed: int
    cdmo: Manufacturer
    clinics: tuple[Clinic, ...]
    patients: tuple[Patient, ...]


PHL = Site(
    "Philadelphia Cell Therapy Facility",
    "America/New_York",
    "US",
    "urn:epc:id:sgln:0614141.00777.0",
    "PHL-CTF",
)
CDMO = Manufacturer(PHL, plant="US10", mes_sender="MES-PHL-01", lab="PHL-QC", material="CART-01")
_BOS = Site(
    "Boston Apheresis Centre",
    "America/New_York",
    "US",
    "urn:epc:id:sgln:0614141.00001.0",
    "BAC",
)
_AMS_APH = Site(
    "Amsterdam UMC Apheresis",
    "Europe/Amsterdam",
    "NL",
    "urn:epc:id:sgln:8712345.00010.0",
    "AUMC-APH",
)
_AMS = Site("Amsterdam UMC", "Europe/Amsterdam", "NL", "urn:epc:id:sgln:8712345.00020.0", "AUMC")
_CHI = Site(
    "Chicago Cell Therapy Clinic",
    "America/Chicago",
    "US",
    "urn:epc:id:sgln:0614141.00042.0",
    "CCTC",
)
_US, _EU = "CryoExpress", "EuroCryo Logistics"

CLINICS: tuple[Clinic, ...] = (
    Clinic(
        "BOS",
        _BOS,
        _BOS,
        "B0417",
        "https://ehr.bostonapheresis.example",
        "0000100200",
        ("cart-fresh-48h", "default"),
        Lane("BOS-PHL-FRESH", _BOS, PHL, timedelta(hours=6), _US),
        Lane("PHL-BOS-CRYO", PHL, _BOS, timedelta(hours=10), _US),
    ),
    Clinic(
        "AMS",
        _AMS_APH,
        _AMS,
        "N0231",
        "https://epd.amsterdamumc.example",
        "0000100777",
        ("cart-cryo-120", "default"),
        Lane("AMS-PHL-FRESH", _AMS_APH, PHL, timedelta(hours=22), _EU, cross_border=True),
        Lane("PHL-AMS-CRYO", PHL, _AMS, timedelta(hours=28), _EU, cross_border=True),
    ),
    Clinic(
        "CHI",
        _CHI,
        _CHI,
        "C0912",
        "https://ehr.chicagoctc.example",
        "0000100310",
        ("default",),
        Lane("CHI-PHL-FRESH", _CHI, PHL, timedelta(hours=9), _US),
        Lane("PHL-CHI-CRYO", PHL, _CHI, timedelta(hours=12), _US),
    ),
)
_WEIGHTS = (0.45, 0.35, 0.20)
_FAMILY = (
    "Okafor", "Lindqvist", "Moreau", "Takahashi", "Novak", "Haddad", "Castellano", "Brennan",
    "Vasquez", "Kowalczyk", "Abernathy", "Oyelaran", "Marchetti", "Sorensen", "Delacroix",
    "Petrovic", "Achterberg", "Quintero", "Halvorsen", "Mbeki",
)  # fmt: skip
_GIVEN = (
    "Amara", "Bastian", "Celestine", "Dorian", "Evelina", "Florian", "Giselle", "Horatio",
    "Ingrid", "Jasper", "Katalin", "Leopold", "Marisol", "Nikolai", "Ottilie", "Percival",
    "Quilla", "Rosalind", "Severin", "Thea",
)  # fmt: skip


def rng_for(seed: int, *parts: object) -> random.Random:
    """A generator of its own for one purpose (stable whatever else is drawn elsewhere)."""
    return random.Random(":".join(str(p) for p in (seed, *parts)))  # noqa: S311 (simulation)


def coi_for(seed: int, n: int) -> str:
    body = f"V2VSIM{seed % 1000:03d}{n:06d}"
    return body + mod37_2(body)


def build_network(seed: int, patients: int, stagger: timedelta = timedelta(days=7)) -> Network:
    """``patients`` patients spread over the clinics, their orders over ``stagger``."""
    people: list[Patient] = []
    for n in range(1, patients + 1):
        rng = rng_for(seed, "patient", n)
        clinic = rng.choices(CLINICS, weights=_WEIGHTS)[0]
        minutes = rng.randrange(int(stagger.total_seconds() // 60) // 5) * 5
        core = f"{clinic.fin}25{(seed * 7919 + n) % 1_000_000:06d}"
        people.append(
            Patient(
                n=n,
                coi=coi_for(seed, n),
                clinic=clinic,
                profile=rng.choice(clinic.profiles),
                start=START + timedelta(minutes=minutes),
                din=f"={core}00",
                din_check=mod37_2(core),
                mrn=f"MRN-9{n:03d}{rng.randrange(10_000):04d}",
                family=rng.choice(_FAMILY),
                given=rng.choice(_GIVEN),
                birth_date=f"{rng.randrange(1950, 1990)}-{rng.randrange(1, 13):02d}-"
                f"{rng.randrange(1, 29):02d}",
                gender=rng.choice(("female", "male")),
                order_id=str(7_000_000 + n),
                batch=f"B25{n:05d}",
            )
        )
    return Network(seed=seed, cdmo=CDMO, clinics=CLINICS, patients=tuple(people))
