"""podrun's default paths (DESIGN.md 5), in a module of their own so the CLI can name them
without importing the daemon."""

DEFAULTS = {
    "root": "/var/lib/podrun",
    "runDir": "/run/podrun",
    "logDir": "/var/log/pods",
    "manifestDir": "/etc/podrun/manifests",
    "socket": "/run/podrun/podrun.sock",
    "cniConfDir": "/etc/cni/net.d",
    "cniBinDir": "/opt/cni/bin",
    "cgroupRoot": "",  # "": podrun under the detected cgroup v2 mount (docs/cgroups.md)
}
DEFAULT_CONFIG = "/etc/podrun/config.yaml"
# <root>/cgroup-root: the cgroup subtree the last daemon put its pods in (read by `podrun
# doctor`, which otherwise could not know the systemd pods unit's subtree)
CGROUP_ROOT_FILE = "cgroup-root"
