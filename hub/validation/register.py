"""The requirements register (``docs/validation/requirements.yaml``).

Each requirement says what the hub must do, which clause it answers to (an exception code of
the catalogue, a DESIGN.md invariant, a 21 CFR Part 11 or EU GMP Annex 11 clause, an ALCOA+
principle, a GDPR article) and how much is at stake if it fails: its GAMP 5 risk class with a
one-line rationale. Tests name the requirements they give evidence for with
``@pytest.mark.req("REQ-...")``.

The register is checked when it is loaded (unique ids, every cited clause declared, every
declared clause cited) and against the exception catalogue (:func:`catalogue_problems`): a code
of the catalogue without a requirement is a gap, never a silent omission.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Literal, Self

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from hub.errors import ConfigurationError

RiskClass = Literal["high", "medium", "low"]
Impact = Literal[
    "patient safety", "product quality", "data integrity", "patient privacy", "operations"
]
Status = Literal["active", "planned"]

RISK_ORDER: tuple[RiskClass, ...] = ("high", "medium", "low")
SEVERITY_RISK: dict[str, RiskClass] = {
    "CRITICAL": "high",
    "HIGH": "high",
    "MEDIUM": "medium",
    "LOW": "low",
}
"""The least risk class a requirement for an exception code of that severity may carry."""

REQ_ID = r"^REQ-[A-Z0-9]+(?:[-_][A-Z0-9]+)*$"


class RegisterError(ConfigurationError):
    """The register cannot be read, is invalid, or does not match the catalogue."""


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Source(_Strict):
    """A clause the register answers to, e.g. ``part11:11.10(e)``."""

    document: str = Field(min_length=1)
    title: str = Field(min_length=1)


class Requirement(_Strict):
    id: str = Field(pattern=REQ_ID)
    title: str = Field(min_length=1)
    sources: tuple[str, ...] = Field(min_length=1)
    risk: RiskClass
    impact: Impact
    rationale: str = Field(min_length=1)
    feature: str = Field(min_length=1)
    status: Status = "active"
    """``planned``: the feature is not built yet; shown in the report, left out of the gate."""
    exception_code: str | None = None
    """For a requirement that a catalogue code is detected: that code."""
    note: str | None = None

    @field_validator("rationale", "title")
    @classmethod
    def _one_line(cls, value: str) -> str:
        if "\n" in value.strip():
            raise ValueError("must be one line")
        return value.strip()


class Register(_Strict):
    version: Literal[1]
    sources: dict[str, Source]
    requirements: tuple[Requirement, ...]

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        problems: list[str] = []
        seen: set[str] = set()
        codes: set[str] = set()
        cited: set[str] = set()
        for req in self.requirements:
            if req.id in seen:
                problems.append(f"{req.id}: id used twice")
            seen.add(req.id)
            if req.exception_code is not None:
                if req.exception_code in codes:
                    problems.append(f"{req.id}: exception code {req.exception_code} used twice")
                codes.add(req.exception_code)
            for key in req.sources:
                if key not in self.sources:
                    problems.append(f"{req.id}: source {key!r} is not declared under sources")
                cited.add(key)
        for key in self.sources:
            if key not in cited:
                problems.append(f"source {key!r} is cited by no requirement")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def ids(self) -> frozenset[str]:
        return frozenset(r.id for r in self.requirements)

    def by_id(self) -> dict[str, Requirement]:
        return {r.id: r for r in self.requirements}


def load_register(path: Path) -> Register:
    """The register at ``path``; :class:`RegisterError` naming the file and what is wrong."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise RegisterError(f"requirements register {path}: cannot be read ({exc})") from exc
    except yaml.YAMLError as exc:
        raise RegisterError(f"requirements register {path}: not YAML ({exc})") from exc
    try:
        return Register.model_validate(raw)
    except ValidationError as exc:
        raise RegisterError(f"requirements register {path}: {exc}") from exc


def catalogue_problems(register: Register, severities: dict[str, str]) -> list[str]:
    """Differences between the register and the exception catalogue (code -> severity).

    Every code needs exactly one requirement, with a risk class no lower than its severity
    calls for (``SEVERITY_RISK``); a requirement must not name a code the catalogue lacks.
    """
    problems: list[str] = []
    by_code = {r.exception_code: r for r in register.requirements if r.exception_code}
    for code, severity in sorted(severities.items()):
        req = by_code.get(code)
        if req is None:
            problems.append(f"exception code {code} ({severity}) has no requirement")
            continue
        least = SEVERITY_RISK[severity]
        if RISK_ORDER.index(req.risk) > RISK_ORDER.index(least):
            problems.append(
                f"{req.id}: risk {req.risk} is lower than {least}, "
                f"which a {severity} exception code calls for"
            )
    for code, req in sorted(by_code.items()):
        if code not in severities:
            problems.append(f"{req.id}: exception code {code} is not in the catalogue")
    return problems


def catalogue_severities() -> dict[str, str]:
    """The exception catalogue as code -> severity (imports the engine's rules)."""
    from hub.chain.catalogue import catalogue

    return {e.code: e.severity.value for e in catalogue()}


def requirement_stub(code: str, severity: str, title: str, owner: str) -> str:
    """A register entry to start from for a catalogue code that has none (YAML text)."""
    entry = {
        "id": f"REQ-EXC-{code}",
        "title": f"{title} raises a {code} case",
        "sources": ["domain:6"],
        "exception_code": code,
        "risk": SEVERITY_RISK[severity],
        "impact": "patient safety",
        "rationale": "TODO: what a missed or false case costs (owner: " + owner + ")",
        "feature": "chain rule " + code,
    }
    return yaml.safe_dump([entry], sort_keys=False, width=100)


def missing_stubs(register: Register, entries: Iterable[tuple[str, str, str, str]]) -> str:
    """Stubs for the (code, severity, title, owner) entries the register lacks."""
    have = {r.exception_code for r in register.requirements}
    return "".join(requirement_stub(*e) for e in entries if e[0] not in have)
