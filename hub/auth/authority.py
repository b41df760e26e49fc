"""The authority policy (pure): which role may read, ingest, and act on which case.

Loaded from YAML (``hub/cases/authority.yaml``, ``V2V_AUTHORITY_POLICY_FILE``) and validated
against the known roles and the exception catalogue, so a typo in a role or code fails at start,
never as a silent refusal. Every decision names the rule that made it, so a refusal can say
which rule refused and which roles it allows (Part 11 §11.10(d) limits access to authorised
individuals, §11.10(g) checks their authority).

Commands: the first rule matching the action, the case's severity and its code decides; a
command no rule matches is refused (rule ``no-rule``). A rule may make the command an electronic
signature with a meaning (:class:`~hub.auth.signatures.SignatureMeaning`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import Field, ValidationError, model_validator

from hub.auth.signatures import SignatureMeaning
from hub.auth.tokens import PARTNER_PREFIX
from hub.cases.commands import CaseAction
from hub.chain.catalogue import catalogue
from hub.chain.findings import Severity
from hub.errors import ConfigurationError
from hub.events.models import Frozen

READ_RESOURCES = ("cases", "chains", "metrics", "health")


@dataclass(frozen=True)
class Decision:
    """Allowed or not, by which rule, which roles that rule allows, and (for commands) the
    meaning of the signature the command must be."""

    allowed: bool
    rule: str
    allowed_roles: tuple[str, ...]
    message: str
    signature: SignatureMeaning | None = None


class CommandRule(Frozen):
    rule: str
    actions: list[CaseAction] = Field(min_length=1)
    severities: list[Severity] = Field(default_factory=list, description="empty: any")
    codes: list[str] = Field(default_factory=list, description="codes or groups; empty: any")
    roles: list[str] = Field(min_length=1)
    signature: SignatureMeaning | None = None


class IngestRules(Frozen):
    any_feed: list[str] = Field(default_factory=list)


class AuthorityPolicy(Frozen):
    roles: list[str] = Field(min_length=1)
    code_groups: dict[str, list[str]] = Field(default_factory=dict)
    read: dict[str, list[str]] = Field(default_factory=dict)
    ingest: IngestRules = IngestRules()
    commands: list[CommandRule] = Field(min_length=1)

    @model_validator(mode="after")
    def _known_names(self) -> AuthorityPolicy:
        known_codes = {e.code for e in catalogue()}
        problems: list[str] = []
        for role in self.roles:
            if role.startswith(PARTNER_PREFIX):
                problems.append(f"roles: {role!r}: partner roles are implicit, not listed")
        for group, codes in self.code_groups.items():
            problems += [
                f"code_groups.{group}: unknown code {c}" for c in codes if c not in known_codes
            ]
        for resource, roles in self.read.items():
            if resource not in READ_RESOURCES:
                problems.append(
                    f"read: unknown resource {resource!r} ({', '.join(READ_RESOURCES)})"
                )
            problems += self._unknown_roles(f"read.{resource}", roles)
        problems += self._unknown_roles("ingest.any_feed", self.ingest.any_feed)
        names: set[str] = set()
        for rule in self.commands:
            if rule.rule in names:
                problems.append(f"commands: rule {rule.rule!r} appears twice")
            names.add(rule.rule)
            problems += self._unknown_roles(f"commands.{rule.rule}", rule.roles)
            for code in rule.codes:
                if code not in self.code_groups and code not in known_codes:
                    problems.append(f"commands.{rule.rule}: unknown code or group {code!r}")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def _unknown_roles(self, where: str, roles: Iterable[str]) -> list[str]:
        return [f"{where}: unknown role {r!r}" for r in roles if r not in self.roles]

    # --- decisions -------------------------------------------------------------------------------

    def codes_of(self, rule: CommandRule) -> set[str]:
        codes: set[str] = set()
        for name in rule.codes:
            codes.update(self.code_groups.get(name, [name]))
        return codes

    def command_rule(self, action: CaseAction, severity: Severity, code: str) -> CommandRule | None:
        for rule in self.commands:
            if action not in rule.actions:
                continue
            if rule.severities and severity not in rule.severities:
                continue
            if rule.codes and code not in self.codes_of(rule):
                continue
            return rule
        return None

    def command(
        self, roles: Iterable[str], action: CaseAction, severity: Severity, code: str
    ) -> Decision:
        """May someone with ``roles`` give ``action`` on a case of ``severity`` and ``code``?"""
        rule = self.command_rule(action, severity, code)
        what = f"{action.value.lower()} a {severity.value} {code} case"
        if rule is None:
            return Decision(False, "no-rule", (), f"no rule allows anyone to {what}")
        held = set(roles)
        allowed = tuple(rule.roles)
        if held.isdisjoint(allowed):
            return Decision(
                False,
                rule.rule,
                allowed,
                f"rule {rule.rule}: only {', '.join(allowed)} may {what}",
                rule.signature,
            )
        return Decision(True, rule.rule, allowed, f"rule {rule.rule} allows it", rule.signature)

    def read_access(self, roles: Iterable[str], resource: str) -> Decision:
        allowed = tuple(self.read.get(resource, ()))
        rule = f"read.{resource}"
        if set(roles).isdisjoint(allowed):
            who = ", ".join(allowed) or "nobody"
            return Decision(False, rule, allowed, f"rule {rule}: only {who} may read {resource}")
        return Decision(True, rule, allowed, f"rule {rule} allows it")

    def ingest_access(self, roles: Iterable[str], partner: str) -> Decision:
        held = set(roles)
        own = f"{PARTNER_PREFIX}{partner}"
        allowed = (own, *self.ingest.any_feed)
        if own in held:
            return Decision(True, "ingest.own-feed", allowed, "a partner posts to its own feed")
        if not held.isdisjoint(self.ingest.any_feed):
            return Decision(True, "ingest.any_feed", allowed, "rule ingest.any_feed allows it")
        return Decision(
            False,
            "ingest.own-feed",
            allowed,
            f"only {' or '.join(allowed)} may post to feed {partner!r}",
        )


def load_authority(path: Path) -> AuthorityPolicy:
    try:
        return AuthorityPolicy.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    except (OSError, yaml.YAMLError, ValidationError) as exc:
        raise ConfigurationError(f"authority policy {path} unusable: {exc}") from exc
