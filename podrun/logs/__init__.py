"""CRI container log files: reading them the way `kubectl logs` shows them."""
