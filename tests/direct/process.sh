#!/bin/bash
# Process behaviour of hvkvm on this host's /dev/kvm: SIGINT/SIGTERM stop the guest with status
# 130/143, and the terminal's settings come back unchanged after every way out (poweroff,
# guest failure, signal). One PASS/FAIL line per case.
set -u
build=${1:-build}
hvkvm=$(realpath "$build/hvkvm")
guests=$(realpath "$build/tests/guests")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failed=0

pass() { echo "PASS direct/$1"; }
fail() { echo "FAIL direct/$1: $2"; failed=1; }

# Runs hvkvm with stdin from a FIFO we control, so `wait` reports hvkvm's own status.
signal_case() {
	local name=$1 sig=$2 want=$3
	mkfifo "$tmp/$name.in"
	"$hvkvm" run --kernel "$guests/serial_io.elf" --memory 64M --debug-exit 0xf4 \
		<"$tmp/$name.in" >"$tmp/$name.out" 2>"$tmp/$name.err" &
	local pid=$!
	exec 7>"$tmp/$name.in" # keeps the guest's input open and empty
	for _ in $(seq 100); do
		grep -q "ready for input" "$tmp/$name.out" 2>/dev/null && break
		sleep 0.1
	done
	if ! grep -q "ready for input" "$tmp/$name.out"; then
		fail "$name" "guest did not get to its input prompt"
		kill -9 "$pid" 2>/dev/null
		exec 7>&-
		return
	fi
	kill -"$sig" "$pid"
	local status
	timeout 10 tail --pid="$pid" -f /dev/null || { fail "$name" "hvkvm still running 10 s after SIG$sig"; kill -9 "$pid"; }
	wait "$pid"
	status=$?
	exec 7>&-
	if [ "$status" -eq "$want" ]; then
		pass "$name"
	else
		fail "$name" "exit status $status, want $want ($(head -c 200 "$tmp/$name.err"))"
	fi
}

signal_case sigterm TERM 143
signal_case sigint INT 130

# 'hvkvm ctl VM vcpus' on a guest waiting for input: each vCPU answers with its state and RIP;
# the guest's code runs from its load address at 1 MiB up (ELF segments of tests/guests).
vcpus_case() {
	local sock=$tmp/vcpus.sock out st
	mkfifo "$tmp/vcpus.in"
	"$hvkvm" run --kernel "$guests/serial_io.elf" --memory 64M --cpus 2 --debug-exit 0xf4 \
		--control "$sock" <"$tmp/vcpus.in" >"$tmp/vcpus.out" 2>"$tmp/vcpus.err" &
	local pid=$!
	exec 7>"$tmp/vcpus.in"
	for _ in $(seq 100); do
		grep -q "ready for input" "$tmp/vcpus.out" 2>/dev/null && break
		sleep 0.1
	done
	out=$("$hvkvm" ctl "$sock" vcpus 2>&1)
	st=$?
	kill -TERM "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	exec 7>&-
	local rip
	rip=$(echo "$out" | sed -n 's/^vcpu0: \(running\|halted\) rip=\([0-9a-f]\{16\}\) .* exits=[1-9][0-9]*$/\2/p')
	if [ "$st" != 0 ]; then
		fail vcpus "hvkvm ctl exited $st: $out"
	elif [ -z "$rip" ] || ! echo "$out" | grep -Eq '^vcpu1: (running|halted|uninitialized) rip='; then
		fail vcpus "want a line per vCPU with state, rip and exits, got: $out"
	elif [ $((16#$rip)) -lt $((0x100000)) ] || [ $((16#$rip)) -ge $((64 << 20)) ]; then
		fail vcpus "vCPU 0's rip $rip is outside the guest's 64 MiB"
	else
		pass vcpus
	fi
}
vcpus_case

# terminal NAME WANT_STATUS HVKVM_ARGS...: inside a pseudo-terminal, stty settings before and
# after hvkvm must match, and hvkvm must have changed them while it ran (raw mode).
terminal_case() {
	local name=$1 want=$2
	shift 2
	cat >"$tmp/$name.sh" <<-EOS
		stty -g >"$tmp/$name.before"
		( sleep 2; stty -g -F /dev/tty >"$tmp/$name.during" ) &
		"$hvkvm" run "\$@" >"$tmp/$name.out" 2>&1
		echo \$? >"$tmp/$name.status"
		wait
		stty -g >"$tmp/$name.after"
	EOS
	timeout 60 script -qec "bash $tmp/$name.sh $*" /dev/null >/dev/null 2>&1 </dev/null
	local status
	status=$(cat "$tmp/$name.status" 2>/dev/null)
	if [ "$status" != "$want" ]; then
		fail "$name" "exit status '$status', want $want"
	elif ! cmp -s "$tmp/$name.before" "$tmp/$name.after"; then
		fail "$name" "terminal settings changed: $(cat "$tmp/$name.before") -> $(cat "$tmp/$name.after")"
	else
		pass "$name"
	fi
}

terminal_case terminal-after-poweroff 0 --kernel "$guests/poweroff.elf" --memory 64M
terminal_case terminal-after-triple-fault 1 --kernel "$guests/triple_fault.elf" --memory 64M

# While running, raw mode is on: checked through a guest that waits for input, then SIGTERM.
cat >"$tmp/raw.sh" <<EOS
stty -g >"$tmp/raw.before"
"$hvkvm" run --kernel "$guests/serial_io.elf" --memory 64M --debug-exit 0xf4 </dev/tty >"$tmp/raw.out" 2>&1 &
pid=\$!
for i in \$(seq 100); do grep -q "ready for input" "$tmp/raw.out" && break; sleep 0.1; done
stty -g >"$tmp/raw.during"
kill -TERM \$pid; wait \$pid; echo \$? >"$tmp/raw.status"
stty -g >"$tmp/raw.after"
EOS
timeout 60 script -qec "bash $tmp/raw.sh" /dev/null >/dev/null 2>&1 </dev/null
if [ "$(cat "$tmp/raw.status" 2>/dev/null)" != 143 ]; then
	fail terminal-raw-then-sigterm "exit status '$(cat "$tmp/raw.status" 2>/dev/null)', want 143"
elif cmp -s "$tmp/raw.before" "$tmp/raw.during"; then
	fail terminal-raw-then-sigterm "the terminal was not in raw mode while the guest ran"
elif ! cmp -s "$tmp/raw.before" "$tmp/raw.after"; then
	fail terminal-raw-then-sigterm "terminal settings not restored after SIGTERM"
else
	pass terminal-raw-then-sigterm
fi
exit $failed
