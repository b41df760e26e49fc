"""The authority policy: one test per command rule of the shipped policy, reads, ingest, and a
policy file with mistakes refused at load."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from hub.auth.authority import AuthorityPolicy, load_authority
from hub.auth.signatures import SignatureMeaning
from hub.cases.commands import CaseAction
from hub.chain.catalogue import catalogue
from hub.chain.findings import Severity
from hub.errors import ConfigurationError
from hub.settings import Settings

pytestmark = pytest.mark.req("REQ-P11-ROLES")

POLICY_FILE = Settings().authority_policy_file
POLICY = load_authority(POLICY_FILE)
A, S, M = CaseAction, Severity, SignatureMeaning

# rule, action, severity, code, a role it allows, a role it refuses, the signature it asks for
RULES = [
    ("critical-release-or-identity-resolve", A.RESOLVE, S.CRITICAL, "COI_MISMATCH_RECEIPT",
     "qualified-person", "qa", M.RESPONSIBILITY),
    ("critical-release-or-identity-resolve", A.RESOLVE, S.CRITICAL, "QC_OUT_OF_SPEC",
     "qualified-person", "operator", M.RESPONSIBILITY),
    ("critical-clinical-resolve", A.RESOLVE, S.CRITICAL, "LD_BEFORE_AVAILABILITY",
     "physician", "qa", M.RESPONSIBILITY),
    ("critical-resolve", A.RESOLVE, S.CRITICAL, "SHIPMENT_LOST", "qa", "operator",
     M.RESPONSIBILITY),
    ("critical-acknowledge", A.ACKNOWLEDGE, S.CRITICAL, "COI_MISMATCH_RECEIPT", "qa",
     "operator", M.REVIEW),
    ("release-resolve", A.RESOLVE, S.HIGH, "RELEASE_EVIDENCE_INCOMPLETE", "qa", "operator",
     M.APPROVAL),
    ("release-acknowledge", A.ACKNOWLEDGE, S.HIGH, "TEMP_EXCURSION_FRESH", "qualified-person",
     "operator", M.REVIEW),
    ("identity-resolve", A.RESOLVE, S.HIGH, "DIN_UNLINKED", "qa", "operator", None),
    ("high-resolve", A.RESOLVE, S.HIGH, "CUSTOMS_HOLD", "operator", "integration", None),
    ("resolve", A.RESOLVE, S.MEDIUM, "DUPLICATE_CONFLICT", "integration", "auditor", None),
    ("acknowledge", A.ACKNOWLEDGE, S.HIGH, "CUSTOMS_HOLD", "operator", "auditor", None),
    ("assign", A.ASSIGN, S.CRITICAL, "QC_OUT_OF_SPEC", "operator", "integration", None),
    ("comment", A.COMMENT, S.LOW, "LATE_EVENT", "integration", "partner:courier", None),
]  # fmt: skip


@pytest.mark.parametrize(
    ("rule", "action", "severity", "code", "allowed", "refused", "signature"),
    RULES,
    ids=[f"{r[0]}:{r[3]}" for r in RULES],
)
def test_each_command_rule_allows_its_roles_and_refuses_others(
    rule, action, severity, code, allowed, refused, signature
) -> None:
    yes = POLICY.command({allowed}, action, severity, code)
    assert (yes.allowed, yes.rule, yes.signature) == (True, rule, signature)
    no = POLICY.command({refused, "partner:sap"}, action, severity, code)
    assert (no.allowed, no.rule) == (False, rule)
    assert allowed in no.allowed_roles
    assert refused not in no.allowed_roles
    assert f"rule {rule}: only" in no.message


def test_every_rule_of_the_shipped_policy_has_a_test() -> None:
    assert {r.rule for r in POLICY.commands} == {row[0] for row in RULES}


def test_every_command_on_every_case_has_a_rule_and_someone_who_may() -> None:
    for entry in catalogue():
        for severity in Severity:
            for action in CaseAction:
                rule = POLICY.command_rule(action, severity, entry.code)
                assert rule is not None, (action, severity, entry.code)
                assert "auditor" not in rule.roles  # auditors read, they never act


def test_release_relevant_decisions_and_critical_ones_are_signatures() -> None:
    release = POLICY.code_groups["release"]
    for code in release:
        for severity in Severity:
            for action in (A.ACKNOWLEDGE, A.RESOLVE):
                assert POLICY.command({"qualified-person"}, action, severity, code).signature
    for action in (A.ACKNOWLEDGE, A.RESOLVE):
        assert POLICY.command({"qa"}, action, S.CRITICAL, "SHIPMENT_LOST").signature
    assert POLICY.command({"operator"}, A.ACKNOWLEDGE, S.HIGH, "CUSTOMS_HOLD").signature is None
    assert POLICY.command({"operator"}, A.COMMENT, S.CRITICAL, "QC_OUT_OF_SPEC").signature is None


@pytest.mark.parametrize("resource", ["cases", "chains", "metrics", "health"])
def test_auditors_read_everything_partners_nothing(resource) -> None:
    assert POLICY.read_access({"auditor"}, resource).allowed
    refused = POLICY.read_access({"partner:courier"}, resource)
    assert not refused.allowed
    assert refused.rule == f"read.{resource}"


def test_reading_cases_and_chains_is_for_the_hub_s_people() -> None:
    for role in ("operator", "qa", "qualified-person", "physician", "integration"):
        assert POLICY.read_access({role}, "cases").allowed
        assert POLICY.read_access({role}, "chains").allowed
    assert not POLICY.read_access({"qa"}, "metrics").allowed
    assert not POLICY.read_access(set(), "cases").allowed


def test_a_partner_posts_to_its_own_feed_only_integration_to_any() -> None:
    own = POLICY.ingest_access({"partner:courier"}, "courier")
    assert (own.allowed, own.rule) == (True, "ingest.own-feed")
    other = POLICY.ingest_access({"partner:courier"}, "sap")
    assert not other.allowed
    assert other.allowed_roles == ("partner:sap", "integration")
    assert other.message == "only partner:sap or integration may post to feed 'sap'"
    assert POLICY.ingest_access({"integration"}, "sap").allowed
    assert not POLICY.ingest_access({"qualified-person", "operator"}, "courier").allowed


def test_no_rule_means_refused() -> None:
    policy = POLICY.model_copy(update={"commands": POLICY.commands[:1]})
    decision = policy.command({"operator"}, A.COMMENT, S.LOW, "LATE_EVENT")
    assert (decision.allowed, decision.rule) == (False, "no-rule")


def _broken(tmp_path: Path, change) -> Path:
    data = yaml.safe_load(POLICY_FILE.read_text())
    change(data)
    path = tmp_path / "authority.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["commands"][0]["roles"].append("qp"), "unknown role 'qp'"),
        (lambda d: d["code_groups"]["release"].append("QC_OOS"), "unknown code QC_OOS"),
        (lambda d: d["commands"][1].update(codes=["releases"]), "unknown code or group"),
        (lambda d: d["commands"].append(d["commands"][0]), "appears twice"),
        (lambda d: d["read"].update(tables=["qa"]), "unknown resource 'tables'"),
        (lambda d: d["roles"].append("partner:sap"), "partner roles are implicit"),
        (lambda d: d["commands"][0].update(signature="WITNESS"), "signature"),
        (lambda d: d["commands"][0].update(actions=["DELETE"]), "actions"),
    ],
    ids=[
        "role",
        "group-code",
        "rule-code",
        "duplicate",
        "resource",
        "partner",
        "meaning",
        "action",
    ],
)
def test_a_policy_with_a_mistake_is_refused_at_load(tmp_path, change, message) -> None:
    with pytest.raises(ConfigurationError, match=message):
        load_authority(_broken(tmp_path, change))


def test_the_shipped_policy_is_the_settings_default() -> None:
    assert isinstance(POLICY, AuthorityPolicy)
    assert POLICY_FILE.name == "authority.yaml"
    assert POLICY_FILE.parent.name == "cases"
