#!/bin/bash
# Boots the default test guest (Debian's kernel, a busybox shell: hvtest=shell) on this terminal:
# directly under build/hvkvm when this host's KVM can run Linux, else inside the nested test host.
#   scripts/boot-default.sh [--cpus N] [--memory SIZE] [--append "PARAMS"] [--kernel bzimage|vmlinux]
#                           [--nested | --direct] [--inner hvkvm|qemu]
# --inner qemu (nested only) runs QEMU in the nested host instead of hvkvm, for comparison.
# Exit the guest's shell (or type poweroff) to power it off; the script exits with hvkvm's status.
# In the nested host, Ctrl-A x stops everything (QEMU's escape on its -nographic serial).
# Environment: HVKVM_CACHE (images), HVKVM_BUILD (default build).
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../tests/nested/lib.sh"

cpus=1 memory=512M append= kernel= mode=auto inner=hvkvm
while [ $# -gt 0 ]; do
	case $1 in
	--cpus) cpus=${2-}; shift 2 ;;
	--memory) memory=${2-}; shift 2 ;;
	--append) append=${2-}; shift 2 ;;
	--kernel) kernel=${2-}; shift 2 ;;
	--nested) mode=nested; shift ;;
	--direct) mode=direct; shift ;;
	--inner) inner=${2-}; shift 2 ;;
	*) echo "boot-default: unknown argument '$1' (see the head of $0)" >&2; exit 2 ;;
	esac
done
case $kernel in "" | bzimage | vmlinux) ;; *) echo "boot-default: --kernel takes bzimage or vmlinux" >&2; exit 2 ;; esac
case $inner in hvkvm | qemu) ;; *) echo "boot-default: --inner takes hvkvm or qemu" >&2; exit 2 ;; esac

build=${HVKVM_BUILD:-$NESTED_ROOT/build}
hvkvm=$build/hvkvm

# Can this host's /dev/kvm run an unmodified Linux kernel? That takes hardware virtualization:
# the CPU shows VT-x or AMD-V to this kernel (vmx or svm in /proc/cpuinfo) and KVM's hardware
# backend is loaded (the kvm_intel or kvm_amd module). KVM-PVM (module kvm_pvm) is a software
# backend for hosts without them: its /dev/kvm runs freestanding code, but a Linux guest's ring-0
# code goes through KVM's instruction emulator and dies there. So: a hardware backend present,
# and no kvm_pvm (which may be what answers /dev/kvm when both are loaded).
why_not_direct() {
	if [ ! -c /dev/kvm ]; then
		echo "this host has no /dev/kvm"
	elif [ -d /sys/module/kvm_pvm ]; then
		echo "this host's /dev/kvm is KVM-PVM, which cannot run an unmodified Linux kernel"
	elif ! grep -qwE 'vmx|svm' /proc/cpuinfo ||
		! { [ -d /sys/module/kvm_intel ] || [ -d /sys/module/kvm_amd ]; }; then
		echo "this host's KVM has no hardware virtualization (no vmx/svm, or kvm_intel/kvm_amd not loaded)"
	elif [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ]; then
		echo "this user cannot open /dev/kvm"
	fi
}

if [ "$mode" = auto ]; then
	reason=$(why_not_direct)
	if [ -z "$reason" ]; then mode=direct; else mode=nested; fi
fi
if [ "$mode" = direct ] || [ "$inner" = hvkvm ]; then
	[ -x "$hvkvm" ] || nested_die "$hvkvm not found; build it first: meson setup build && meson compile -C build"
fi

nested_images
if [ "$mode" = direct ]; then
	[ "$kernel" = vmlinux ] && k=$HVKVM_VMLINUX || k=$HVKVM_BZIMAGE
	exec "$hvkvm" run --kernel "$k" --initrd "$HVKVM_GUEST_INITRD" --memory "$memory" --cpus "$cpus" \
		--cmdline "console=ttyS0 hvtest=shell $append"
fi

[ -n "${reason-}" ] && echo "hvkvm: $reason; booting the guest inside the nested test host" \
	"(QEMU TCG with SVM; Ctrl-A x stops it)" >&2
out=$build/nested/interactive
rm -rf "$out" && mkdir -p "$out" || nested_die "cannot create $out"
nested_part_guest
parts=("$NESTED_GUEST_PART")
if [ "$inner" = qemu ]; then
	nested_part_qemu
	parts+=("$NESTED_QEMU_PART")
fi
[ "$inner" = hvkvm ] && inner_bin=$hvkvm || inner_bin=
nested_part_run "$out" "$NESTED_ROOT/tests/nested/scenarios/interactive.sh" "$inner_bin" \
	HOST_QUIET=1 "INNER_CPUS=$cpus" "INNER_MEMORY=$memory" "INNER_APPEND=$append" \
	"GUEST_KERNEL=/guest/$([ "$kernel" = bzimage ] && echo bzImage || echo vmlinux)"
nested_initrd "$out/host.cpio" "${parts[@]}" "$NESTED_RUN_PART"
rm -f "$NESTED_RUN_PART"

# ttyS0 (the console, hvkvm's stdin and stdout) is this terminal; the host reports hvkvm's exit
# status on ttyS1, a file here. loglevel=1: only the host kernel's emergencies reach the terminal.
status=$out/status
NESTED_APPEND=loglevel=1 nested_qemu_cmd "$out/host.cpio" "$inner" -serial mon:stdio -serial "file:$status"
"${NESTED_QEMU[@]}"
qemu_status=$?
rm -f "$out/host.cpio"
st=$(sed -n 's/^hvkvm-exit-status \([0-9]*\).*/\1/p' "$status" 2>/dev/null | tail -n1)
if [ -z "$st" ]; then
	echo "boot-default: the nested test host stopped (QEMU status $qemu_status) before the guest's VMM exited" >&2
	exit 1
fi
exit "$st"
