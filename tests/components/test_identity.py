"""Identity is a contract: names derive from stable keys, and a renamed type token keeps an alias."""

from __future__ import annotations

import json
from typing import Any

import pytest

from components.aws.bucket import FORMER_TYPES, TYPE, SecureBucket, SecureBucketArgs
from components.naming import digest_key, email_key, keyed, principal_key
from tests.components.aws_mocks import ACCOUNT, register, run_stack

ADMINS = [f"arn:aws:iam::{ACCOUNT}:role/{name}" for name in ("platform-admin", "sre", "break-glass")]
EMAILS = ["ml-platform@example.com", "FinOps@example.com", "oncall@example.com"]


# --- keys --------------------------------------------------------------------------------------


def test_keys_are_short_stable_digests_that_do_not_show_the_value():
    key = principal_key(ADMINS[0])
    # Pinned: a different digest would rename every access entry and subscription of every stack.
    assert key == digest_key(ADMINS[0]) == "ee1753e4b522"
    assert email_key(EMAILS[1]) == "370d7c5721e6"
    assert "platform" not in key and ACCOUNT not in key
    assert email_key("FinOps@Example.com") == email_key("finops@example.com") != email_key("ops@example.com")
    assert principal_key(ADMINS[0]) != principal_key(ADMINS[0].upper())  # ARNs are case-sensitive


def test_keyed_keeps_order_and_refuses_duplicates_by_position():
    assert list(keyed(EMAILS, email_key).values()) == EMAILS
    with pytest.raises(ValueError, match=r"^entries 1 and 3 are the same$") as exc_info:
        keyed([*EMAILS, "finops@EXAMPLE.com"], email_key)
    assert "finops" not in str(exc_info.value).lower()


# --- URN stability under list edits ------------------------------------------------------------


def _run(admins: list[str], emails: list[str]):
    return run_stack("dev", aws={"account_id": ACCOUNT, "admin_principal_arns": admins}, budgetAlertEmails=emails)


def _inputs_by_urn(run):
    """Each URN's inputs as JSON (values known only after deployment compare equal)."""
    return {r.urn: json.dumps(r.inputs, sort_keys=True, default=lambda _: "<unknown>") for r in run.registrations}


@pytest.fixture(scope="module")
def base():
    return _run(ADMINS, EMAILS)


def test_reordering_admins_and_emails_changes_no_urn(base):
    reordered = _run(ADMINS[::-1], [EMAILS[2], EMAILS[0], EMAILS[1]])
    # Same URNs, and each URN still names the same principal or address.
    assert _inputs_by_urn(reordered) == _inputs_by_urn(base)


def test_removing_an_admin_and_an_email_removes_only_their_resources(base):
    edited = _run([ADMINS[0], ADMINS[2]], [EMAILS[1], EMAILS[2]])  # the first e-mail and the middle admin go
    before, after = {r.urn for r in base.registrations}, {r.urn for r in edited.registrations}
    gone = before - after
    assert after < before
    clusters = [r for r in base.registrations if r.type == "aws:eks/cluster:Cluster"]
    # One access entry and one policy association per EKS cluster, one subscription and one GCP
    # notification channel.
    assert len(gone) == 2 * len(clusters) + 2
    assert all(urn.endswith(f"-admin-{principal_key(ADMINS[1])}") for urn in gone if "eks/access" in urn)
    assert sorted(urn for urn in gone if "topicSubscription" in urn or "notificationChannel" in urn) == sorted(
        r.urn for r in base.registrations if r.name.endswith(f"-budgets-alerts-{email_key(EMAILS[0])}")
    )


def test_entry_names_carry_keys_not_values_or_positions(base):
    names = [r.name for r in base.registrations if r.type.startswith(("aws:eks/access", "aws:sns/topicSubscription"))]
    admin_keys = {principal_key(a) for a in ADMINS}
    email_keys = {email_key(e) for e in EMAILS}
    assert names and all(name.rsplit("-", 1)[-1] in admin_keys | email_keys for name in names)
    for value in [*ADMINS, *EMAILS, ACCOUNT]:
        assert not any(value.lower() in r.urn.lower() for r in base.registrations)


# --- aliases of renamed type tokens ------------------------------------------------------------


def _register_bucket(alias_specs: bool) -> list[Any]:
    return register(lambda: SecureBucket("artifacts", SecureBucketArgs(key_arn="arn:aws:kms:key")), alias_specs)


def test_secure_bucket_keeps_its_former_type_token_as_an_alias():
    # The engine maps the component, and through its alias every child, to the former URNs.
    (component,) = [r for r in _register_bucket(alias_specs=True) if r.type == TYPE]
    assert FORMER_TYPES == ("tensorfleet:aws:ModelArtifactBucket",)
    specs = [alias.spec for alias in component.aliases]
    assert [(s.type, s.name, s.noParent, s.parentUrn) for s in specs] == [(FORMER_TYPES[0], "", False, "")]


def test_engines_without_alias_specs_get_the_former_urn():
    (component,) = [r for r in _register_bucket(alias_specs=False) if r.type == TYPE]
    assert list(component.aliasURNs) == [f"urn:pulumi:test::tensorfleet::{FORMER_TYPES[0]}::artifacts"]
