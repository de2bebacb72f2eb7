"""The serving layer: model servers sized by the planner, as Kubernetes objects."""

from components.serving.images import SERVER_IMAGES, ServerImage, server_image
from components.serving.manifests import ServerSpec, server_objects, service_account
from components.serving.tenancy import accelerator_quota, tenant_objects

__all__ = [
    "SERVER_IMAGES",
    "ServerImage",
    "ServerSpec",
    "accelerator_quota",
    "server_image",
    "server_objects",
    "service_account",
    "tenant_objects",
]
