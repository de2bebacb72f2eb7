"""Typed workload profiles: what a team asks for, independent of cloud, region or cluster.

A profile is written once as YAML and validated strictly: unknown keys are errors, and every
error names the file, the field path and what was expected (see :mod:`workloads.loading`).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator
from typing_extensions import Self

from regions.performance import WEIGHT_BYTES

__all__ = [
    "HA_AVAILABILITY",
    "MAX_CONTEXT_TOKENS",
    "MAX_LATENCY_MS",
    "MAX_MONTHLY_USD",
    "MAX_REPLICAS",
    "MAX_RPS",
    "MAX_USER_GEOGRAPHIES",
    "Budget",
    "Capacity",
    "CarbonPolicy",
    "CascadeStage",
    "Compliance",
    "ExternalModel",
    "GpuSharing",
    "LlmModel",
    "MeasuredModel",
    "MeasuredThroughput",
    "ModelSpec",
    "Placement",
    "Scaling",
    "ServerContainer",
    "Slo",
    "UserGeography",
    "WorkloadProfile",
]

DnsLabel = Annotated[str, Field(pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", max_length=40)]
"""A DNS-1123 label: it becomes Pulumi logical names and Kubernetes namespaces."""


def _at_most(bound: float) -> BeforeValidator:
    """Names the bound for an integer too large to be a float (``10**400``), which pydantic would
    otherwise refuse only as "not a valid number"."""

    def check(value: object) -> object:
        if isinstance(value, int) and not isinstance(value, bool) and value > bound:
            shown = int(bound) if float(bound).is_integer() else bound  # as pydantic shows its own bound
            raise ValueError(f"Input should be less than or equal to {shown}")
        return value

    return BeforeValidator(check)


Fraction = Annotated[float, Field(gt=0, le=1), _at_most(1)]

# Upper bounds: far above any real workload, so that a typo or a hostile file (1e300 requests per
# second, 10**9 replicas) is refused with the bound named instead of overflowing the sizing model.
MAX_LATENCY_MS = 3_600_000.0
"""One hour: beyond it no latency target is meaningful for serving."""
MAX_RPS = 1e7
"""Requests per second of one workload."""
MAX_MONTHLY_USD = 1e9
"""USD per month of one workload."""
MAX_REPLICAS = 10_000
"""Replicas of one workload in one region."""
MAX_CONTEXT_TOKENS = 2_000_000
"""Tokens of one sequence (prompt and output)."""
HA_AVAILABILITY = 0.999
"""An availability target from which a workload must run in at least two regions."""
MAX_USER_GEOGRAPHIES = 8
"""User geographies per workload: placement weighs every subset of them in every region (2^n)."""
_MAX_LIST = 256  # entries of a region or country list: the catalog has fewer regions than this
_MAX_TEXT = 200  # characters of a free-text name (owner, model identifier)

LatencyMs = Annotated[float, Field(gt=0, le=MAX_LATENCY_MS), _at_most(MAX_LATENCY_MS)]
"""Milliseconds, at most one hour."""
Rps = Annotated[float, Field(gt=0, le=MAX_RPS), _at_most(MAX_RPS)]

CloudName = Literal["aws", "gcp", "azure"]
_ALL_CLOUDS: tuple[CloudName, ...] = ("aws", "gcp", "azure")


class _Model(BaseModel):
    # Strict: a YAML `true` or `"40"` is not a number, `4711` is not a string; no NaN or infinity.
    model_config = ConfigDict(
        frozen=True, extra="forbid", strict=True, allow_inf_nan=False, use_attribute_docstrings=True
    )


class GpuSharing(_Model):
    """Replicas that share one GPU instead of owning whole ones (small models, many tenants).

    Exactly one of ``mig`` and ``time_slicing``. Either way a replica gets a share of the GPU's
    memory, bandwidth and compute, so a node serves more replicas of less each: the planner sizes
    a replica on its share.
    """

    mig: Literal["1g", "2g", "3g"] | None = None
    """Multi-Instance GPU: every GPU of the node split into isolated instances of this many compute
    slices (of 7): ``1g`` = 7 per GPU (1/8 of the memory each), ``2g`` = 3 (2/8), ``3g`` = 2 (4/8).
    NVIDIA A100, H100, H200 and B200 only."""
    time_slicing: Annotated[int, Field(ge=2, le=48)] | None = None
    """Replicas that take turns on one GPU, with no memory or fault isolation; each gets an equal
    share of its memory, bandwidth and compute. 2 to 48 (GKE's limit). Any NVIDIA GPU."""

    @model_validator(mode="after")
    def _one_way(self) -> Self:
        if (self.mig is None) == (self.time_slicing is None):
            raise ValueError("set exactly one of 'mig' and 'time_slicing'")
        return self

    @property
    def label(self) -> str:
        """How the plan and the pool labels name the sharing: ``mig-1g`` or ``time-slicing-4``."""
        return f"mig-{self.mig}" if self.mig is not None else f"time-slicing-{self.time_slicing}"


class LlmModel(_Model):
    """A transformer served token by token; sized by the calibrated model in regions/performance.py."""

    kind: Literal["llm"] = "llm"
    name: Annotated[str, Field(min_length=1, max_length=_MAX_TEXT)]
    """Model identifier handed to the server, e.g. a Hugging Face repository id."""
    params_billion: Annotated[float, Field(gt=0, le=2000), _at_most(2000)]
    """Parameter count in billions."""
    precision: Literal["bf16", "fp8", "int8", "int4"] = "bf16"
    """Weight precision. int4 is weight-only: compute runs at bf16."""
    context_tokens: Annotated[int, Field(ge=128, le=MAX_CONTEXT_TOKENS)]
    """Longest sequence (prompt + output) one request may use; one such sequence must fit in memory."""
    layers: Annotated[int, Field(ge=1, le=512)]
    """Transformer layers (``num_hidden_layers``); sizes the KV cache."""
    kv_heads: Annotated[int, Field(ge=1, le=512)]
    """Key/value heads per layer (``num_key_value_heads``; equals attention heads without GQA)."""
    head_dim: Annotated[int, Field(ge=16, le=1024)]
    """Dimension of one attention head."""
    hidden_size: Annotated[int, Field(ge=64, le=65_536)] | None = None
    """Model width (``hidden_size``); sizes tensor-parallel traffic and attention. Default: estimated
    from ``params ≈ 12 · layers · hidden_size²``, the dense-transformer rule."""
    active_params_billion: Annotated[float, Field(gt=0, le=2000), _at_most(2000)] | None = None
    """Parameters each token passes through, for mixture-of-experts models (Mixtral 8x7B: 12.9 of
    46.7). Default: all of them (a dense model)."""
    kv_cache_dtype: Literal["bf16", "fp8"] = "bf16"
    """Element type of the KV cache; fp8 halves it (vLLM ``--kv-cache-dtype fp8``). Default: bf16."""
    gpu_sharing: GpuSharing | None = None
    """Run each replica on a share of one NVIDIA GPU (MIG instance or time slice). Default: replicas
    own whole accelerators."""

    @model_validator(mode="after")
    def _active_within_total(self) -> Self:
        if self.active_params_billion is not None and self.active_params_billion > self.params_billion:
            raise ValueError(
                f"active_params_billion ({self.active_params_billion}) exceeds params_billion ({self.params_billion})"
            )
        return self


class MeasuredThroughput(_Model):
    """A throughput the team measured for one replica on one accelerator."""

    accelerator: str
    """Accelerator it was measured on, canonicalised against the catalog (``a100-80gb`` -> ``A100-80GB``)."""
    accelerators_per_replica: Annotated[int, Field(ge=1, le=16)] = 1
    requests_per_second: Rps
    """Sustained requests per second of one replica while meeting ``p95_latency_ms``; at most 1e7."""
    p95_latency_ms: LatencyMs
    """Service-side p95 latency measured at that throughput, ms; at most one hour."""

    @field_validator("accelerator")
    @classmethod
    def _canonical(cls, value: str) -> str:
        from regions.catalog import UnknownName, canonical_accelerator  # the catalog is read on first use

        try:
            return canonical_accelerator(value)
        except UnknownName as exc:
            raise ValueError(str(exc)) from None


_PROMETHEUS_NAME = r"^[a-zA-Z_:][a-zA-Z0-9_:]*$"
_HTTP_PATH = r"^/[A-Za-z0-9._~/-]*$"


class ServerContainer(_Model):
    """The server a measured model runs in: the team's image, how to reach it, what to scale on."""

    image: Annotated[str, Field(min_length=1, max_length=_MAX_TEXT, pattern=r"^[a-z0-9][A-Za-z0-9._/:@-]*$")]
    """Container image pinned to a version: a tag other than ``latest``, or a ``@sha256:`` digest."""
    args: Annotated[list[Annotated[str, Field(max_length=_MAX_TEXT)]], Field(max_length=64)] = Field(
        default_factory=list
    )
    """Arguments of the image's entrypoint. ``$(TENSORFLEET_ARTIFACTS)`` expands to the workload's own
    prefix of the region's artifact storage (``s3://…/<workload>/``, ``gs://…``, ``as://…``)."""
    port: Annotated[int, Field(ge=1, le=65535)] = 8000
    """Port of the inference API (HTTP)."""
    health_path: Annotated[str, Field(max_length=_MAX_TEXT, pattern=_HTTP_PATH)] = "/health"
    """Answers 200 once the model is loaded and the server takes requests."""
    metrics_port: Annotated[int, Field(ge=1, le=65535)] | None = None
    """Port of the Prometheus metrics. Default: ``port``."""
    metrics_path: Annotated[str, Field(max_length=_MAX_TEXT, pattern=_HTTP_PATH)] = "/metrics"
    queue_metric: Annotated[str, Field(max_length=_MAX_TEXT, pattern=_PROMETHEUS_NAME)]
    """Prometheus gauge of the requests waiting in one server: the autoscaler holds its sum at
    ``scaling.target_queue_depth`` per replica."""

    @field_validator("image")
    @classmethod
    def _pinned(cls, image: str) -> str:
        from components.serving.images import image_problem

        if image_problem(image):
            raise ValueError(f"must name a version (a tag other than latest, or a digest), got {image!r}")
        return image


class MeasuredModel(_Model):
    """A non-LLM model (vision, ranking) sized only from the team's own measurements."""

    kind: Literal["measured"] = "measured"
    name: Annotated[str, Field(min_length=1, max_length=_MAX_TEXT)]
    throughput: Annotated[list[MeasuredThroughput], Field(min_length=1, max_length=64)]
    """One entry per accelerator it may run on; accelerators without an entry are never chosen."""
    weights_gb: Annotated[float, Field(gt=0, le=10_000)] | None = None
    """Size of the model's weights, GB (at most 10,000): what the region's artifact bucket stores and
    the bill prices. Default: unknown, so the bucket is billed for the LLM weights beside it only."""
    server: ServerContainer | None = None
    """The server to run it in. Default: none; the stack then deploys no server for the model, and
    the team deploys its own into the workload's namespace."""


class ExternalModel(_Model):
    """Traffic served only by external providers through the gateway: no accelerator capacity."""

    kind: Literal["external"] = "external"
    provider_models: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=_MAX_TEXT)]], Field(min_length=1, max_length=16)
    ]
    """Provider-qualified model names in fallback order, e.g. ``openai/gpt-4o-mini``; at most 16."""


