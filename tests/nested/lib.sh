# Outer side of the nested test host (bash, sourced by tests/nested/run.sh and scripts/boot-default.sh):
# builds its initramfs from cached parts and boots it in QEMU TCG with an emulated AMD CPU with SVM.
# The initramfs is a concatenation of cpio archives (the kernel unpacks them one after the other):
#   host-base.cpio   busybox + kvm-amd and its dependencies      (scripts/guest-images.sh)
#   guest-*.cpio     /guest: the inner guest's kernel and initramfs   (cached, keyed on its inputs)
#   qemu-*.cpio      qemu-system-x86_64, its ldd closure, firmware    (cached; only when asked)
#   run.cpio         /init, /hvtest (scenario, env), hvkvm and its ldd closure   (every run)
# Uncompressed on purpose: under TCG the kernel would take seconds to gunzip ~100 MB.

NESTED_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export LC_ALL=C

nested_die() { echo "nested: error: $*" >&2; exit 2; }

# Sets HVKVM_* (paths of the images) and checks the outer tools.
nested_images() {
	local env
	command -v qemu-system-x86_64 >/dev/null ||
		nested_die "qemu-system-x86_64 not found; install it: apt-get install qemu-system-x86"
	command -v timeout >/dev/null || nested_die "timeout not found; install it: apt-get install coreutils"
	env=$("$NESTED_ROOT/scripts/guest-images.sh" "${HVKVM_CACHE:-$HOME/.cache/hvkvm}") ||
		nested_die "scripts/guest-images.sh failed"
	eval "$env"
	NESTED_CACHE=$HVKVM_CACHE/nested
	mkdir -p "$NESTED_CACHE"
}

_nested_cpio() { # DIR OUT: newc archive of DIR
	(cd "$1" && find . -mindepth 1 | sort | "$HVKVM_BUSYBOX" cpio -o -H newc 2>/dev/null) >"$2.tmp" &&
		mv "$2.tmp" "$2" || nested_die "cpio failed on $1"
}

# Copies ELF files and the shared libraries ldd names for them into DIR, at their own paths.
_nested_copy_closure() { # DIR FILE...
	local dir=$1 f lib
	shift
	for f in "$@"; do
		mkdir -p "$dir$(dirname "$f")" && cp -L "$f" "$dir$f" || nested_die "cannot copy $f"
		if ldd "$f" 2>&1 | grep -q 'not found'; then
			nested_die "$f: a shared library is missing: $(ldd "$f" | grep 'not found' | head -n1)"
		fi
		for lib in $(ldd "$f" 2>/dev/null | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }'); do
			[ -e "$dir$lib" ] && continue
			mkdir -p "$dir$(dirname "$lib")" && cp -L "$lib" "$dir$lib" || nested_die "cannot copy $lib"
		done
	done
}

# The inner guest's files under /guest. Sets NESTED_GUEST_PART.
nested_part_guest() {
	local key stage
	key=$({ cat "$(dirname "$HVKVM_VMLINUX")/.from" "$HVKVM_GUEST_INITRD.key"; sha256sum "${BASH_SOURCE[0]}"; } |
		sha256sum | cut -c1-16)
	NESTED_GUEST_PART=$NESTED_CACHE/guest-$key.cpio
	[ -s "$NESTED_GUEST_PART" ] && return 0
	stage=$(mktemp -d "$NESTED_CACHE/stage.XXXXXX")
	mkdir -p "$stage/guest"
	cp "$HVKVM_VMLINUX" "$stage/guest/vmlinux"
	cp "$HVKVM_BZIMAGE" "$stage/guest/bzImage"
	cp "$HVKVM_GUEST_INITRD" "$stage/guest/guest.cpio.gz"
	rm -f "$NESTED_CACHE"/guest-*.cpio
	_nested_cpio "$stage" "$NESTED_GUEST_PART"
	rm -rf "$stage"
}

