"""What every cloud's budgets share: the budgets themselves and when they alert."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ACTUAL_ALERT_PERCENTS", "FORECAST_ALERT_PERCENTS", "BudgetSpec"]

ACTUAL_ALERT_PERCENTS = (50, 90, 100)
FORECAST_ALERT_PERCENTS = (100,)


@dataclass(frozen=True, kw_only=True)
class BudgetSpec:
    """One monthly cost budget, scoped by cost-allocation tags (AWS) or resource labels (GCP)."""

    name: str
    """Budget name suffix: the workload name, or ``stack``."""
    monthly_usd: float
    tags: dict[str, str]
    """Tags or labels whose spend counts, e.g. ``{"workload": "chat"}`` (AWS: user-defined tags
    activated in Billing)."""
