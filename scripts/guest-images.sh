#!/bin/bash
# Builds the real-Linux test images from Debian packages, into a cache dir; idempotent.
#   scripts/guest-images.sh [CACHE_DIR]      (default ${HVKVM_CACHE:-$HOME/.cache/hvkvm})
# Downloads (apt-get download) bookworm's current linux-image-6.1.0-*-amd64 (what linux-image-amd64
# depends on) and busybox-static, then builds:
#   kernel/<kver>/vmlinuz   the bzImage;  kernel/<kver>/vmlinux   the ELF inside it (boots by PVH)
#   kernel/<kver>/modules   lib/modules/<kver> with modules.dep
#   guest.cpio.gz           default test guest: busybox, tests/guest-init/init, tests/guest-init/modules
#   host-base.cpio          base of the nested test host: busybox and tests/nested/host-modules
#   tools.img               ext4 image of the guest tools the nested tests run in a chroot (fio,
#                           iperf3, mke2fs, e2fsck and their libraries, busybox), from this
#                           machine's Debian packages (scripts/setup.sh installs them)
# Prints the paths as shell assignments (also kept in CACHE_DIR/images.env, for `.`).
# Needs: apt-get, dpkg-deb, xz (xz-utils), gzip, GNU grep; root only for `apt-get update`.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${1:-${HVKVM_CACHE:-$HOME/.cache/hvkvm}}

die() { echo "guest-images: error: $*" >&2; exit 1; }
note() { echo "guest-images: $*" >&2; }

for tool in apt-get:apt apt-cache:apt dpkg-deb:dpkg xz:xz-utils gzip:gzip grep:grep awk:mawk \
	sha256sum:coreutils flock:util-linux find:findutils; do
	command -v "${tool%%:*}" >/dev/null ||
		die "'${tool%%:*}' not found; install it: apt-get install ${tool#*:}"
done

mkdir -p "$CACHE/debs" || die "cannot create the cache dir $CACHE"
CACHE=$(cd "$CACHE" && pwd)
exec 9>"$CACHE/.lock"
flock 9 # one builder at a time per cache dir

# --- Which packages: Debian's current ones -------------------------------------------------

apt_updated=0
apt_update() {
	[ "$apt_updated" = 0 ] || return 1
	apt_updated=1
	note "running apt-get update"
	[ "$(id -u)" = 0 ] || die "the package lists are missing or stale and apt-get update needs root"
	apt-get -qq update >&2 || die "apt-get update failed"
}

candidate() { # PKG -> its candidate version, empty if none
	apt-cache policy "$1" 2>/dev/null | sed -n 's/^ *Candidate: *//p' | grep -v '(none)' || true
}

kernel_pkg() { # the linux-image-6.1.0-*-amd64 that linux-image-amd64 depends on
	apt-cache depends linux-image-amd64 2>/dev/null |
		sed -n 's/^ *Depends: *\(linux-image-6\.1\.0-[0-9]*-amd64\)$/\1/p' | head -n1
}

KPKG=$(kernel_pkg)
if [ -z "$KPKG" ]; then
	apt_update
	KPKG=$(kernel_pkg)
