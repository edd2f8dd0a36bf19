#!/bin/bash
# Set-up on a fresh Debian 12 machine, idempotent: installs what hvkvm and its tests need from
# Debian's archive (apt-get), builds hvkvm, and prepares the guest images from Debian packages.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
	meson ninja-build gcc pkg-config liburing-dev python3       # build
	qemu-system-x86 busybox-static cpio xz-utils kmod zstd      # guest images, nested test host
	binutils                                                    # objcopy for the test guests
	fio iperf3 e2fsprogs hyperv-daemons                         # tools the nested guests run
)

sudo_=""
[ "$(id -u)" -eq 0 ] || sudo_=sudo
missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "setup: installing ${missing[*]}" >&2
	$sudo_ apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo_ apt-get install -y -qq --no-install-recommends \
		"${missing[@]}" >/dev/null
fi

if [ ! -f build/build.ninja ]; then
	meson setup build >/dev/null
fi
meson compile -C build >/dev/null
scripts/guest-images.sh >/dev/null
echo "setup: hvkvm built in build/, guest images ready" >&2
