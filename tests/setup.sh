#!/usr/bin/env bash
# Installs what podrun needs on a fresh Debian 12 / Ubuntu 22.04+ host, as root:
# apt packages, the virtualenv in .venv/ (podrun + test tools), and the pause binary.
# Idempotent: a second run checks and returns in about a second.
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$top"

if [ "$(id -u)" != 0 ]; then
	echo "podrun setup: run as root (podrun manages namespaces, cgroups and mounts)" >&2
	exit 1
fi

# System packages. Keep this list the single place that names them.
pkgs=(
	python3 python3-venv python3-dev gcc make libc6-dev libcap-dev
	iproute2 iptables nftables util-linux procps kmod
	musl-tools busybox-static libseccomp2 skopeo umoci docker-registry apache2-utils
	ca-certificates git containernetworking-plugins openssl
)
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "podrun setup: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q
	apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# The virtualenv. The system interpreter, not a pyenv shim: podrun re-execs sys.executable.
py=/usr/bin/python3
stamp=.venv/.podrun-install-stamp
want=$(cat pyproject.toml | sha256sum | cut -d' ' -f1)
if [ ! -x .venv/bin/python ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
	echo "podrun setup: creating .venv"
	[ -x .venv/bin/python ] || "$py" -m venv .venv
	.venv/bin/python -m pip install -q --upgrade pip
	.venv/bin/python -m pip install -q -e ".[test]"
	echo "$want" >"$stamp"
fi
# The podrun command: a start-up-lean launcher over pip's console script (podrun/launcher.py
# says why); rewritten only when it differs.
.venv/bin/python -m podrun.launcher

# pause: built from pause/ into the venv, where the package looks for it.
make -s -C pause
install -D -m 0755 pause/build/pause .venv/libexec/podrun/pause
