"""Drives the policy pack through its real analyzer gRPC protocol, as the Pulumi engine does:
start the pack program, read the port it prints, then Configure, Analyze and AnalyzeStack."""

from __future__ import annotations

import os
import select
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import grpc
from google.protobuf import empty_pb2, struct_pb2
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc

from tensorfleet.engine import ProgramRun, Registration
from tensorfleet.policy_run import POLICIES_DIR, engine_form

STARTUP_SECONDS = 120


@contextmanager
def running_pack() -> Iterator[analyzer_pb2_grpc.AnalyzerStub]:
    """The pack program on 127.0.0.1 (it binds loopback only); stopped on exit, whatever happens."""
    process = subprocess.Popen(
        [sys.executable, "-u", str(POLICIES_DIR / "__main__.py")],
        cwd=POLICIES_DIR,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        ready, _, _ = select.select([process.stdout], [], [], STARTUP_SECONDS)
        if not ready:
            raise TimeoutError(f"the policy pack printed no port within {STARTUP_SECONDS} s")
        line = process.stdout.readline().decode().strip()  # type: ignore[union-attr]
        if not line.isdigit():
            raise RuntimeError(f"the policy pack did not start: {line!r} {process.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
        with grpc.insecure_channel(f"127.0.0.1:{line}") as channel:
            yield analyzer_pb2_grpc.AnalyzerStub(channel)
    finally:
        process.kill()
        process.wait(timeout=30)


def configure(stub: analyzer_pb2_grpc.AnalyzerStub, config: Mapping[str, Mapping[str, Any]]) -> None:
    """Sends policy config as `pulumi preview --policy-pack-config` would: a policy without an
    ``enforcementLevel`` keeps the default the pack reports in GetAnalyzerInfo."""
    levels = {"advisory": analyzer_pb2.ADVISORY, "mandatory": analyzer_pb2.MANDATORY, "disabled": analyzer_pb2.DISABLED}
    info = stub.GetAnalyzerInfo(empty_pb2.Empty(), timeout=60)
    defaults = {policy.name: policy.enforcementLevel for policy in info.policies}
    entries = {}
    for policy, settings in config.items():
        settings = dict(settings)
        level = levels[settings.pop("enforcementLevel")] if "enforcementLevel" in settings else defaults[policy]
        properties = struct_pb2.Struct()
        properties.update(settings)
        entries[policy] = analyzer_pb2.PolicyConfig(enforcementLevel=level, properties=properties)
    stub.Configure(analyzer_pb2.ConfigureAnalyzerRequest(policyConfig=entries), timeout=60)


def analyze_stack(stub: analyzer_pb2_grpc.AnalyzerStub, run: ProgramRun) -> list[analyzer_pb2.AnalyzeDiagnostic]:
    providers = {r.urn: r for r in run.registrations if r.type.startswith("pulumi:providers:")}
    resources = [
        analyzer_pb2.AnalyzerResource(
            type=r.type,
            properties=_struct(r.inputs),
            urn=r.urn,
            name=r.name,
            options=analyzer_pb2.AnalyzerResourceOptions(protect=r.protect, parent=r.parent or ""),
            provider=_provider(providers, r),
            parent=r.parent or "",
            dependencies=list(r.dependencies),
        )
        for r in run.registrations
    ]
    response = stub.AnalyzeStack(analyzer_pb2.AnalyzeStackRequest(resources=resources), timeout=120)
    return list(response.diagnostics)


def analyze(
    stub: analyzer_pb2_grpc.AnalyzerStub, run: ProgramRun, reg: Registration
) -> list[analyzer_pb2.AnalyzeDiagnostic]:
    providers = {r.urn: r for r in run.registrations if r.type.startswith("pulumi:providers:")}
    request = analyzer_pb2.AnalyzeRequest(
        type=reg.type,
        properties=_struct(reg.inputs),
        urn=reg.urn,
        name=reg.name,
        options=analyzer_pb2.AnalyzerResourceOptions(protect=reg.protect),
        provider=_provider(providers, reg),
    )
    return list(stub.Analyze(request, timeout=60).diagnostics)


def _provider(providers: Mapping[str, Registration], reg: Registration) -> analyzer_pb2.AnalyzerProviderResource | None:
    provider = providers.get(reg.provider.rsplit("::", 1)[0]) if reg.provider else None
    if provider is None:
        return None
    return analyzer_pb2.AnalyzerProviderResource(
        type=provider.type, properties=_struct(provider.inputs), urn=provider.urn, name=provider.name
    )


def _struct(inputs: Mapping[str, Any]) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    struct.update(engine_form(inputs, reveal_secrets=False))  # the engine sends secrets in their envelope
    return struct
