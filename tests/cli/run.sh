#!/bin/bash
# Bad input from the user: each case must give exit status 2 and one line naming the problem,
# never a crash or a stack of errors. Prints one PASS/FAIL line per case.
set -u
build=${1:-build}
hvkvm=$build/hvkvm
guest=$build/tests/guests/poweroff.elf
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failed=0

# case NAME EXPECTED_MESSAGE_REGEX ARGS...
case_() {
	local name=$1 want=$2
	shift 2
	timeout 20 "$hvkvm" "$@" </dev/null >"$tmp/out" 2>"$tmp/err"
	local status=$? lines
	lines=$(wc -l <"$tmp/err")
	if [ "$status" -ne 2 ]; then
		echo "FAIL cli/$name: exit status $status, want 2 ($(head -c 200 "$tmp/err"))"
		failed=1
	elif [ "$lines" -ne 1 ]; then
		echo "FAIL cli/$name: $lines lines on stderr, want 1: $(head -c 300 "$tmp/err")"
		failed=1
	elif ! grep -Eq -- "$want" "$tmp/err"; then
		echo "FAIL cli/$name: message '$(cat "$tmp/err")' does not match '$want'"
		failed=1
	else
		echo "PASS cli/$name"
	fi
}

if [ ! -x "$hvkvm" ] || [ ! -f "$guest" ]; then
	echo "FAIL cli/setup: $hvkvm or $guest missing (build first)"
	exit 1
fi
printf 'this is not a kernel\n' >"$tmp/junk"
truncate -s 64M "$tmp/big-initrd"
mkdir "$tmp/dir"
head -c 1000 /dev/zero >"$tmp/odd.img"
truncate -s 1M "$tmp/disk.img"

case_ missing-kernel "cannot open kernel .*/nope" run --kernel "$tmp/nope"
case_ kernel-is-directory "kernel .*dir" run --kernel "$tmp/dir"
case_ kernel-not-a-kernel "not a bzImage, an ELF vmlinux with a PVH entry, or a Multiboot kernel" \
	run --kernel "$tmp/junk"
case_ missing-initrd "cannot open initrd .*/nope" run --kernel "$guest" --initrd "$tmp/nope"
case_ initrd-too-big "initrd .* does not fit" run --kernel "$guest" --initrd "$tmp/big-initrd" \
	--memory 32M
case_ memory-beyond-host "more than this host's" run --kernel "$guest" --memory 64T
case_ memory-not-a-size "--memory: 'lots'" run --kernel "$guest" --memory lots
case_ cpus-zero "--cpus: '0'" run --kernel "$guest" --cpus 0
case_ cpus-too-many "--cpus: '4096'" run --kernel "$guest" --cpus 4096
case_ unknown-option "unknown option '--frobnicate'" run --kernel "$guest" --frobnicate
case_ unknown-command "unknown command 'fly'" fly
case_ no-kernel "no kernel given" run
case_ bad-serial "--serial: 'tcp:1'" run --kernel "$guest" --serial tcp:1
case_ serial-file-unwritable "/nonexistent/dir/x" run --kernel "$guest" --serial file:/nonexistent/dir/x
case_ bad-debug-exit "--debug-exit" run --kernel "$guest" --debug-exit 70000
# Disks and NICs (the files are checked when the board opens them, still before the guest runs).
case_ disk-missing "nope: no such file" run --kernel "$guest" --disk "$tmp/nope"
case_ disk-directory "dir: is a directory" run --kernel "$guest" --disk "$tmp/dir"
case_ disk-odd-size "size 1000 is not a multiple of 512" run --kernel "$guest" --disk "$tmp/odd.img"
case_ disk-bad-setting "unknown setting 'speed=9'" run --kernel "$guest" --disk "$tmp/disk.img,speed=9"
case_ disk-same-lun "both on controller 0 LUN 3" run --kernel "$guest" --disk "$tmp/disk.img,lun=3" \
	--disk "$tmp/odd.img,lun=3"
case_ disk-without-hyperv "needs Hyper-V" run --kernel "$guest" --hyperv off --disk "$tmp/disk.img"
case_ net-no-tap "no tap=NAME" run --kernel "$guest" --net mac=02:00:00:00:00:01
case_ net-bad-mac "mac takes a unicast" run --kernel "$guest" --net tap=t0,mac=01:00:00:00:00:01
case_ bad-name "VM name 'a/b'" run --kernel "$guest" --name a/b
case_ ctl-no-vm "no VM named nosuchvm" ctl nosuchvm status
exit $failed
