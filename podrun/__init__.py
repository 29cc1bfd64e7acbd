"""podrun: Kubernetes v1 Pods on one Linux host, without a cluster."""

__version__ = "0.1.0"
# The Kubernetes minor version whose Pod API and kubelet behaviour podrun follows;
# probes send User-Agent kube-probe/<this>.
KUBE_VERSION = "1.33"
