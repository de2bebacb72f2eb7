"""Runs the real Pulumi program under Pulumi's mock engine and records what it registers.

This is how ``tensorfleet plan`` previews a stack without the Pulumi CLI or cloud credentials:
the program in ``stacks/`` runs unchanged, exactly as the Python language host runs it
(``runpy`` on the program directory inside ``run_in_stack``); only the resource monitor is
Pulumi's ``MockMonitor``, which echoes inputs back as outputs.
"""

from __future__ import annotations

import json
import re
import runpy
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
from pulumi.runtime import mocks, rpc, settings
from pulumi.runtime.stack import run_in_stack
from pulumi.runtime.sync_await import _sync_await

from tensorfleet.stack_config import SECRET_PLACEHOLDER
from workloads.safe_yaml import YamlInputError, bounded, load_yaml_file

__all__ = [
    "PROJECT_ROOT",
    "EchoMocks",
    "ProgramRun",
    "Registration",
    "StackConfigError",
    "read_stack_config",
    "run_program",
    "stack_config_path",
]

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PROJECT_NAME = "tensorfleet"


class StackConfigError(ValueError):
    """The stack's ``Pulumi.<stack>.yaml`` is missing or malformed."""


@dataclass(frozen=True, slots=True)
class Registration:
    """One resource as the engine received it."""

    urn: str
    type: str
    name: str
    parent: str | None
    custom: bool
    provider: str | None
    inputs: dict[str, Any]
    """Wire-form (camelCase) inputs, secrets still wrapped as the engine sees them."""
    protect: bool = False
    dependencies: tuple[str, ...] = ()
    """URNs this resource was registered as depending on."""


@dataclass
class ProgramRun:
    """What one run of the program registered and exported."""

    registrations: list[Registration] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)


def echoed_outputs(resource_type: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    """A resource's inputs as its outputs, in the shape the cloud returns them where that differs:
    Azure takes user-assigned identities as a list of IDs and returns them keyed by ID."""
    outputs = dict(inputs)
    identity = outputs.get("identity")
    if resource_type.startswith("azure-native:") and isinstance(identity, Mapping):
        assigned = identity.get("userAssignedIdentities")
        if isinstance(assigned, list):
            outputs["identity"] = {**identity, "userAssignedIdentities": {str(i): {} for i in assigned}}
    return outputs


class EchoMocks(mocks.Mocks):
    """Outputs equal inputs; the IDs are stable so that repeated plans compare equal.

    Outputs the cloud computes (ARNs, generated names) are therefore unknown, as in a preview.
    """

    def new_resource(self, args: mocks.MockResourceArgs) -> tuple[str, dict]:
        return f"{args.name}-id", echoed_outputs(args.typ, args.inputs)

    def call(self, args: mocks.MockCallArgs) -> dict:  # type: ignore[override]  # a plain dict; see the SDK's mock monitor
        return {}


class _RecordingMonitor(mocks.MockMonitor):
    """Pulumi's mock monitor, also keeping each registration's parent and the stack outputs."""

    def __init__(self, run: ProgramRun, mock: mocks.Mocks) -> None:
        super().__init__(mock)
        self._run = run
        self._stack_urn: str | None = None

    def RegisterResource(self, request: Any) -> Any:
        response = super().RegisterResource(request)
        if request.type == "pulumi:pulumi:Stack":
            self._stack_urn = response.urn
            return response
        self._run.registrations.append(
            Registration(
                urn=response.urn,
                type=request.type,
                name=request.name,
                parent=request.parent or None,
                custom=bool(request.custom),
                provider=request.provider or None,
                inputs=rpc.deserialize_properties(request.object, keep_unknowns=True),
                protect=bool(request.protect),
                dependencies=tuple(request.dependencies),
            )
        )
        return response

    def RegisterResourceOutputs(self, request: Any) -> Any:
        if request.urn == self._stack_urn:
            self._run.outputs = rpc.deserialize_properties(request.outputs, keep_unknowns=True)
        return super().RegisterResourceOutputs(request)


STACK_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
"""Pulumi's stack-name rule: letters, digits, ``-``, ``_`` and ``.``, at most 100 characters."""


def stack_config_path(stack: str, project_root: Path = PROJECT_ROOT) -> Path:
    """``stacks/Pulumi.<stack>.yaml`` of a valid stack name (raises StackConfigError otherwise)."""
    if not STACK_NAME.fullmatch(stack):
        raise StackConfigError(
            f"stack name {bounded(stack)}: expected 1 to 100 letters, digits, '-', '_' or '.' (Pulumi's stack names)"
        )
    return project_root / "stacks" / f"Pulumi.{stack}.yaml"


def read_stack_config(stack: str, project_root: Path = PROJECT_ROOT) -> tuple[dict[str, str], set[str]]:
    """Reads ``stacks/Pulumi.<stack>.yaml`` into the engine's config form, as the CLI hands it over.

    Strings stay strings; every other value is JSON text. ``secure:`` values cannot be decrypted
    without the Pulumi CLI: each becomes a stand-in of its field's form (:func:`_stand_in`), and its
    top-level key is marked secret (as the CLI marks a whole object secret when any part of it is),
    so nothing secret is read here and every input built from it shows as ``[secret]``.
    """
    path = stack_config_path(stack, project_root)
    if not path.is_file():
        known = sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in path.parent.glob("Pulumi.*.yaml"))
        raise StackConfigError(f"{path}: no such stack config; known stacks: {', '.join(known) or 'none'}")
    try:
        document = load_yaml_file(path)
    except YamlInputError as exc:
        raise StackConfigError(f"{path}: {exc}") from None
    entries = {} if document is None else document.get("config", {}) if isinstance(document, dict) else None
    if not isinstance(entries, dict):
        raise StackConfigError(f"{path}: 'config' must be a mapping of 'namespace:key' to values")
    config: dict[str, str] = {}
    secret_keys: set[str] = set()
    for key, value in entries.items():
        if not isinstance(key, str) or ":" not in key:
            raise StackConfigError(
                f"{path}: config key {bounded(key)} must be namespaced, e.g. 'tensorfleet:{bounded(str(key))[1:-1]}'"
            )
        plain, secret = _without_secure(value, (key.split(":", 1)[1],))
        if secret:
            secret_keys.add(key)
        try:
            config[key] = plain if isinstance(plain, str) else json.dumps(plain, default=str)
        except ValueError as exc:  # a circular structure
            raise StackConfigError(f"{path}: {key}: {exc}") from None
    return config, secret_keys


