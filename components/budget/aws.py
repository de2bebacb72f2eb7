"""AWS Budgets for each workload and for the stack, alerting a KMS-encrypted SNS topic."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.aws.policies import sns_budgets_publish_policy
from components.budget.spec import ACTUAL_ALERT_PERCENTS, FORECAST_ALERT_PERCENTS, BudgetSpec

__all__ = ["ACTUAL_ALERT_PERCENTS", "FORECAST_ALERT_PERCENTS", "AwsBudgets", "AwsBudgetsArgs", "BudgetSpec"]


@dataclass(frozen=True, kw_only=True)
class AwsBudgetsArgs:
    account_id: pulumi.Input[str]
    """The account whose spend the budgets track (12 digits; may be a secret)."""
    key_arn: pulumi.Input[str]
    """KMS key that encrypts the alert topic."""
    budgets: tuple[BudgetSpec, ...]
    alert_emails: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """E-mail subscribers of the alert topic (each confirms by email; may be secrets), each under a
    stable key that names its subscription (``<name>-alerts-<key>``):
    ``components.naming.keyed(addresses, email_key)``. Default: none."""


class AwsBudgets(pulumi.ComponentResource):
    """Alert topic, its subscribers, and one budget per workload plus one for the stack."""

    topic_arn: pulumi.Output[str]

    def __init__(self, name: str, args: AwsBudgetsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("tensorfleet:budget:AwsBudgets", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        topic = aws.sns.Topic(f"{name}-alerts", kms_master_key_id=args.key_arn, opts=child)
        aws.sns.TopicPolicy(
            f"{name}-alerts",
            arn=topic.arn,
            policy=pulumi.Output.all(topic.arn, args.account_id).apply(
                lambda values: json.dumps(sns_budgets_publish_policy(values[0], values[1]))
            ),
            opts=child,
        )
        for key, email in args.alert_emails.items():
            aws.sns.TopicSubscription(
                f"{name}-alerts-{key}", topic=topic.arn, protocol="email", endpoint=email, opts=child
            )
        for spec in args.budgets:
            aws.budgets.Budget(
                f"{name}-{spec.name}",
                account_id=args.account_id,
                budget_type="COST",
                time_unit="MONTHLY",
                limit_amount=f"{spec.monthly_usd:.2f}",
                limit_unit="USD",
                cost_filters=[
                    aws.budgets.BudgetCostFilterArgs(
                        name="TagKeyValue", values=[f"user:{k}${v}" for k, v in spec.tags.items()]
                    )
                ],
                notifications=notifications(topic.arn),
                opts=child,
            )
        self.topic_arn = topic.arn
        self.register_outputs({"topic_arn": self.topic_arn})


def notifications(topic_arn: pulumi.Input[str]) -> list[aws.budgets.BudgetNotificationArgs]:
    """Actual spend at 50, 90 and 100 % of the limit, and forecast spend at 100 %."""
    thresholds = [("ACTUAL", p) for p in ACTUAL_ALERT_PERCENTS] + [("FORECASTED", p) for p in FORECAST_ALERT_PERCENTS]
    return [
        aws.budgets.BudgetNotificationArgs(
            notification_type=kind,
            comparison_operator="GREATER_THAN",
            threshold=percent,
            threshold_type="PERCENTAGE",
            subscriber_sns_topic_arns=[topic_arn],
        )
        for kind, percent in thresholds
    ]
