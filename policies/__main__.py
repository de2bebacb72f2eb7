"""The tensorfleet policy pack, as the policy host runs it (`pulumi preview --policy-pack policies`)."""

from pulumi_policy import PolicyPack

from pack_policies import DEFAULT_ENFORCEMENT, PACK_NAME, POLICIES

PolicyPack(name=PACK_NAME, enforcement_level=DEFAULT_ENFORCEMENT, policies=POLICIES)