fi
[ -n "$KPKG" ] || die "apt cannot resolve linux-image-amd64 to a linux-image-6.1.0-*-amd64 (is Debian bookworm in the apt sources?)"
KVER=${KPKG#linux-image-}

deb_path() { # PKG -> path of its candidate .deb in the cache (as apt-get download names it)
	local ver
	ver=$(candidate "$1")
	[ -n "$ver" ] || die "apt has no candidate for package $1"
	echo "$CACHE/debs/${1}_${ver//:/%3a}_amd64.deb"
}

fetch() { # PKG -> prints the .deb's path, downloading it when not cached
	local deb
	deb=$(deb_path "$1")
	if [ ! -s "$deb" ]; then
		note "downloading $1"
		if ! (cd "$CACHE/debs" && apt-get -qq -o APT::Sandbox::User=root download "$1" >&2); then
			apt_update || die "apt-get download $1 failed"
			deb=$(deb_path "$1")
			(cd "$CACHE/debs" && apt-get -qq -o APT::Sandbox::User=root download "$1" >&2) ||
				die "apt-get download $1 failed"
		fi
		[ -s "$deb" ] || die "apt-get download $1 did not produce $deb"
	fi
	echo "$deb"
}

KDEB=$(fetch "$KPKG")
BBDEB=$(fetch busybox-static)

# --- Kernel: bzImage, vmlinux, modules -----------------------------------------------------

KDIR=$CACHE/kernel/$KVER
if [ "$(cat "$KDIR/.from" 2>/dev/null)" != "$(basename "$KDEB")" ]; then
	note "extracting $(basename "$KDEB")"
	rm -rf "$KDIR.tmp" && mkdir -p "$KDIR.tmp/deb"
	dpkg-deb -x "$KDEB" "$KDIR.tmp/deb" || die "dpkg-deb cannot extract $KDEB"
	[ -f "$KDIR.tmp/deb/boot/vmlinuz-$KVER" ] || die "$KDEB holds no boot/vmlinuz-$KVER"
	mv "$KDIR.tmp/deb/boot/vmlinuz-$KVER" "$KDIR.tmp/vmlinuz"
	mv "$KDIR.tmp/deb/boot/config-$KVER" "$KDIR.tmp/config"
	mv "$KDIR.tmp/deb/lib/modules/$KVER" "$KDIR.tmp/modules"
	rm -rf "$KDIR.tmp/deb"
	# The bzImage's payload is one xz stream (x86 BCJ filter) holding the ELF vmlinux: find its
	# magic FD 37 7A 58 5A 00 and decompress that stream alone (trailing data is ignored).
	for off in $(LC_ALL=C grep -obUaP '\xFD7zXZ\x00' "$KDIR.tmp/vmlinuz" | cut -d: -f1); do
		tail -c +$((off + 1)) "$KDIR.tmp/vmlinuz" | xz -dc --single-stream >"$KDIR.tmp/vmlinux" 2>/dev/null || true
		[ "$(head -c 4 "$KDIR.tmp/vmlinux" | od -An -tx1 | tr -d ' ')" = 7f454c46 ] && break
		rm -f "$KDIR.tmp/vmlinux"
	done
	[ -s "$KDIR.tmp/vmlinux" ] || die "no xz-compressed ELF vmlinux found inside $KDIR.tmp/vmlinuz"
	basename "$KDEB" >"$KDIR.tmp/.from"
	rm -rf "$KDIR" && mv "$KDIR.tmp" "$KDIR"
fi

BBDIR=$CACHE/busybox
if [ "$(cat "$BBDIR/.from" 2>/dev/null)" != "$(basename "$BBDEB")" ]; then
	rm -rf "$BBDIR.tmp" && mkdir -p "$BBDIR.tmp/deb"
	dpkg-deb -x "$BBDEB" "$BBDIR.tmp/deb" || die "dpkg-deb cannot extract $BBDEB"
	mv "$BBDIR.tmp/deb/bin/busybox" "$BBDIR.tmp/busybox"
	rm -rf "$BBDIR.tmp/deb"
	"$BBDIR.tmp/busybox" true || die "the static busybox from $BBDEB does not run here"
	basename "$BBDEB" >"$BBDIR.tmp/.from"
	rm -rf "$BBDIR" && mv "$BBDIR.tmp" "$BBDIR"
fi
BB=$BBDIR/busybox

# Debian's package ships no modules.dep (its postinst runs depmod): make one with busybox.
if [ ! -s "$KDIR/modules/modules.dep" ]; then
	rm -rf "$KDIR/depmod" && mkdir -p "$KDIR/depmod/lib/modules"
	ln -s ../../../modules "$KDIR/depmod/lib/modules/$KVER"
	"$BB" depmod -b "$KDIR/depmod" "$KVER" || die "depmod failed on $KDIR/modules"
	rm -rf "$KDIR/depmod"
	[ -s "$KDIR/modules/modules.dep" ] || die "depmod made no $KDIR/modules/modules.dep"
fi

# --- Initramfs images ----------------------------------------------------------------------

list_modules() { # FILE -> the module names in it (comments and blank lines dropped)
	sed 's/#.*//' "$1" | tr -s ' \t' '\n\n' | sed '/^$/d'
}

resolve_alias() { # NAME -> NAME, or the module that modules.alias names for it (a _generic one first)
	local targets
	if grep -q "/${1//[-_]/[-_]}\.ko:" "$KDIR/modules/modules.dep"; then echo "$1"; return; fi
	targets=$(awk -v a="$1" '$1 == "alias" && $2 == a { print $3 }' "$KDIR/modules/modules.alias")
	{ echo "$targets" | grep '_generic$' || echo "$targets" | head -n1; } | head -n1 | grep . || echo "$1"
}

modules_closure() { # NAME... -> modules.dep paths, every module after its dependencies
	local builtin=() name names=()
	for name in "$@"; do names+=("$(resolve_alias "$name")"); done
	set -- "${names[@]}"
	for name in "$@"; do
		if grep -q "/${name//[-_]/[-_]}\.ko\$" "$KDIR/modules/modules.builtin"; then
			builtin+=("$name")
		fi
	done
	awk -v want="$*" -v builtin=" ${builtin[*]-} " '
		function norm(s) { gsub(/-/, "_", s); return s }
		function modname(p,   n, a, s) { n = split(p, a, "/"); s = a[n]; sub(/\.ko.*$/, "", s); return norm(s) }
		function visit(p,   n, d, i) {
			if (p in done) return
			done[p] = 1
			n = split(deps[p], d, " ")
			for (i = 1; i <= n; i++) visit(d[i])
			print p
		}
		{ p = $1; sub(/:$/, "", p); $1 = ""; deps[p] = $0; byname[modname(p)] = p }
		END {
			n = split(want, w, " ")
			for (i = 1; i <= n; i++) {
				if (index(builtin, " " w[i] " ")) continue
				if (!(norm(w[i]) in byname)) { print "guest-images: error: no module " w[i] > "/dev/stderr"; exit 1 }
				visit(byname[norm(w[i])])
			}
		}' "$KDIR/modules/modules.dep"
}

# Stages busybox (with its applet links), the modules and their load order in DIR.
stage_base() { # DIR MODULE_LIST_FILE
	local dir=$1 applet ko
	mkdir -p "$dir"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,tmp,root,etc,run}
	cp "$BB" "$dir/bin/busybox"
	for applet in $("$BB" --list-full); do
		[ -e "$dir/$applet" ] || ln -s /bin/busybox "$dir/$applet"
	done
	# The kernel opens /dev/console for init before anything is mounted; making the node needs
	# root (the inits reopen the console from devtmpfs when it is missing).
	mknod -m 600 "$dir/dev/console" c 5 1 2>/dev/null || true
	: >"$dir/etc/modules.load"
	mods=$(list_modules "$2")
	[ -z "$mods" ] && return 0
	for ko in $(modules_closure $mods); do
		mkdir -p "$dir/lib/modules/$KVER/$(dirname "$ko")"
		cp "$KDIR/modules/$ko" "$dir/lib/modules/$KVER/$ko"
		echo "/lib/modules/$KVER/$ko" >>"$dir/etc/modules.load"
	done
}

