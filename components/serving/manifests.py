"""A model server as Kubernetes objects, built from the planner's sizing: pure functions, so that
tests validate every manifest against the Kubernetes and CRD schemas without an engine.

One server per placement row: a Deployment of vLLM replicas whose tensor-parallel width, batch
(concurrency), context and memory fraction are the sizing's; its Service, PodDisruptionBudget, a
NetworkPolicy admitting only the gateway and metrics namespaces, and a KEDA ScaledObject on queue
depth and latency. The workload's ServiceAccount (bound to its cloud identity) is one per cluster.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from components.serving.images import ACCELERATOR_RESOURCES, NEURON_SCHEDULER, family_of, server_image
from regions.footprint import model_cache_gib

__all__ = [
    "GATEWAY_NAMESPACE",
    "HF_TOKEN_SECRET",
    "LEADER_WORKER_SET",
    "METRICS_NAMESPACE",
    "PORT",
    "PROMETHEUS_URL",
    "ROLE_LABEL",
    "SCRAPE_ANNOTATIONS",
    "CustomServer",
    "ServerSpec",
    "Toleration",
    "load_seconds",
    "server_objects",
    "service_account",
    "toleration_manifest",
]

PORT = 8000
"""vLLM's API port; ``/health`` and ``/metrics`` are served on it."""
GATEWAY_NAMESPACE = "tensorfleet-gateway"
"""Where the gateway runs: the only namespace whose pods may call a model server."""
METRICS_NAMESPACE = "tensorfleet-metrics"
"""Where the Prometheus that KEDA queries runs: it may scrape ``/metrics``."""
PROMETHEUS_URL = f"http://prometheus.{METRICS_NAMESPACE}.svc:9090"
SCRAPE_ANNOTATIONS = {"prometheus.io/scrape": "true", "prometheus.io/port": str(PORT), "prometheus.io/path": "/metrics"}
"""What the metrics add-on's pod-discovery job keeps: a model server is scraped because it says so."""

HF_TOKEN_SECRET = "huggingface"
"""Secret (key ``token``) in a tenant's namespace holding its Hugging Face token, which the tenant
creates; vLLM servers read it when present."""
WEIGHT_LOAD_GBPS = 0.5
"""Assumed rate at which a replica reads its weights at start (GB/s): the pessimistic end of object
storage into one node. With ``ENGINE_START_S`` it bounds the startup probe, never the plan's cost."""
ENGINE_START_S = 180
"""Assumed engine start beyond reading weights (device init, graph capture, KV-cache allocation), s."""
STARTUP_PROBE_PERIOD_S = 10
DRAIN_S = 15
"""preStop pause so that endpoints stop sending before the server stops accepting."""


@dataclass(frozen=True, slots=True)
class Toleration:
    key: str
    value: str | None = None
    effect: str = "NoSchedule"


@dataclass(frozen=True, kw_only=True)
class CustomServer:
    """A team's own server image (a measured model) instead of vLLM."""

    image: str
    args: tuple[str, ...] = ()
    port: int = 8000
    health_path: str = "/health"
    metrics_port: int | None = None
    metrics_path: str = "/metrics"
    queue_metric: str
    """Prometheus gauge of waiting requests per server: the queue-depth trigger."""


