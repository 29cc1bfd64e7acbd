"""podrun's pure spec layer: parse v1 manifests, apply API-server defaults, validate, hash.

No os/subprocess/socket/asyncio here: everything is a function of its input.
"""
