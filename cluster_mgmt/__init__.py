"""cluster-mgmt: a GitLab cluster-management project for Kubernetes network security, as code."""

from cluster_mgmt.errors import ClusterError, ConfigError, Location, UserError

__version__ = "0.1.0"

__all__ = ["ClusterError", "ConfigError", "Location", "UserError", "__version__"]
