"""podrun-bridge, podrun's own CNI plugin (entry point: cni/podrun-bridge). Imports nothing
outside the standard library, so it starts in ~15 ms under any CNI runtime."""