def weights_gb(model: LlmModel | MeasuredModel | ExternalModel) -> float | None:
    """Size of a model's weights in GB: parameters x bytes per weight for LLMs, as stated otherwise."""
    if isinstance(model, MeasuredModel):
        return model.weights_gb
    if isinstance(model, ExternalModel):
        return None  # served elsewhere: nothing to store
    return model.params_billion * WEIGHT_BYTES[model.precision]


ModelSpec = Annotated[LlmModel | MeasuredModel | ExternalModel, Field(discriminator="kind")]


class CascadeStage(_Model):
    """One model of a cascade: a fast model sees every request, harder ones escalate."""

    name: DnsLabel
    """Stage name, part of logical names (``fast``, ``accurate``)."""
    share: Fraction
    """Fraction of the workload's requests that reach this stage."""
    model: ModelSpec


class Slo(_Model):
    """Service-level objective the placement must meet at peak."""

    p95_latency_ms: LatencyMs
    """End-to-end p95 seen by users, ms: network round trip plus service time; at most one hour."""
    steady_rps: Annotated[float, Field(ge=0, le=MAX_RPS), _at_most(MAX_RPS)]
    """Typical requests per second across all geographies; at most 1e7."""
    peak_rps: Rps
    """Highest requests per second to absorb by scaling out; at most 1e7."""
    tokens_in: Annotated[int, Field(ge=1, le=MAX_CONTEXT_TOKENS)] = 512
    """Prompt tokens per request (LLMs); with ``tokens_out``, at most each model's ``context_tokens``."""
    tokens_out: Annotated[int, Field(ge=0, le=MAX_CONTEXT_TOKENS)] = 0
    """Generated tokens per request; 0 for embedding or classification models."""
    availability: Annotated[float, Field(gt=0, lt=1)] = 0.999
    """Availability target, e.g. 0.999; at 0.999 or above, min_regions must be at least 2."""
    ttft_p95_ms: LatencyMs | None = None
    """Streamed LLM traffic: p95 time to first token seen by users (network round trip, queueing
    and prefill), ms. Default: only ``p95_latency_ms`` binds."""
    tpot_p95_ms: LatencyMs | None = None
    """Streamed LLM traffic: p95 time per output token after the first, ms. Default: unbounded."""

    @model_validator(mode="after")
    def _peak_not_below_steady(self) -> Self:
        if self.peak_rps < self.steady_rps:
            raise ValueError(f"peak_rps ({self.peak_rps}) is below steady_rps ({self.steady_rps})")
        if self.tpot_p95_ms is not None and self.tokens_out < 2:
            raise ValueError("tpot_p95_ms needs tokens_out of at least 2 (a time between output tokens)")
        if self.ttft_p95_ms is not None and self.ttft_p95_ms > self.p95_latency_ms:
            raise ValueError(f"ttft_p95_ms ({self.ttft_p95_ms}) exceeds p95_latency_ms ({self.p95_latency_ms})")
        return self


