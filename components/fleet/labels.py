"""Node labels every cloud's accelerator pools carry: the contract with the serving layer."""

GPU_DRIVER_LABEL = "tensorfleet.io/gpu-driver"
"""Who installs the GPU driver on a node: ``cloud`` (the node image or the managed service) or
``operator`` (the serving layer's GPU operator). Never both."""

SYSTEM_POOL_LABEL = "tensorfleet.io/pool"
"""``system`` on every cluster's untainted system pool (CoreDNS, add-ons); accelerator pools lack it."""
