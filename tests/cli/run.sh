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
exit $failed