class Budget(_Model):
    monthly_usd: Annotated[float, Field(gt=0, le=MAX_MONTHLY_USD), _at_most(MAX_MONTHLY_USD)]
    """Ceiling on the workload's estimated monthly accelerator spend, USD; at most 1e9."""


class Compliance(_Model):
    hipaa: bool = False
    """Protected health information: placed only on clouds the stack lists under ``hipaaClouds``,
    and only inside ``data_residency``, which must then be set."""
    data_residency: Annotated[list[str], Field(max_length=_MAX_LIST)] = Field(default_factory=list)
    """Countries (ISO 3166-1 alpha-2, ``US``), country groups (``EU``, ``EEA``) or regions
    (``aws:us-east-1``) data may live in; each entry must name one the catalog knows (checked by
    :func:`regions.names.check_profile_names`). Default: anywhere."""


class UserGeography(_Model):
    """Where a share of the users are; latency is estimated from here to each region."""

    name: DnsLabel
    latitude: Annotated[float, Field(ge=-90, le=90), _at_most(90)]
    longitude: Annotated[float, Field(ge=-180, le=180), _at_most(180)]
    share: Fraction
    """Share of the workload's traffic from here; the shares of a profile sum to 1."""
    max_rtt_ms: LatencyMs | None = None
    """Network budget: regions farther than this round trip never serve these users. Default: any
    region within the SLO."""


