"""Cloud Billing budgets for each workload and for the stack, alerting a Pub/Sub topic and e-mail channels."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_gcp as gcp

from components.budget.spec import ACTUAL_ALERT_PERCENTS, FORECAST_ALERT_PERCENTS, BudgetSpec

__all__ = ["BUDGET_PUBLISHER", "GcpBudgets", "GcpBudgetsArgs", "threshold_rules"]

BUDGET_PUBLISHER = "serviceAccount:billing-budget-alert@system.gserviceaccount.com"
"""The identity Cloud Billing publishes budget notifications as."""


@dataclass(frozen=True, kw_only=True)
class GcpBudgetsArgs:
    project: pulumi.Input[str]
    """Project that holds the alert topic and notification channels."""
    project_number: pulumi.Input[str]
    """The project whose spend the budgets track (digits; may be a secret)."""
    billing_account: pulumi.Input[str]
    """Billing account ID (``XXXXXX-XXXXXX-XXXXXX``; may be a secret). Its currency must be USD:
    budget amounts are the planner's USD figures."""
    budgets: tuple[BudgetSpec, ...]
    """Each scoped by resource labels (the node pools' ``workload`` label, or ``environment``)."""
    alert_emails: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """E-mail notification channels under stable keys (``components.naming.keyed(addresses, email_key)``)."""
    labels: dict[str, pulumi.Input[str]] = field(default_factory=dict)


class GcpBudgets(pulumi.ComponentResource):
    """Alert topic, e-mail channels, and one budget per workload plus one for the stack."""

    topic_id: pulumi.Output[str]

    def __init__(self, name: str, args: GcpBudgetsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("tensorfleet:budget:GcpBudgets", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        topic = gcp.pubsub.Topic(f"{name}-alerts", project=args.project, labels=args.labels, opts=child)
        gcp.pubsub.TopicIAMMember(
            f"{name}-alerts-publisher",
            project=args.project,
            topic=topic.name,
            role="roles/pubsub.publisher",
            member=BUDGET_PUBLISHER,
            opts=child,
        )
        channels = [
            gcp.monitoring.NotificationChannel(
                f"{name}-alerts-{key}",
                project=args.project,
                type="email",
                display_name=f"tensorfleet budget alerts {key}",
                labels={"email_address": address},
                opts=child,
            ).id
            # By key, so that reordering the addresses changes no budget.
            for key, address in sorted(args.alert_emails.items())
        ]
        project = pulumi.Output.from_input(args.project_number).apply(lambda number: f"projects/{number}")
        for spec in args.budgets:
            gcp.billing.Budget(
                f"{name}-{spec.name}",
                billing_account=args.billing_account,
                display_name=f"tensorfleet {spec.name}",
                amount=gcp.billing.BudgetAmountArgs(
                    specified_amount=gcp.billing.BudgetAmountSpecifiedAmountArgs(
                        currency_code="USD", units=str(round(spec.monthly_usd))
                    )
                ),
                budget_filter=gcp.billing.BudgetBudgetFilterArgs(
                    projects=[project], labels=dict(spec.tags), calendar_period="MONTH"
                ),
                threshold_rules=threshold_rules(),
                all_updates_rule=gcp.billing.BudgetAllUpdatesRuleArgs(
                    pubsub_topic=topic.id,
                    monitoring_notification_channels=channels,
                    disable_default_iam_recipients=bool(channels),
                ),
                opts=child,
            )
        self.topic_id = topic.id
        self.register_outputs({"topic_id": self.topic_id})


def threshold_rules() -> list[gcp.billing.BudgetThresholdRuleArgs]:
    """Actual spend at 50, 90 and 100 % of the amount, and forecast spend at 100 %."""
    return [
        *(
            gcp.billing.BudgetThresholdRuleArgs(threshold_percent=p / 100, spend_basis="CURRENT_SPEND")
            for p in ACTUAL_ALERT_PERCENTS
        ),
        *(
            gcp.billing.BudgetThresholdRuleArgs(threshold_percent=p / 100, spend_basis="FORECASTED_SPEND")
            for p in FORECAST_ALERT_PERCENTS
        ),
    ]
