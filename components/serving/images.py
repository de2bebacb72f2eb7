"""Pinned model-server images per accelerator family, each with where its tag was read.

Tags are pinned (never ``latest``) so that a plan names exactly what runs; raising one is a
reviewed change. Read 2026-11 from stored copies of the sources named.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "ACCELERATOR_RESOURCES",
    "NEURON_SCHEDULER",
    "SERVER_IMAGES",
    "Family",
    "ServerImage",
    "family_of",
    "image_problem",
    "server_image",
]

Family = Literal["nvidia", "amd", "neuron", "neuron-trn2", "tpu"]


@dataclass(frozen=True, slots=True)
class ServerImage:
    image: str
    source: str


SERVER_IMAGES: dict[Family, ServerImage] = {
    # CUDA 12.9 build: the default v0.29.0 image is CUDA 13 and needs NVIDIA driver 580 or newer,
    # which the clouds' managed drivers do not all ship.
    "nvidia": ServerImage(
        "vllm/vllm-openai:v0.29.0-cu129",
        "vLLM v0.29.0 release notes (github.com/vllm-project/vllm/releases/tag/v0.29.0): vllm/vllm-openai:v0.29.0, "
        "CUDA 13.0 by default, -cu129 for CUDA 12.9",
    ),
    "amd": ServerImage(
        "vllm/vllm-openai-rocm:v0.29.0",
        "vLLM v0.29.0 release notes (github.com/vllm-project/vllm/releases/tag/v0.29.0)",
    ),
    "neuron": ServerImage(
        "public.ecr.aws/neuron/pytorch-inference-vllm-neuronx:0.16.0-neuronx-py312-sdk2.31.1-ubuntu24.04",
        "aws-neuron/deep-learning-containers README @2be9ed1 (2026-08-17): Inf2 / Trn1 on Neuron SDK 2.31",
    ),
    "neuron-trn2": ServerImage(
        "public.ecr.aws/neuron/pytorch-inference-vllm-neuronx:0.24.0.1.1.0-neuronx-py313-sdk2.32.0-ubuntu24.04",
        "aws-neuron/deep-learning-containers README @2be9ed1 (2026-08-17): Trn2 / Trn3 on Neuron SDK 2.32",
    ),
    "tpu": ServerImage(
        "vllm/vllm-tpu:v0.26.0",
        "llm-d TPU guide (github.com/llm-d/llm-d, guides/pd-disaggregation TPU): vllm/vllm-tpu:v0.26.0",
    ),
}

ACCELERATOR_RESOURCES: dict[Family, str] = {
    "nvidia": "nvidia.com/gpu",
    "amd": "amd.com/gpu",
    "neuron": "aws.amazon.com/neuron",
    "neuron-trn2": "aws.amazon.com/neuron",
    "tpu": "google.com/tpu",
}
"""Extended resource each family's device plugin publishes (whole devices; TPU: chips)."""

NEURON_SCHEDULER = "my-scheduler"
"""The scheduler Neuron pods name (``schedulerName``): the Neuron chart's kube-scheduler with its
extension, which places a replica on contiguous Neuron cores (the chart's default name)."""

_NEURON = {"Inferentia", "Inferentia2", "Trainium"}
_NEURON_TRN2 = {"Trainium2", "Trainium3"}
_AMD_PREFIXES = ("MI", "Radeon")


def family_of(accelerator: str) -> Family:
    """The accelerator family of a catalog accelerator name."""
    if accelerator.startswith("TPU"):
        return "tpu"
    if accelerator in _NEURON:
        return "neuron"
    if accelerator in _NEURON_TRN2:
        return "neuron-trn2"
    if accelerator.startswith(_AMD_PREFIXES):
        return "amd"
    return "nvidia"


def server_image(accelerator: str) -> ServerImage:
    """The model-server image for a catalog accelerator."""
    return SERVER_IMAGES[family_of(accelerator)]


_DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")


def image_problem(image: str) -> str | None:
    """Why an image reference is not pinned (no tag, or ``latest``); None if it names a version: the
    one rule the profile's server image and the pack's ``pinned-images`` both apply."""
    if _DIGEST.search(image):
        return None
    name = image.rsplit("/", 1)[-1]  # a registry host may carry a port: only the last part has the tag
    if ":" not in name:
        return "has no tag (it means latest)"
    return "is tagged latest" if name.rsplit(":", 1)[1] == "latest" else None