make_cpio() { # DIR OUT [gzip]: newc archive of DIR, owned by root
	(cd "$1" && find . -mindepth 1 | LC_ALL=C sort | "$BB" cpio -o -H newc 2>/dev/null) >"$2.tmp" ||
		die "cpio failed on $1"
	if [ "${3-}" = gzip ]; then gzip -9n <"$2.tmp" >"$2.tmp.gz" && mv "$2.tmp.gz" "$2.tmp"; fi
	mv "$2.tmp" "$2"
}

input_key() { # FILE... -> a hash of this script, the packages and the given files
	{ basename "$KDEB"; basename "$BBDEB"; sha256sum "${BASH_SOURCE[0]}" "$@" | cut -d' ' -f1; } |
		sha256sum | cut -c1-16
}

build_image() { # OUT INIT_OR_EMPTY MODULE_LIST_FILE [gzip]
	local out=$1 init=$2 mods=$3 key stage
	key=$(input_key $init "$mods")
	[ -s "$out" ] && [ "$(cat "$out.key" 2>/dev/null)" = "$key" ] && return 0
	note "building $(basename "$out")"
	stage=$(mktemp -d "$CACHE/stage.XXXXXX")
	stage_base "$stage" "$mods"
	if [ -n "$init" ]; then install -m 755 "$init" "$stage/init"; fi
	make_cpio "$stage" "$out" "${4-}"
	rm -rf "$stage"
	echo "$key" >"$out.key"
}

