"""Product profiles: every number is validated configuration."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from hub.chain.profiles import ProductProfile, QcSpec, TemperatureRange, load_profiles
from hub.errors import ConfigurationError
from hub.events.models import EventType

pytestmark = pytest.mark.req("REQ-FN-PROFILES")

PROFILE_DIR = Path(__file__).resolve().parents[3] / "hub" / "chain" / "profiles"


def _write(directory: Path, name: str, data: dict[str, object]) -> None:
    (directory / f"{name}.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")


def test_the_shipped_profiles_load() -> None:
    profiles = load_profiles(PROFILE_DIR)
    assert {"default", "cart-fresh-48h", "cart-cryo-120"} <= set(profiles)
    fresh, cryo = profiles["cart-fresh-48h"], profiles["cart-cryo-120"]
    assert (fresh.fresh_transport.min_c, fresh.fresh_transport.max_c) == (2, 8)
    assert fresh.fresh_stability == timedelta(hours=48)
    assert fresh.cryo.max_c == -150
    assert fresh.thaw_window == timedelta(minutes=30)
    assert cryo.cryo.max_c == -120
    assert cryo.thaw_window == timedelta(hours=3)
    assert fresh.lymphodepletion.requires == "received_at_site"
    assert cryo.lymphodepletion.requires == "released"
    assert set(fresh.qc_tests) >= {"STERILITY", "MYCOPLASMA", "ENDOTOXIN", "VIABILITY", "VCN"}


def test_helpers_turn_numbers_into_durations() -> None:
    profile = load_profiles(PROFILE_DIR)["cart-fresh-48h"]
    assert profile.turnaround("BOS-PHL-FRESH") == timedelta(hours=8)
    assert profile.turnaround("NO-SUCH-LANE") == timedelta(hours=24)
    assert profile.custody_grace == timedelta(hours=2)
    assert profile.shipper_limit == timedelta(hours=144)  # 240 h x 0.6
    assert profile.logger_gap() == timedelta(minutes=60)  # 4 x 15 min
    assert profile.logger_gap(interval_s=300) == timedelta(minutes=20)  # the logger's own
    assert profile.late_sla(EventType.QC_RESULT_RECORDED) == timedelta(minutes=120)
    assert profile.late_sla(EventType.TEMPERATURE_READING) == timedelta(hours=12)
    assert profile.v2v_target == timedelta(days=28)
    assert profile.release_ready_margin == timedelta(hours=24)


def test_a_minimal_profile_takes_the_domain_defaults() -> None:
    profile = ProductProfile(name="x")
    assert profile.fresh_stability_h == 48
    assert profile.cryo.max_c == -150
    assert profile.logger.interval_min == 15
    assert profile.thaw_window_min == 30
    assert profile.v2v_target_days == 30


def test_load_requires_a_default_profile(tmp_path: Path) -> None:
    _write(tmp_path, "only", {"name": "only"})
    with pytest.raises(ConfigurationError, match="no 'default' profile"):
        load_profiles(tmp_path)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"fresh_transport": {"min_c": 8, "max_c": 2}}, "must be below max_c"),
        ({"cryo": {"max_c": -20}}, "less than or equal to -60"),
        ({"dry_shipper": {"safety_factor": 1.5}}, "less than or equal to 1"),
        ({"qc_tests": {"VCN": {"low": 5, "high": 1}}}, "is above high"),
        ({"qc_tests": {"VCN": {"unit": "copies"}}}, "needs low and/or high"),
        ({"lymphodepletion": {"requires": "thawed"}}, "released"),
        ({"thaw_window_min": 0}, "greater than 0"),
        ({"coi_pattern": "[unclosed"}, "not a regular expression"),
        ({"fresh_stabilty_h": 48}, "Extra inputs are not permitted"),
    ],
)
def test_invalid_profiles_fail_loudly(
    tmp_path: Path, change: dict[str, object], message: str
) -> None:
    _write(tmp_path, "default", {"name": "default", **change})
    with pytest.raises(ConfigurationError, match=message):
        load_profiles(tmp_path)


def test_two_files_with_one_name_fail(tmp_path: Path) -> None:
    _write(tmp_path, "default", {"name": "default"})
    _write(tmp_path, "other", {"name": "default"})
    with pytest.raises(ConfigurationError, match="defined twice"):
        load_profiles(tmp_path)


def test_models_validate_directly() -> None:
    assert TemperatureRange(min_c=15, max_c=25).excursion_tolerance_min == 30
    assert QcSpec(accepted=["negative"]).required is True


def test_qc_test_codes_are_normalised() -> None:
    profile = ProductProfile(name="x", qc_tests={"cd3 pct": QcSpec(low=80)})
    assert set(profile.qc_tests) == {"CD3_PCT"}
