#!/usr/bin/env bash
# build-image.sh: build podrun's test VM image (Debian 12, pure cgroup v2) from Debian's
# packages alone. tests/vm/harness.py calls it with the package list and caches the result;
# it can also be run by hand.
#
# Usage: build-image.sh OUTDIR        (as root; OUTDIR must not exist or be empty)
#   env: PACKAGES="a b c"   packages besides the base set (harness.py: tests/setup.sh's list)
#        MIRROR=URL         default: the host's Debian mirror from its apt sources
#        SUITE=bookworm  SIZE_MB=6144
# Output in OUTDIR: vmlinuz, initrd.img (a small initramfs), root.img (raw ext4, no partition
# table, LABEL=podrun-root), build.log, packages.txt. The debootstrapped tree is removed.
set -euo pipefail

out=${1:?usage: build-image.sh OUTDIR}
suite=${SUITE:-bookworm}
size_mb=${SIZE_MB:-6144}
here=$(cd "$(dirname "$0")" && pwd)
t0=$(date +%s)
stamp() { echo "[build-image +$(($(date +%s) - t0))s] $*"; }

[ "$(id -u)" = 0 ] || { echo "build-image.sh: run as root (debootstrap, chroot)" >&2; exit 1; }

detect_mirror() {
	local u
	u=$(grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}' \
		| grep -i debian | grep -v -e security -e nodesource | head -1 || true)
	[ -n "$u" ] || u=$(grep -hs '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null \
		| awk '{print $2}' | grep -i debian | grep -v security | head -1 || true)
	[ -n "$u" ] || { echo "build-image.sh: no Debian mirror in the apt sources; set MIRROR" >&2; exit 1; }
	echo "$u"
}
mirror=${MIRROR:-$(detect_mirror)}

# debootstrap lays down the base (systemd as init for the delegation tests, initramfs-tools);
# apt inside the chroot adds the kernel and PACKAGES (what podrun's installer, tests/setup.sh,
# checks for, so that inside the guest it finds everything installed and needs no network).
# apt, not debootstrap --include, resolves those: debootstrap's resolver leaves some
# dependencies of e.g. skopeo unconfigured.
base=(systemd systemd-sysv udev dbus kmod initramfs-tools busybox-static iproute2 procps
	util-linux e2fsprogs python3 python3-venv ca-certificates)
# For the Vagrant box made from the same image (harness.py box): ssh, sudo, rsync, GRUB.
box_pkgs=(openssh-server sudo rsync grub-pc-bin grub2-common)
read -r -a extra <<<"${PACKAGES:-}"

mkdir -p "$out"
root=$out/rootfs
mounted=()
cleanup() {
	local i
	for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do umount -l "${mounted[$i]}" 2>/dev/null || true; done
	[ -r "$root/debootstrap/debootstrap.log" ] && cp "$root/debootstrap/debootstrap.log" "$out/" || true
	rm -rf "$root" "$out/.root.img"
}
trap cleanup EXIT

stamp "debootstrap $suite from $mirror"
s=$(date +%s)
mkdir -p "$root"
if ! debootstrap --variant=minbase --include="$(IFS=,; echo "${base[*]}")" "$suite" "$root" "$mirror" \
	>"$out/build.log" 2>&1; then
	tail -40 "$out/build.log" >&2
	exit 1
fi
stamp "debootstrap done in $(($(date +%s) - s))s"

mount -t proc proc "$root/proc"; mounted+=("$root/proc")
in_root() { chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root DEBIAN_FRONTEND=noninteractive "$@"; }

# A small initramfs (only what finds a virtio root disk), configured before the kernel
# is installed so it is generated once.
sed -i 's/^MODULES=.*/MODULES=list/; s/^COMPRESS=.*/COMPRESS=gzip/' "$root/etc/initramfs-tools/initramfs.conf"
printf 'virtio_pci\nvirtio_blk\next4\n' >"$root/etc/initramfs-tools/modules"
printf 'deb %s %s main\n' "$mirror" "$suite" >"$root/etc/apt/sources.list"
cp -L /etc/resolv.conf "$root/etc/resolv.conf"
stamp "apt-get install linux-image-amd64 ${extra[*]}"
s=$(date +%s)
if ! { in_root apt-get update -q && in_root apt-get install -y -q --no-install-recommends \
	-o Dpkg::Options::=--force-confold linux-image-amd64 "${box_pkgs[@]}" "${extra[@]}"; } \
	>>"$out/build.log" 2>&1; then
	tail -40 "$out/build.log" >&2
	exit 1
fi
stamp "apt-get done in $(($(date +%s) - s))s"

echo podrun-vm >"$root/etc/hostname"
printf '127.0.0.1\tlocalhost\n127.0.1.1\tpodrun-vm\n::1\tlocalhost ip6-localhost ip6-loopback\n' >"$root/etc/hosts"
echo 'LABEL=podrun-root / ext4 defaults,errors=remount-ro 0 1' >"$root/etc/fstab"
: >"$root/etc/resolv.conf"
echo 'root:podrun' | in_root chpasswd

install -m 755 "$here/guest/podrun-vm-run" "$root/usr/local/sbin/podrun-vm-run"
install -m 755 "$here/guest/podrun-vm-init" "$root/usr/local/sbin/podrun-vm-init"
cat >"$root/etc/systemd/system/podrun-vm.service" <<'UNIT'
[Unit]
Description=podrun VM: run the host's command, then power off
ConditionKernelCommandLine=podrun.vm=1
After=basic.target
SuccessAction=poweroff-force
FailureAction=poweroff-force
[Service]
Type=oneshot
ExecStart=/usr/local/sbin/podrun-vm-run
# systemd then enables every controller on the way down to this unit (root, system.slice)
# and keeps them on while the tests run.
Delegate=yes
TimeoutStartSec=infinity
StandardOutput=journal+console
[Install]
WantedBy=multi-user.target
UNIT
in_root systemctl enable podrun-vm.service >/dev/null 2>&1
# Nothing on the way to the test command that a throwaway VM does not need. (The test
# boot also masks networkd and ssh on the kernel command line; the Vagrant box uses them.)
in_root systemctl mask systemd-timesyncd.service apt-daily.timer apt-daily-upgrade.timer \
	e2scrub_all.timer e2scrub_reap.service fstrim.timer systemd-networkd-wait-online.service \
	getty@tty1.service >/dev/null 2>&1 || true

# Vagrant: DHCP on any NIC, user vagrant with passwordless sudo and Vagrant's well-known
# insecure key (vagrant replaces it at the first `vagrant up`).
mkdir -p "$root/etc/systemd/network"
printf '[Match]\nName=en* eth*\n[Network]\nDHCP=yes\n' >"$root/etc/systemd/network/80-dhcp.network"
in_root systemctl enable systemd-networkd.service >/dev/null 2>&1
in_root useradd -m -s /bin/bash vagrant
echo 'vagrant:vagrant' | in_root chpasswd
echo 'vagrant ALL=(ALL) NOPASSWD:ALL' >"$root/etc/sudoers.d/vagrant"
chmod 0440 "$root/etc/sudoers.d/vagrant"
install -d -m 700 -o 1000 -g 1000 "$root/home/vagrant/.ssh"
install -m 600 -o 1000 -g 1000 "$here/guest/vagrant.pub" "$root/home/vagrant/.ssh/authorized_keys"
printf 'UseDNS no\n' >"$root/etc/ssh/sshd_config.d/podrun.conf"

printf 'overlay\nveth\nbridge\nbr_netfilter\n9p\n9pnet_virtio\n' >"$root/etc/modules-load.d/podrun.conf"

# Kernel modules a test VM never loads: a smaller image, a faster mkfs.
kver=$(ls "$root/lib/modules" | sort -V | tail -1)
(cd "$root/lib/modules/$kver/kernel" && rm -rf drivers/gpu drivers/media drivers/net/wireless \
	drivers/net/ethernet drivers/infiniband drivers/staging drivers/bluetooth drivers/iio \
	drivers/isdn drivers/net/can drivers/hid drivers/usb drivers/input/touchscreen \
	drivers/input/joystick drivers/mtd drivers/thunderbolt sound net/wireless net/mac80211 \
	net/bluetooth)
in_root depmod "$kver"

# GRUB's configuration, for booting the disk itself (the Vagrant box; GRUB goes into the
# box's MBR from inside the VM: harness.py box).
mkdir -p "$root/boot/grub"
cat >"$root/boot/grub/grub.cfg" <<GRUB
set timeout=1
serial --unit=0 --speed=115200
terminal_input serial console
terminal_output serial console
search --no-floppy --label podrun-root --set=root
menuentry 'Debian 12 (podrun)' {
  linux /boot/vmlinuz-$kver root=LABEL=podrun-root ro console=tty0 console=ttyS0,115200 net.ifnames=0 systemd.unified_cgroup_hierarchy=1 cgroup_no_v1=all
  initrd /boot/initrd.img-$kver
}
GRUB
cp -L "$root/boot/vmlinuz-$kver" "$out/vmlinuz"
cp -L "$root/boot/initrd.img-$kver" "$out/initrd.img"

in_root dpkg-query -W -f '${Package} ${Version}\n' >"$out/packages.txt"
in_root apt-get clean
rm -rf "$root/usr/share/doc/"* "$root/usr/share/man/"* "$root/usr/share/info/"* \
	"$root/var/lib/apt/lists/"* "$root/var/log/"*.log
find "$root/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name 'en*' ! -name locale.alias \
	-exec rm -rf {} + 2>/dev/null || true
: >"$root/etc/machine-id" # regenerated at each boot (the disk is a throwaway snapshot)
umount "$root/proc"; mounted=()

stamp "mkfs.ext4 -d ($(du -sh "$root" | cut -f1) tree)"
truncate -s $((size_mb * 1024 * 1024)) "$out/.root.img"
mkfs.ext4 -q -F -L podrun-root -d "$root" "$out/.root.img"
mv "$out/.root.img" "$out/root.img"
stamp "done: kernel $kver, root.img $(du -h "$out/root.img" | cut -f1) on disk"
