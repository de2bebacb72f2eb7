"""Azure consumption budgets for each workload and for the stack, scoped to the subscription and
filtered by tag, alerting e-mail addresses."""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_azure_native as azure_native

from components.budget.spec import ACTUAL_ALERT_PERCENTS, FORECAST_ALERT_PERCENTS, BudgetSpec

__all__ = ["AzureBudgets", "AzureBudgetsArgs", "notifications"]


@dataclass(frozen=True, kw_only=True)
class AzureBudgetsArgs:
    subscription_id: pulumi.Input[str]
    budgets: tuple[BudgetSpec, ...]
    """Each scoped by tags (the agent pools' ``workload`` tag, or ``environment``)."""
    alert_emails: Mapping[str, pulumi.Input[str]]
    """Addresses under stable keys (``components.naming.keyed(addresses, email_key)``); at least one:
    the API refuses a subscription budget whose alerts name no address or action group."""


class AzureBudgets(pulumi.ComponentResource):
    """One budget per workload plus one for the stack, on the subscription."""

    def __init__(self, name: str, args: AzureBudgetsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        if not args.alert_emails:
            raise pulumi.InputPropertiesError(
                "AzureBudgets inputs are invalid",
                errors=[
                    {"property_path": "alert_emails", "reason": "a subscription budget alerts at least one address"}
                ],
            )
        super().__init__("tensorfleet:budget:AzureBudgets", name, None, opts)
        scope = pulumi.Output.from_input(args.subscription_id).apply(lambda sub: f"/subscriptions/{sub}")
        # By key, so that reordering the addresses changes no budget.
        emails = [address for _, address in sorted(args.alert_emails.items())]
        today = datetime.datetime.now(datetime.timezone.utc)
        for spec in args.budgets:
            tag, value = next(iter(spec.tags.items()))
            azure_native.consumption.Budget(
                f"{name}-{spec.name}",
                budget_name=f"tensorfleet-{spec.name}",
                scope=scope,
                category="Cost",
                amount=round(spec.monthly_usd),
                time_grain="Monthly",
                # The API takes a start in the current month; once created, the budget keeps it.
                time_period=azure_native.consumption.BudgetTimePeriodArgs(start_date=f"{today:%Y-%m}-01T00:00:00Z"),
                filter=azure_native.consumption.BudgetFilterArgs(
                    tags=azure_native.consumption.BudgetComparisonExpressionArgs(
                        name=tag, operator="In", values=[value]
                    )
                ),
                notifications=notifications(emails),
                opts=pulumi.ResourceOptions(parent=self, ignore_changes=["timePeriod"]),
            )
        self.register_outputs({})


def notifications(emails: list[pulumi.Input[str]]) -> dict[str, azure_native.consumption.NotificationArgs]:
    """Actual spend at 50, 90 and 100 % of the amount, and forecast spend at 100 %, to the addresses."""
    rules = [("actual", "Actual", p) for p in ACTUAL_ALERT_PERCENTS] + [
        ("forecast", "Forecasted", p) for p in FORECAST_ALERT_PERCENTS
    ]
    return {
        f"{kind}{percent}": azure_native.consumption.NotificationArgs(
            enabled=True,
            operator="GreaterThanOrEqualTo",
            threshold=percent,
            threshold_type=threshold_type,
            contact_emails=list(emails),
        )
        for kind, threshold_type, percent in rules
    }