@dataclass(frozen=True, kw_only=True)
class ServerSpec:
    """What one placement row serves, and on which nodes."""

    workload: str
    stage: str
    namespace: str
    """The tenant's namespace."""
    model: str
    """The served model (``--model`` and ``--served-model-name``)."""
    accelerator: str
    """Catalog accelerator name; decides the image and the extended resource."""
    accelerators_per_replica: int
    """Tensor-parallel width: chips one replica spans on each of its nodes."""
    replicas_per_node: int
    nodes_per_replica: int = 1
    """Pipeline stages: a replica above one node runs as a LeaderWorkerSet group of this many pods,
    one per node."""
    max_num_seqs: int
    """Concurrent sequences per replica (per pipeline stage when it spans nodes): the sizing's batch."""
    max_model_len: int
    """Prompt plus output tokens per request, as sized."""
    kv_cache_dtype: str = "auto"
    memory_utilisation: float = 0.9
    kv_cache_bytes: int | None = None
    """The KV cache the server allocates, bytes, instead of measuring free memory at start-up:
    replicas time-slicing one GPU start side by side and would count each other's loading."""
    weights_gb: float | None = None
    replicas_min: int
    replicas_max: int
    replicas_fallback: int
    """Replicas to hold when the metrics cannot be read: the planner's desired capacity."""
    target_queue_depth: int
    target_latency_s: float
    node_selector: dict[str, str]
    tolerations: tuple[Toleration, ...] = ()
    """Taints of the pool beyond the accelerator's own (e.g. AKS's spot taint)."""
    pooling: bool = False
    """Prefill only (embeddings): vLLM's pooling runner instead of generation."""
    pod_labels: dict[str, str] = field(default_factory=dict)
    """Labels the cloud's identity webhook looks for (AKS workload identity), beyond our own."""
    custom: CustomServer | None = None
    """The team's own server (a measured model); None: vLLM, configured from the sizing."""
    artifacts: Any = None
    """The workload's prefix of the region's artifact storage (may be a Pulumi output), passed to the
    server as ``TENSORFLEET_ARTIFACTS``; None when not known (pure manifests in tests)."""

    @property
    def name(self) -> str:
        """``<workload>-<stage>``: a DNS label, unique in the namespace."""
        return _dns_label(f"{self.workload}-{self.stage}")

    @property
    def multi_node(self) -> bool:
        return self.nodes_per_replica > 1

    @property
    def service_name(self) -> str:
        """The API Service: ``<name>``, or ``<name>-api`` beside a LeaderWorkerSet, whose controller
        names its own headless Service (the pods' DNS subdomain) ``<name>``."""
        return _dns_label(f"{self.name}-api") if self.multi_node else self.name

    @property
    def port(self) -> int:
        """The inference API's port."""
        return self.custom.port if self.custom else PORT

    @property
    def ports(self) -> tuple[int, ...]:
        """Ports the gateway and Prometheus reach: the API's and, if apart, the metrics'."""
        metrics = self.custom.metrics_port if self.custom else None
        return (self.port,) if metrics is None or metrics == self.port else (self.port, metrics)


LEADER_WORKER_SET = ("leaderworkerset.x-k8s.io/v1", "LeaderWorkerSet")
ROLE_LABEL = "tensorfleet.io/role"
"""``leader`` or ``worker`` on the pods of a replica that spans nodes: the Service selects leaders."""


def server_objects(spec: ServerSpec) -> list[dict[str, Any]]:
    """Every object of one model server, in apply order: a Deployment of one-node replicas, or a
    LeaderWorkerSet whose groups each span ``nodes_per_replica`` nodes."""
    _check(spec)
    return [
        _leader_worker_set(spec) if spec.multi_node else _deployment(spec),
        _service(spec),
        _disruption_budget(spec),
        _network_policy(spec),
        _scaled_object(spec),
    ]


def load_seconds(weights_gb: float | None) -> float:
    """How long a replica may take to become ready: weights read at ``WEIGHT_LOAD_GBPS`` plus the
    engine's start, doubled for headroom (a slow start must not be killed into a restart loop)."""
    return 2 * ((weights_gb or 0) / WEIGHT_LOAD_GBPS + ENGINE_START_S)


def _labels(spec: ServerSpec) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": "model-server",
        "app.kubernetes.io/instance": spec.name,
        "app.kubernetes.io/managed-by": "tensorfleet",
        "tensorfleet.io/workload": spec.workload,
        "tensorfleet.io/stage": spec.stage,
        "tensorfleet.io/tenant": spec.namespace,
        "tensorfleet.io/model": _label_value(spec.model),
    }


def _selector(spec: ServerSpec) -> dict[str, str]:
    return {"app.kubernetes.io/instance": spec.name, "tensorfleet.io/workload": spec.workload}


def _metadata(spec: ServerSpec) -> dict[str, Any]:
    return {"name": spec.name, "namespace": spec.namespace, "labels": _labels(spec)}