# QEMU (for comparisons and the boot benchmark): the binary and closure, the x86 firmware it loads
# from /usr/share/qemu and /usr/share/seabios. Sets NESTED_QEMU_PART.
nested_part_qemu() {
	local qemu key stage f fw
	qemu=$(command -v qemu-system-x86_64)
	fw=$(cd / && ls -d usr/share/qemu/{bios-microvm.bin,qboot.rom,kvmvapic.bin,linuxboot.bin,linuxboot_dma.bin,multiboot.bin,multiboot_dma.bin,pvh.bin} \
		usr/share/seabios/{bios.bin,bios-256k.bin,bios-microvm.bin,vgabios-stdvga.bin} 2>/dev/null)
	key=$({ sha256sum "$qemu" $(ldd "$qemu" | awk '$3 ~ /^\// { print $3 }') $(printf '/%s\n' $fw) 2>/dev/null;
		sha256sum "${BASH_SOURCE[0]}"; } | sha256sum | cut -c1-16)
	NESTED_QEMU_PART=$NESTED_CACHE/qemu-$key.cpio
	[ -s "$NESTED_QEMU_PART" ] && return 0
	stage=$(mktemp -d "$NESTED_CACHE/stage.XXXXXX")
	_nested_copy_closure "$stage" "$qemu"
	for f in $fw; do
		mkdir -p "$stage/$(dirname "$f")"
		cp -P "/$f" "$stage/$f"
	done
	rm -f "$NESTED_CACHE"/qemu-*.cpio
	_nested_cpio "$stage" "$NESTED_QEMU_PART"
	rm -rf "$stage"
}

