"""The pack's policies and default enforcement, importable without starting the analyzer server."""

from pulumi_policy import EnforcementLevel, Policy
from serving_rules import accelerator_disruption_budget, accelerator_quota, graceful_drain, pinned_images

from carbon_rules import carbon_aware_region
from cost_rules import cost_ceiling
from hipaa_rules import hipaa_encryption
from hygiene_rules import budget_alarm_required, cost_allocation_tags

PACK_NAME = "tensorfleet-guardrails"
DEFAULT_ENFORCEMENT = EnforcementLevel.ADVISORY
"""Hygiene starts advisory; money and data guardrails (cost-ceiling, hipaa-encryption) are mandatory."""

POLICIES: list[Policy] = [
    cost_ceiling,
    carbon_aware_region,
    hipaa_encryption,
    cost_allocation_tags,
    budget_alarm_required,
    accelerator_disruption_budget,
    accelerator_quota,
    pinned_images,
    graceful_drain,
]