def _without_secure(value: Any, path: tuple[str | int, ...]) -> tuple[Any, bool]:
    """The value with each ``{secure: ...}`` leaf replaced by a stand-in, and whether there was one."""
    if isinstance(value, Mapping):
        if set(value) == {"secure"}:
            return _stand_in(path), True
        pairs = {k: _without_secure(v, (*path, str(k))) for k, v in value.items()}
        return {k: v for k, (v, _) in pairs.items()}, any(s for _, s in pairs.values())
    if isinstance(value, list):
        items = [_without_secure(v, (*path, i)) for i, v in enumerate(value)]
        return [v for v, _ in items], any(s for _, s in items)
    return value, False


def _stand_in(path: tuple[str | int, ...]) -> Any:
    """A value of the right form for an encrypted config value the offline plan cannot decrypt.

    Every input built from it is a secret (its key is marked secret), so plan.json shows
    ``[secret]`` wherever it goes; positions keep list entries distinct. Fields without a stand-in
    (those that shape the plan) get a placeholder the program refuses with its own message.
    """
    index = next((part for part in reversed(path) if isinstance(part, int)), 0)
    names = tuple(part for part in path if isinstance(part, str))
    stand_ins: dict[tuple[str, ...], Any] = {
        ("costCentre",): "secret",
        ("budgetAlertEmails",): f"secret-{index}@example.invalid",
        ("aws", "account_id"): "000000000000",
        ("aws", "admin_principal_arns"): f"arn:aws:iam::000000000000:role/secret-{index}",
        ("aws", "public_access_cidrs"): f"192.0.2.{index % 256}/32",  # TEST-NET-1 (RFC 5737)
        ("aws", "vpc_cidr"): "10.64.0.0/16",
        ("aws", "kubernetes_version"): "1.33",
    }
    if names[:2] == ("aws", "existing_networks") and len(names) >= 4:
        return "vpc-00000000" if names[3] == "vpc_id" else f"subnet-{zlib.crc32(names[-1].encode()):08x}"
    if names[:2] == ("aws", "capacity_blocks") and names[-1] == "reservation_id":
        return "cr-0"
    return stand_ins.get(names, SECRET_PLACEHOLDER)


def run_program(
    stack: str,
    config: Mapping[str, str],
    secret_keys: set[str] | None = None,
    project_root: Path = PROJECT_ROOT,
    mock: mocks.Mocks | None = None,
    program_dir: Path | None = None,
    project: str = PROJECT_NAME,
) -> ProgramRun:
    """Runs ``stacks/`` under the mock engine with ``config``; returns what it registered.

    ``mock`` replaces :class:`EchoMocks`, for tests that need outputs the cloud would compute;
    ``program_dir`` and ``project`` run another Pulumi program of the repository (``bootstrap/``).

    Raises:
        pulumi.RunError: the program aborted cleanly (bad config, infeasible placement).
        Exception: anything else the program raised.
    """
    run = ProgramRun()
    monitor = _RecordingMonitor(run, mock or EchoMocks())
    pulumi.runtime.set_all_config(dict(config), list(secret_keys or ()))
    mocks.set_mocks(monitor.mocks, project=project, stack=stack, preview=True, monitor=monitor)
    # set_mocks installs a finished root stack for unit tests; the language host instead runs the
    # program inside run_in_stack, which creates the root stack and registers its outputs at the end.
    settings.set_root_resource(None)  # type: ignore[arg-type]  # the SDK accepts None to clear it
    directory = program_dir or project_root / "stacks"

    def program() -> None:
        runpy.run_path(str(directory), run_name="__main__")

    _sync_await(run_in_stack(program))
    return run