class Placement(_Model):
    clouds: list[CloudName] = Field(default_factory=lambda: list(_ALL_CLOUDS))
    """Clouds the workload may run on. Default: all three."""
    allowed_regions: Annotated[list[str], Field(max_length=_MAX_LIST)] = Field(default_factory=list)
    """``cloud:region`` or bare region codes, each a region of ``clouds``. Default: every region of ``clouds``."""
    denied_regions: Annotated[list[str], Field(max_length=_MAX_LIST)] = Field(default_factory=list)
    """``cloud:region`` or bare region codes never to use, each a region of ``clouds``. Default: none."""
    min_regions: Annotated[int, Field(ge=1, le=16)] = 1
    """Regions that must each run the workload (high availability). Default: 1."""
    accelerators: Annotated[list[str], Field(max_length=_MAX_LIST)] = Field(default_factory=list)
    """Accelerators the workload may run on (the ones the team has qualified its model on),
    canonicalised against the catalog. Default: any."""
    users: Annotated[list[UserGeography], Field(min_length=1, max_length=MAX_USER_GEOGRAPHIES)]
    """Where the users are; at most 8 geographies."""

    @field_validator("accelerators")
    @classmethod
    def _canonical_accelerators(cls, values: list[str]) -> list[str]:
        from regions.catalog import UnknownName, canonical_accelerator  # the catalog is read on first use

        try:
            return [canonical_accelerator(value) for value in values]
        except UnknownName as exc:
            raise ValueError(str(exc)) from None

    @model_validator(mode="after")
    def _shares_sum_to_one(self) -> Self:
        total = sum(u.share for u in self.users)
        if abs(total - 1) > 1e-6:
            raise ValueError(f"user shares must sum to 1, got {total:g}")
        names = [u.name for u in self.users]
        if len(set(names)) != len(names):
            raise ValueError(f"user geography names must be unique, got {names}")
        return self


class CarbonPolicy(_Model):
    max_gco2_per_kwh: Annotated[float, Field(gt=0, le=2000), _at_most(2000)] | None = None
    """Grid-intensity cap for any region this workload uses, gCO2/kWh; at most 2000, more than twice
    the dirtiest grid in the catalog. Default: no cap."""
    price_usd_per_tonne: Annotated[float, Field(ge=0, le=100_000), _at_most(100_000)] | None = None
    """Internal carbon price, USD per tCO2; at most 100,000. Default: the stack's ``carbonPriceUsdPerTonne``."""