# What changes from run to run. Sets NESTED_RUN_PART.
#   nested_part_run OUTDIR SCENARIO_FILE HVKVM_BINARY_OR_EMPTY [NAME=VALUE...]  (values for /hvtest/env)
nested_part_run() {
	local out=$1 scenario=$2 hvkvm=$3 stage kv
	shift 3
	stage=$(mktemp -d "$out/stage.XXXXXX")
	mkdir -p "$stage/hvtest"
	install -m 755 "$NESTED_ROOT/tests/nested/host-init" "$stage/init"
	cp "$NESTED_ROOT/tests/nested/host-lib.sh" "$stage/hvtest/host-lib.sh"
	cp "$scenario" "$stage/hvtest/scenario.sh"
	: >"$stage/hvtest/env"
	for kv in "$@"; do # NAME='value' with the value's quotes escaped for sh
		printf "%s='%s'\n" "${kv%%=*}" "$(printf %s "${kv#*=}" | sed "s/'/'\\\\''/g")" >>"$stage/hvtest/env"
	done
	if [ -n "$hvkvm" ]; then
		_nested_copy_closure "$stage" "$(readlink -f "$hvkvm")"
		mkdir -p "$stage/bin"
		[ -e "$stage/bin/hvkvm" ] || ln -s "$(readlink -f "$hvkvm")" "$stage/bin/hvkvm"
	fi
	NESTED_RUN_PART=$out/run.cpio
	_nested_cpio "$stage" "$NESTED_RUN_PART"
	rm -rf "$stage"
}

# nested_initrd OUT PART...: the host's initramfs.
nested_initrd() {
	local out=$1
	shift
	cat "$HVKVM_HOST_BASE" "$@" >"$out.tmp" && mv "$out.tmp" "$out" || nested_die "cannot write $out"
}

# QEMU's command for the nested host, in NESTED_QEMU (an array); extra arguments are appended
# (and the words of $NESTED_QEMU_ARGS, e.g. a benchmark's disk), and $NESTED_APPEND to the host
# kernel's command line.
#   nested_qemu_cmd INITRD INNER_VMM [QEMU_ARG...]
nested_qemu_cmd() {
	local initrd=$1 inner=$2
	shift 2
	NESTED_QEMU=(qemu-system-x86_64 -accel tcg,thread=multi -cpu max -m "${NESTED_MEMORY:-3072}"
		-smp "${NESTED_CPUS:-2}" -nographic -vga none -nic none -no-reboot -kernel "$HVKVM_VMLINUX" -initrd "$initrd"
		-drive "file=$HVKVM_TOOLS_IMAGE,if=virtio,format=raw,readonly=on"
		-append "console=ttyS0 panic=-1 quiet tsc=reliable hvinner=$inner${NESTED_APPEND:+ $NESTED_APPEND}"
		${NESTED_QEMU_ARGS-} "$@")
}

# nested_boot LOG TIME_LIMIT INITRD INNER_VMM: boots the host without a terminal, bounded in time;
# the serial output goes to LOG, each line prefixed with the seconds since QEMU started. The host
# says "@@host alive" every 10 s: after ${NESTED_STALL:-120} s without a line it is taken as frozen
# and stopped (NESTED_STALLED=1). Returns QEMU's status (124: killed at the time limit).
nested_boot() {
	local log=$1 limit=$2 start line ms fifo qpid status
	nested_qemu_cmd "$3" "$4"
	NESTED_STALLED=0
	fifo=$(mktemp -u "$(dirname "$log")/serial.XXXXXX") && mkfifo "$fifo" || nested_die "cannot make a FIFO"
	start=${EPOCHREALTIME/./}
	: >"$log"
	timeout -k 5 "$limit" "${NESTED_QEMU[@]}" </dev/null >"$fifo" 2>&1 &
	qpid=$!
	exec {fd}<"$fifo"
	rm -f "$fifo"
	while :; do
		IFS= read -r -t "${NESTED_STALL:-120}" -u "$fd" line
		status=$?
		ms=$(((${EPOCHREALTIME/./} - start) / 1000))
		if [ $status -gt 128 ]; then
			NESTED_STALLED=1
			printf '%d.%03d %s\n' $((ms / 1000)) $((ms % 1000)) "@@outer stalled: no output for ${NESTED_STALL:-120} s" >>"$log"
			kill "$qpid" 2>/dev/null
			break
		fi
		[ $status = 0 ] || [ -n "$line" ] || break
		line=${line//$'\r'/}
		if [[ $line == ?*@@* ]]; then # a host line glued to the firmware's last words
			printf '%d.%03d %s\n' $((ms / 1000)) $((ms % 1000)) "${line%%@@*}" >>"$log"
			line=@@${line#*@@}
		fi
		printf '%d.%03d %s\n' $((ms / 1000)) $((ms % 1000)) "$line" >>"$log"
		[ $status = 0 ] || break
	done
	exec {fd}<&-
	wait "$qpid"
}

# nested_bench_boots NAME OUT SCENARIO LIMIT: a benchmark's nested host, booted once more if it
# does not finish (a host that dies late has still measured whole rounds: the caller reads every
# attempt's log, OUT/attempt-*/serial.log). Its initramfs: the parts in the array
# NESTED_BENCH_PARTS, then SCENARIO with OUT/hvkvm and the NAME=VALUE words of the array
# NESTED_BENCH_ENV. Returns 0 when a boot finished.
nested_bench_boots() {
	local name=$1 out=$2 scenario=$3 limit=$4 attempt dir log
	rm -rf "$out"/attempt-*
	for attempt in 1 2; do
		dir=$out/attempt-$attempt
		mkdir -p "$dir"
		nested_part_run "$dir" "$scenario" "$out/hvkvm" "${NESTED_BENCH_ENV[@]}"
		nested_initrd "$dir/host.cpio" "${NESTED_BENCH_PARTS[@]}" "$NESTED_RUN_PART"
		rm -f "$NESTED_RUN_PART"
		log=$dir/serial.log
		echo "$name: attempt $attempt: nested host (limit $limit s, log $log)"
		nested_boot "$log" "$limit" "$dir/host.cpio" bench
		rm -f "$dir/host.cpio"
		grep -qE '^[0-9.]+ @@host done ' "$log" && return 0
		echo "$name: the nested host did not finish; its last lines:"
		tail -n 8 "$log" | sed 's/^/    /'
	done
	return 1
}
