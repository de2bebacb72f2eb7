"""Runs the policy pack's own rule functions over a program run, the way the policy analyzer does.

Resources are handed over as the analyzer hands them: wire-form properties behind pulumi-policy's
unknown-checking proxy (values known only after deployment raise UnknownValueError, reported as
an advisory "can't run during preview"), with their provider, parent and options.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any

from pulumi.output import Unknown
from pulumi.runtime import rpc
from pulumi_policy import (
    EnforcementLevel,
    PolicyCustomTimeouts,
    PolicyProviderResource,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
)
from pulumi_policy.policy import _NotApplicableError  # raised by args.not_applicable(); no public name
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, UnknownValueError, unknown_checking_proxy

from tensorfleet.engine import PROJECT_ROOT, ProgramRun, Registration

__all__ = ["POLICIES_DIR", "engine_form", "evaluate", "is_blocking"]

POLICIES_DIR = PROJECT_ROOT / "policies"
_LEVELS = {level.value: level for level in EnforcementLevel}


def evaluate(run: ProgramRun, config: Mapping[str, Mapping[str, Any]] | None = None) -> list[dict[str, Any]]:
    """Policy results for the run: ``{"policy", "enforcement", "urn", "message"}``, violations and notes.

    ``config`` is the policy-pack config, in the format of ``pulumi preview --policy-pack-config``.
    """
    policies, default = _pack()
    config = config or {}
    providers = {r.urn: _provider(r) for r in run.registrations if r.type.startswith("pulumi:providers:")}
    resources = _resources(run.registrations, providers)
    results: list[dict[str, Any]] = []
    for policy in policies:
        settings = dict(config.get(policy.name) or {})
        level = _LEVELS.get(settings.pop("enforcementLevel", None) or "", policy.enforcement_level or default)
        if level == EnforcementLevel.DISABLED:
            continue

        def report(message: str, urn: str | None = None, *, name: str = policy.name, at: str = level.value) -> None:
            results.append({"policy": name, "enforcement": at, "urn": urn, "message": message})

        def preview_note(exc: UnknownValueError, urn: str | None, *, name: str = policy.name) -> None:
            # As the analyzer does: a rule that needs a value known only after deployment is advisory.
            results.append({"policy": name, "enforcement": EnforcementLevel.ADVISORY.value, "urn": urn,
                            "message": f"can't run policy '{name}' during preview: {exc}"})  # fmt: skip

        if isinstance(policy, ResourceValidationPolicy):
            for resource in resources:  # each resource on its own, as Analyze is called per resource
                args = ResourceValidationArgs(resource.resource_type, resource.props, resource.urn, resource.name,
                                              resource.opts, resource.provider, settings)  # fmt: skip
                try:
                    _run(policy.validate, args, lambda m, u=None, r=resource.urn: report(m, r))
                except UnknownValueError as exc:
                    preview_note(exc, resource.urn)
        else:
            try:
                _run(policy.validate, StackValidationArgs(resources, settings), report)
            except UnknownValueError as exc:
                preview_note(exc, None)
    return results


def is_blocking(results: list[dict[str, Any]]) -> bool:
    """Whether any result is a mandatory violation (the plan then fails)."""
    return any(r["enforcement"] == EnforcementLevel.MANDATORY.value for r in results)


def _run(validate: Any, args: Any, report: Any) -> None:
    try:
        validate(args, report)
    except _NotApplicableError:
        return


def _pack() -> tuple[list[Any], EnforcementLevel]:
    # The pack directory is the policy host's sys.path[0]; its modules import each other by bare name.
    if str(POLICIES_DIR) not in sys.path:
        sys.path.insert(0, str(POLICIES_DIR))
    import pack_policies

    return pack_policies.POLICIES, pack_policies.DEFAULT_ENFORCEMENT


def engine_form(value: Any, reveal_secrets: bool = True) -> Any:
    """Registration inputs in the engine's wire form: unknowns as the engine's sentinel; secrets
    revealed (as the policy SDK hands them to rules) or kept in their envelope (as sent over gRPC)."""
    if reveal_secrets and rpc.is_rpc_secret(value):
        return engine_form(rpc.unwrap_rpc_secret(value), reveal_secrets)
    if isinstance(value, Unknown):
        return UNKNOWN_STRING_VALUE
    if isinstance(value, Mapping):
        return {k: engine_form(v, reveal_secrets) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [engine_form(v, reveal_secrets) for v in value]
    return value


def _provider(reg: Registration) -> PolicyProviderResource:
    return PolicyProviderResource(reg.type, unknown_checking_proxy(engine_form(reg.inputs)), reg.urn, reg.name)


def _resources(registrations: list[Registration], providers: dict[str, PolicyProviderResource]) -> list[PolicyResource]:
    made: dict[str, PolicyResource] = {}
    for reg in registrations:  # parents are registered before their children
        provider = providers.get(reg.provider.rsplit("::", 1)[0]) if reg.provider else None
        options = PolicyResourceOptions(
            protect=reg.protect,
            ignore_changes=[],
            delete_before_replace=None,
            aliases=[],
            custom_timeouts=PolicyCustomTimeouts(0, 0, 0),
            additional_secret_outputs=[],
        )
        made[reg.urn] = PolicyResource(
            reg.type,
            unknown_checking_proxy(engine_form(reg.inputs)),
            reg.urn,
            reg.name,
            options,
            provider,
            made.get(reg.parent or ""),
            [made[d] for d in reg.dependencies if d in made],
            {},
        )
    return list(made.values())