[ -f "$ROOT/tests/guest-init/init" ] || die "missing $ROOT/tests/guest-init/init"
build_image "$CACHE/guest.cpio.gz" "$ROOT/tests/guest-init/init" "$ROOT/tests/guest-init/modules" gzip
build_image "$CACHE/host-base.cpio" "" "$ROOT/tests/nested/host-modules"

# The guest tools image: each program with the libraries ldd names, at their own paths, so the
# guest can chroot into the mounted image; empty mount points for /dev, /proc, /sys, /tmp, /mnt.
build_tools_image() { # OUT
	local out=$1 key stage f lib tools="/usr/bin/fio /usr/bin/iperf3 /usr/sbin/mke2fs /usr/sbin/e2fsck"
	for f in $tools; do [ -x "$f" ] || die "$f not found (scripts/setup.sh installs fio, iperf3, e2fsprogs)"; done
	command -v mke2fs >/dev/null || die "mke2fs not found: apt-get install e2fsprogs"
	key=$({ input_key; sha256sum $tools; } | sha256sum | cut -c1-16)
	[ -s "$out" ] && [ "$(cat "$out.key" 2>/dev/null)" = "$key" ] && return 0
	note "building $(basename "$out")"
	stage=$(mktemp -d "$CACHE/stage.XXXXXX")
	mkdir -p "$stage"/{bin,dev,proc,sys,tmp,mnt,etc}
	cp "$BB" "$stage/bin/busybox"
	for f in sh ls cat mount umount sync dd sha256sum; do ln -s busybox "$stage/bin/$f"; done
	for f in $tools; do
		mkdir -p "$stage$(dirname "$f")" && cp -L "$f" "$stage$f"
		for lib in $(ldd "$f" | awk '$3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }'); do
			[ -e "$stage$lib" ] && continue
			mkdir -p "$stage$(dirname "$lib")" && cp -L "$lib" "$stage$lib"
		done
	done
	ln -s ../proc/self/mounts "$stage/etc/mtab"
	rm -f "$out.tmp"
	mke2fs -q -t ext4 -L hvkvm-tools -d "$stage" "$out.tmp" 256M || die "mke2fs -d failed"
	mv "$out.tmp" "$out"
	rm -rf "$stage"
	echo "$key" >"$out.key"
}
build_tools_image "$CACHE/tools.img"

cat >"$CACHE/images.env.tmp" <<EOF
HVKVM_CACHE=$CACHE
HVKVM_KVER=$KVER
HVKVM_BZIMAGE=$KDIR/vmlinuz
HVKVM_VMLINUX=$KDIR/vmlinux
HVKVM_MODULES=$KDIR/modules
HVKVM_BUSYBOX=$BB
HVKVM_GUEST_INITRD=$CACHE/guest.cpio.gz
HVKVM_HOST_BASE=$CACHE/host-base.cpio
HVKVM_TOOLS_IMAGE=$CACHE/tools.img
EOF
mv "$CACHE/images.env.tmp" "$CACHE/images.env"
cat "$CACHE/images.env"
