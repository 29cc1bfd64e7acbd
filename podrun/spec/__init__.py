"""podrun's pure spec layer: parse v1 manifests, apply API-server defaults, validate, hash.

No os/subprocess/socket/asyncio here: everything is a function of its input.
"""

from podrun.spec.decode import Decoded, decode
from podrun.spec.defaults import (
    apply_configmap_defaults,
    apply_defaults,
    apply_secret_defaults,
    prepare_for_create,
    pull_policy_for,
)
from podrun.spec.encode import to_dict, to_json
from podrun.spec.hashing import container_hash, spec_hash, static_pod_uid
from podrun.spec.parse import Loaded, load_bytes, load_file, load_text

__all__ = [
    "Decoded",
    "Loaded",
    "apply_configmap_defaults",
    "apply_defaults",
    "apply_secret_defaults",
    "container_hash",
    "decode",
    "load_bytes",
    "load_file",
    "load_text",
    "prepare_for_create",
    "pull_policy_for",
    "spec_hash",
    "static_pod_uid",
    "to_dict",
    "to_json",
]
