"""Wording of diagnoses: each audience names settings the way it can change them."""

from __future__ import annotations

import pytest

from regions.diagnosis import STACK_SETTINGS, Diagnosis, PlacementError, describe, place_audience, stack_audience
from tensorfleet.stack_config import CONFIG_KEYS

HIPAA = Diagnosis(
    "hipaa_clouds",
    "scan",
    "hipaa_clouds",
    ("aws",),
    ("aws", "gcp"),
    "leaves no workable region for this HIPAA workload",
    "add gcp once a business associate agreement covers it",
    stack_wide=True,
)


def test_stack_settings_are_named_by_the_keys_the_stack_config_reads():
    names = stack_audience("dev", {}).setting_names
    for setting in STACK_SETTINGS:
        key = names[setting].removeprefix("tensorfleet:")
        assert CONFIG_KEYS[key] == setting


@pytest.mark.parametrize(
    ("audience", "where"),
    [
        pytest.param(None, "the stack's HIPAA clouds (hipaa_clouds)", id="neutral"),
        pytest.param(place_audience({}), "the stack's HIPAA clouds (hipaa_clouds)", id="place-has-no-flag"),
        pytest.param(stack_audience("prod", {}), "tensorfleet:hipaaClouds (in stacks/Pulumi.prod.yaml)", id="plan"),
    ],
)
def test_a_stack_setting_is_named_for_each_audience(audience, where):
    text = describe(PlacementError([HIPAA]), audience)
    assert text == (
        f"workload 'scan' cannot be placed. Binding constraint: {where} = ['aws'] leaves no workable region for "
        "this HIPAA workload; add gcp once a business associate agreement covers it"
    )


@pytest.mark.parametrize(
    ("constraint", "value", "text"),
    [
        ("budget", 1000.0, "$1,000/month"),
        ("latency", 20.0, "20 ms"),
        ("carbon_cap", 10.0, "10 gCO2/kWh"),
        ("min_regions", 4, "4"),
        ("model_size", 1000.0, "1000"),
        ("capacity", False, "false"),
        ("residency", ("EU", "CH"), "['EU', 'CH']"),
    ],
)
def test_values_are_shown_in_their_units(constraint, value, text):
    assert Diagnosis(constraint, "w", "f", value, None, "", "").value_text(value) == text
