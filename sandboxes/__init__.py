"""The Docker layer: the hardened runner profile, the runner image, the warm pool and the reaper.

``sandboxes/runner/`` is the in-container side (standard library only), copied into the image.
"""

from sandboxes.pool import Sandbox, SandboxPool
from sandboxes.profile import ContainerLimits, hardened_config
from sandboxes.protocol import Job, JobResult
from sandboxes.worker import InfraError

__all__ = ["ContainerLimits", "InfraError", "Job", "JobResult", "Sandbox", "SandboxPool", "hardened_config"]
