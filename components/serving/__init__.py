"""The serving layer: model servers sized by the planner, as Kubernetes objects."""

from components.serving.images import SERVER_IMAGES, ServerImage, server_image
from components.serving.manifests import ServerSpec, server_objects, service_account

__all__ = ["SERVER_IMAGES", "ServerImage", "ServerSpec", "server_image", "server_objects", "service_account"]