def service_account(namespace: str, workload: str, annotations: Mapping[str, Any]) -> dict[str, Any]:
    """The workload's Kubernetes service account in its tenant's namespace (one per cluster, shared by
    its stages), annotated with the cloud identity it is bound to; pods get no API token."""
    metadata: dict[str, Any] = {
        "name": workload,
        "namespace": namespace,
        "labels": {"app.kubernetes.io/managed-by": "tensorfleet", "tensorfleet.io/workload": workload},
    }
    if annotations:
        metadata["annotations"] = dict(annotations)
    return {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": metadata, "automountServiceAccountToken": False}


def _args(spec: ServerSpec, role: str = "server") -> list[str]:
    """vLLM's arguments; a replica over several nodes runs one process per node (multiprocessing
    executor, no Ray): the leader (node rank 0) serves the API, the workers run headless."""
    pipeline: list[str] = []
    if spec.multi_node:
        rank = "0" if role == "leader" else "$(LWS_WORKER_INDEX)"
        pipeline = [
            f"--pipeline-parallel-size={spec.nodes_per_replica}",
            "--nnodes=$(LWS_GROUP_SIZE)",
            f"--node-rank={rank}",
            "--master-addr=$(LWS_LEADER_ADDRESS)",
            *(["--headless"] if role == "worker" else []),
        ]
    return [
        "serve",
        spec.model,
        f"--served-model-name={spec.model}",
        f"--tensor-parallel-size={spec.accelerators_per_replica}",
        f"--max-model-len={spec.max_model_len}",
        f"--max-num-seqs={spec.max_num_seqs * spec.nodes_per_replica}",  # every pipeline stage's batch
        f"--gpu-memory-utilization={spec.memory_utilisation:g}",
        f"--kv-cache-dtype={spec.kv_cache_dtype}",
        *([f"--kv-cache-memory-bytes={spec.kv_cache_bytes}"] if spec.kv_cache_bytes is not None else []),
        "--host=0.0.0.0",
        f"--port={PORT}",
        *(["--runner=pooling"] if spec.pooling else []),
        *pipeline,
    ]


def _pod_template(spec: ServerSpec, role: str = "server") -> dict[str, Any]:
    """The pod of a one-node replica (``server``), or of a group's ``leader`` or ``worker``: workers
    serve no API, so they have no port or HTTP probes (the group restarts as one when a pod fails)."""
    resource = ACCELERATOR_RESOURCES[family_of(spec.accelerator)]
    chips = str(spec.accelerators_per_replica)
    custom = spec.custom
    health = {"httpGet": {"path": custom.health_path if custom else "/health", "port": "http"}}
    startup_failures = math.ceil(load_seconds(spec.weights_gb) / STARTUP_PROBE_PERIOD_S)
    ports = [{"name": "http", "containerPort": spec.port, "protocol": "TCP"}]
    if custom and custom.metrics_port not in (None, custom.port):
        ports.append({"name": "metrics", "containerPort": custom.metrics_port, "protocol": "TCP"})
    process: dict[str, Any] = (
        {"image": custom.image, "args": list(custom.args)}
        if custom
        else {"image": server_image(spec.accelerator).image, "command": ["vllm"], "args": _args(spec, role)}
    )
    env: list[dict[str, Any]] = [{"name": "HF_HOME", "value": "/models"}]
    if custom is None:
        # Gated models (Llama) download with the tenant's Hugging Face token, kept in its own Secret
        # and never in the plan; without one, only open models load.
        secret = {"name": HF_TOKEN_SECRET, "key": "token", "optional": True}
        env.append({"name": "HF_TOKEN", "valueFrom": {"secretKeyRef": secret}})
    if spec.artifacts is not None:
        env.append({"name": "TENSORFLEET_ARTIFACTS", "value": spec.artifacts})
    serving = {
        "ports": ports,
        "startupProbe": {**health, "periodSeconds": STARTUP_PROBE_PERIOD_S, "failureThreshold": startup_failures},
        "readinessProbe": {**health, "periodSeconds": 5, "failureThreshold": 3},
        "livenessProbe": {**health, "periodSeconds": 30, "timeoutSeconds": 5, "failureThreshold": 3},
    }
    container = {
        "name": "server",
        **process,
        **(serving if role != "worker" else {}),
        "env": env,
        "resources": {"requests": {resource: chips}, "limits": {resource: chips}},
        "lifecycle": {"preStop": {"sleep": {"seconds": DRAIN_S}}},
        "volumeMounts": [{"name": "shm", "mountPath": "/dev/shm"}, {"name": "models", "mountPath": "/models"}],
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
    }
    cache_gi = model_cache_gib(spec.weights_gb)
    labels = {**spec.pod_labels, **_labels(spec), **({ROLE_LABEL: role} if spec.multi_node else {})}
    return {
        "metadata": {"labels": labels, "annotations": _scrape_annotations(spec) if role != "worker" else {}},
        "spec": {
            **({"schedulerName": NEURON_SCHEDULER} if family_of(spec.accelerator).startswith("neuron") else {}),
            "serviceAccountName": spec.workload,
            "nodeSelector": dict(spec.node_selector),
            "tolerations": [
                {"key": resource, "operator": "Exists", "effect": "NoSchedule"},
                *(toleration_manifest(t) for t in spec.tolerations),
            ],
            # Drain: the preStop pause, then in-flight requests up to the latency target, twice over.
            "terminationGracePeriodSeconds": DRAIN_S + math.ceil(2 * max(spec.target_latency_s, 30)),
            "containers": [container],
            "volumes": [
                # Tensor parallelism exchanges activations through shared memory.
                {"name": "shm", "emptyDir": {"medium": "Memory", "sizeLimit": "16Gi"}},
                {"name": "models", "emptyDir": {"sizeLimit": f"{cache_gi}Gi"}},
            ],
        },
    }


def _scrape_annotations(spec: ServerSpec) -> dict[str, str]:
    custom = spec.custom
    if custom is None:
        return dict(SCRAPE_ANNOTATIONS)
    port = custom.metrics_port or custom.port
    return {"prometheus.io/scrape": "true", "prometheus.io/port": str(port), "prometheus.io/path": custom.metrics_path}


def _deployment(spec: ServerSpec) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _metadata(spec),
        "spec": {
            "replicas": spec.replicas_fallback,
            "selector": {"matchLabels": _selector(spec)},
            # A new replica needs a free node's accelerators: replace one at a time, never surge.
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1}},
            "template": _pod_template(spec),
        },
    }