class Scaling(_Model):
    min_replicas: Annotated[int, Field(ge=0, le=MAX_REPLICAS)] = 1
    """Replicas kept in every region even when idle; at most 10,000. 0 only with ``scale_to_zero``."""
    max_replicas: Annotated[int, Field(ge=1, le=MAX_REPLICAS)] = 64
    """Upper bound per region for the autoscaler; at most 10,000."""
    target_queue_depth: Annotated[int, Field(ge=1, le=10_000)] = 8
    """Waiting requests per replica at which the autoscaler adds replicas; at most 10,000."""
    target_p95_latency_ms: LatencyMs | None = None
    """Service latency at which the autoscaler adds replicas, ms; at most one hour. Default: the SLO's p95."""
    scale_to_zero: bool = False
    """Allow zero replicas when idle (development stacks)."""

    @model_validator(mode="after")
    def _bounds(self) -> Self:
        if self.min_replicas > self.max_replicas:
            raise ValueError(f"min_replicas ({self.min_replicas}) exceeds max_replicas ({self.max_replicas})")
        if self.min_replicas == 0 and not self.scale_to_zero:
            raise ValueError("min_replicas is 0 but scale_to_zero is false; set one or the other")
        return self


class Capacity(_Model):
    on_demand: bool = True
    """May use on-demand capacity. Default: yes."""
    spot: bool = False
    """May use spot/preemptible capacity (cheaper, interruptible). Default: no."""

    @model_validator(mode="after")
    def _some_capacity(self) -> Self:
        if not (self.on_demand or self.spot):
            raise ValueError("at least one of on_demand and spot must be true")
        return self


class WorkloadProfile(_Model):
    """One inference workload as its owners describe it."""

    name: DnsLabel
    """Identity of the workload: prefix of every logical name. Renaming it replaces resources."""
    owner: Annotated[str, Field(min_length=1, max_length=_MAX_TEXT)]
    """Team or person accountable for it (cost-allocation tag)."""
    tenant: DnsLabel
    """Tenant it belongs to; becomes its Kubernetes namespace and budget scope."""
    description: Annotated[str, Field(max_length=2000)] = ""
    model: ModelSpec | None = None
    """The model served. Exactly one of ``model`` and ``cascade`` is set."""
    cascade: Annotated[list[CascadeStage], Field(min_length=2)] | None = None
    """A cascade of models (fast first). Exactly one of ``model`` and ``cascade`` is set."""
    slo: Slo
    budget: Budget
    compliance: Compliance = Field(default_factory=Compliance)
    placement: Placement
    carbon: CarbonPolicy = Field(default_factory=CarbonPolicy)
    scaling: Scaling = Field(default_factory=Scaling)
    capacity: Capacity = Field(default_factory=Capacity)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if (self.model is None) == (self.cascade is None):
            raise ValueError("set exactly one of 'model' and 'cascade'")
        if self.cascade is not None:
            if self.cascade[0].share != 1:
                raise ValueError("the first cascade stage sees every request: its share must be 1")
            if any(isinstance(s.model, ExternalModel) for s in self.cascade):
                raise ValueError("cascade stages must be served models (llm or measured), not external")
            names = [s.name for s in self.cascade]
            if len(set(names)) != len(names):
                raise ValueError(f"cascade stage names must be unique, got {names}")
        for stage in self.stages:
            context = stage.model.context_tokens if isinstance(stage.model, LlmModel) else None
            if context is not None and self.slo.tokens_in + self.slo.tokens_out > context:
                where = "model" if self.model is not None else f"cascade stage {stage.name!r}"
                raise ValueError(
                    f"slo.tokens_in + slo.tokens_out ({self.slo.tokens_in + self.slo.tokens_out}) exceeds the "
                    f"{where} context_tokens ({context}); a request must fit in the model's context"
                )
        if self.compliance.hipaa and not self.compliance.data_residency:
            raise ValueError("a HIPAA workload must set compliance.data_residency")
        if self.slo.availability >= HA_AVAILABILITY and self.placement.min_regions < 2 and not self.gateway_only:
            raise ValueError(
                f"availability {self.slo.availability} needs placement.min_regions >= 2 "
                f"(got {self.placement.min_regions}); lower the target or add regions"
            )
        return self

    @property
    def gateway_only(self) -> bool:
        """True when every request goes to external providers (no accelerators to place)."""
        return isinstance(self.model, ExternalModel)

    @property
    def stages(self) -> list[CascadeStage]:
        """The served models as stages; a single model is one stage named ``main`` with share 1."""
        if self.cascade is not None:
            return list(self.cascade)
        if self.model is None or isinstance(self.model, ExternalModel):
            return []
        return [CascadeStage(name="main", share=1.0, model=self.model)]
