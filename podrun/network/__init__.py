"""Pod networking: the CNI runtime (cni.py) and the files the kubelet writes (hosts.py)."""