def _leader_worker_set(spec: ServerSpec) -> dict[str, Any]:
    """Replicas as groups of ``nodes_per_replica`` pods, one per node, started and restarted together."""
    return {
        "apiVersion": LEADER_WORKER_SET[0],
        "kind": LEADER_WORKER_SET[1],
        "metadata": _metadata(spec),
        "spec": {
            "replicas": spec.replicas_fallback,
            # Workers join the leader's rendezvous, so the leader's pod comes first.
            "startupPolicy": "LeaderCreated",
            "rolloutStrategy": {
                "type": "RollingUpdate",
                "rollingUpdateConfiguration": {"maxUnavailable": 1, "maxSurge": 0},
            },
            "leaderWorkerTemplate": {
                "size": spec.nodes_per_replica,
                "restartPolicy": "RecreateGroupOnPodRestart",
                "leaderTemplate": _pod_template(spec, "leader"),
                "workerTemplate": _pod_template(spec, "worker"),
            },
        },
    }


def toleration_manifest(toleration: Toleration) -> dict[str, str]:
    value = {"key": toleration.key, "effect": toleration.effect}
    if toleration.value is None:
        return {**value, "operator": "Exists"}
    return {**value, "operator": "Equal", "value": toleration.value}


def _service(spec: ServerSpec) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        # Not awaited: its endpoints are ready only once a model has loaded, which the Deployment's
        # (or LeaderWorkerSet's) own wait covers.
        "metadata": {
            **_metadata(spec),
            "name": spec.service_name,
            "annotations": {"pulumi.com/skipAwait": "true"},
        },
        "spec": {
            "type": "ClusterIP",
            "selector": {**_selector(spec), **({ROLE_LABEL: "leader"} if spec.multi_node else {})},
            "ports": [{"name": "http", "port": spec.port, "targetPort": "http", "protocol": "TCP"}],
        },
    }


def _disruption_budget(spec: ServerSpec) -> dict[str, Any]:
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": _metadata(spec),
        "spec": {"maxUnavailable": 1, "selector": {"matchLabels": _selector(spec)}},
    }


def _network_policy(spec: ServerSpec) -> dict[str, Any]:
    """Only the gateway may call the server, and only Prometheus may scrape it (the namespace's
    default-deny policy refuses everything else)."""

    def from_namespace(name: str) -> dict[str, Any]:
        return {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": name}}}

    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": _metadata(spec),
        "spec": {
            "podSelector": {"matchLabels": _selector(spec)},
            "policyTypes": ["Ingress"],
            "ingress": [
                {
                    "from": [from_namespace(GATEWAY_NAMESPACE), from_namespace(METRICS_NAMESPACE)],
                    "ports": [{"port": port, "protocol": "TCP"} for port in spec.ports],
                },
                # The pods of one replica exchange activations and rendezvous on ports of their own.
                *([{"from": [{"podSelector": {"matchLabels": _selector(spec)}}]}] if spec.multi_node else []),
            ],
        },
    }


def _scaled_object(spec: ServerSpec) -> dict[str, Any]:
    """Scale on waiting requests per replica and on p95 latency: up at once, down after five
    quiet minutes; hold the planner's capacity when the metrics cannot be read."""
    if spec.custom is not None:
        # The team's server: its own queue gauge, from this server's pods.
        pods = f'namespace="{spec.namespace}",pod=~"{spec.name}-.+"'
        queue = f"sum({spec.custom.queue_metric}{{{pods}}})"
        triggers = [_prometheus("queue-depth", queue, "AverageValue", str(spec.target_queue_depth))]
    else:
        match = f'namespace="{spec.namespace}",model_name="{spec.model}"'
        queue = f"sum(vllm:num_requests_waiting{{{match}}})"
        latency = (
            f"histogram_quantile(0.95, sum by (le) (rate(vllm:e2e_request_latency_seconds_bucket{{{match}}}[2m])))"
        )
        triggers = [
            _prometheus("queue-depth", queue, "AverageValue", str(spec.target_queue_depth)),
            _prometheus("p95-latency", latency, "Value", f"{spec.target_latency_s:g}"),
        ]
    target = LEADER_WORKER_SET if spec.multi_node else ("apps/v1", "Deployment")
    body: dict[str, Any] = {
        "scaleTargetRef": {"apiVersion": target[0], "kind": target[1], "name": spec.name},
        # At zero replicas the servers' own metrics vanish and nothing would scale them up again:
        # keep one until an activation signal outside the server (the gateway's queue) exists.
        "minReplicaCount": max(spec.replicas_min, 1),
        "maxReplicaCount": spec.replicas_max,
        "pollingInterval": 15,
        "cooldownPeriod": 300,
        "fallback": {"failureThreshold": 3, "replicas": spec.replicas_fallback},
        "advanced": {
            "horizontalPodAutoscalerConfig": {
                "behavior": {
                    "scaleUp": {
                        "stabilizationWindowSeconds": 0,
                        "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}],
                    },
                    "scaleDown": {
                        "stabilizationWindowSeconds": 300,
                        "policies": [{"type": "Pods", "value": 1, "periodSeconds": 60}],
                    },
                }
            }
        },
        "triggers": triggers,
    }
    return {"apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject", "metadata": _metadata(spec), "spec": body}


def _prometheus(name: str, query: str, metric_type: str, threshold: str) -> dict[str, Any]:
    return {
        "type": "prometheus",
        "name": name,
        "metricType": metric_type,
        "metadata": {"serverAddress": PROMETHEUS_URL, "query": query, "threshold": threshold},
    }


def _check(spec: ServerSpec) -> None:
    if not 0 <= spec.replicas_min <= spec.replicas_fallback <= spec.replicas_max or spec.replicas_max < 1:
        raise ValueError(
            f"{spec.name}: need 0 <= min <= fallback <= max and max >= 1 replicas, got "
            f"{spec.replicas_min}/{spec.replicas_fallback}/{spec.replicas_max}"
        )
    if spec.accelerators_per_replica < 1 or spec.replicas_per_node < 1 or spec.nodes_per_replica < 1:
        raise ValueError(f"{spec.name}: a replica spans at least one accelerator on one node")
    if spec.multi_node and spec.replicas_per_node != 1:
        raise ValueError(f"{spec.name}: a replica that spans nodes takes each of its nodes whole")


def _dns_label(text: str) -> str:
    label = re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")[:63].rstrip("-")
    return label or "server"


def _label_value(text: str) -> str:
    """A label value (63 characters of letters, digits, ``-_.``, alphanumeric at both ends)."""
    value = re.sub(r"[^A-Za-z0-9_.-]+", "_", text)[:63]
    return value.strip("_.-")
