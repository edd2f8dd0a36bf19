# Helpers for scenarios that run inside the nested test host (busybox sh), sourced by its /init.
# What the outside parses (tests/nested/run.sh), one line each, U = host uptime in seconds:
#   @@host ready up=U epoch=E kvm=yes|no inner=VMM cpus=N     @@host done up=U epoch=E
#   @@case NAME begin up=U epoch=E          @@case NAME cmd ARGS...
#   @@g NAME U TEXT                         a line of the inner VMM's output (guest console, VMM log)
#   @@case NAME sent up=U epoch=E           the input line was written to the VMM's stdin
#   @@case NAME clock epoch=E               the host's date when the guest printed its rtc-epoch
#   @@case NAME stamp host=T TEXT           a guest "hvtime: TEXT" line stamped with the host's
#                                           CLOCK_REALTIME (T = seconds.micros) on arrival
#   @@case NAME exit status=S up=U          the VMM's exit status (137: killed at the time limit)
#   @@case NAME timeout | panic             why it was killed
#   @@case NAME end up=U epoch=E

GUEST_KERNEL=${GUEST_KERNEL:-/guest/vmlinux}
GUEST_INITRD=${GUEST_INITRD:-/guest/guest.cpio.gz}
HVINNER=hvkvm
for arg in $(cat /proc/cmdline); do
	case $arg in hvinner=*) HVINNER=${arg#hvinner=} ;; esac
done
[ -f /hvtest/env ] && . /hvtest/env

uptime_s() {
	read -r _up _ </proc/uptime
	echo "$_up"
}

# inner_vmm CPUS MEMORY ON_REBOOT(restart|exit) CMDLINE: runs the inner guest in the foreground
# with the current stdin/stdout as its console, under $HVINNER (hvkvm, or qemu for comparison;
# $HVKVM_EXTRA and $INNER_QEMU_ARGS: more words for either; $INNER_PREFIX: a command hvkvm runs
# under, e.g. "unshare -n" for a network namespace of its own).
inner_vmm() {
	case $HVINNER in
	qemu)
		set -- ${INNER_PREFIX-} qemu-system-x86_64 -accel kvm -cpu host -M "${INNER_QEMU_MACHINE:-pc}" \
			-m "$2" -smp "$1" -nodefaults -no-user-config -display none \
			-chardev stdio,id=con,signal=off -serial chardev:con \
			-kernel "$GUEST_KERNEL" -initrd "$GUEST_INITRD" -append "$4" ${INNER_QEMU_ARGS-} \
			$([ "$3" = exit ] && echo -no-reboot)
		;;
	*)
		set -- ${INNER_PREFIX-} hvkvm run --kernel "$GUEST_KERNEL" --initrd "$GUEST_INITRD" --cmdline "$4" \
			--memory "$2" --cpus "$1" --on-reboot "$3" ${HVKVM_EXTRA-}
		# a control socket for run_case's watchdog, unless the scenario names the VM
		case " ${HVKVM_EXTRA-} " in
		*" --name "* | *" --control "*) ;;
		*) [ -z "${_inner_ctl-}" ] || set -- "$@" --control "$_inner_ctl" ;;
		esac
		;;
	esac
	if [ "${_inner_exec-}" = 1 ]; then exec "$@"; fi # run_case: its PID is the VMM's
	"$@"
}

# guest_initrd_plus DIR OUT: the inner guest's initramfs with DIR's files added (a second gzip'd
# archive after it: the kernel unpacks both in turn); GUEST_INITRD becomes OUT.
guest_initrd_plus() {
	(cd "$1" && find . -mindepth 1 | cpio -o -H newc 2>/dev/null) | gzip -1 >"$2.plus" &&
		cat "$GUEST_INITRD" "$2.plus" >"$2" && rm -f "$2.plus" && GUEST_INITRD=$2
}

# case_request LINE (in a CASE_HOOK): for a guest's "hvtest-request: N COMMAND ARGS" line (req in
# tests/nested/guest-bin/hvtest-lib), sets _req to "COMMAND ARGS"; false for any other line.
# case_answer STATUS then sends the "hvtest-done N status=STATUS" line the guest waits for.
case_request() {
	case $1 in *"hvtest-request: "*) ;; *) return 1 ;; esac
	_req=$(echo "${1#*hvtest-request: }" | tr -d '\r') # the console's lines end in CR LF
	_req_n=${_req%% *}
	_req=${_req#* }
}
case_answer() { echo "hvtest-done $_req_n status=$1" >&3; }

# run_case NAME TIME_LIMIT INPUT_LINE CPUS MEMORY ON_REBOOT CMDLINE: boots one inner guest with
# its output tagged for the outside; writes INPUT_LINE to its stdin (a FIFO) when the guest says
# "ready-for-input"; kills it after TIME_LIMIT seconds or soon after a guest kernel panic.
# CASE_SETUP=FUNCTION: called before each run of the case (a retry starts from the same inputs).
# CASE_PANICS=1: the guest is meant to panic (no retry). CASE_STOP="TEXT:N": stop the VMM (SIGTERM) when the N-th line containing TEXT arrives (a guest
# that reboots forever). CASE_HOOK=FUNCTION: called with every line (act on the guest's requests).
run_case() {
	rm -f "/tmp/$1.panicked"
	_run_case_once "$@"
	# The nested platform itself sometimes crashes an inner guest ("stack guard page" in
	# error_entry, see design.md; or a triple fault with no message): a case whose guest
	# panicked or triple-faulted unexpectedly runs once more, and the outside checks only its
	# last run.
	if [ -e "/tmp/$1.panicked" ] && [ -z "${CASE_PANICS-}" ]; then
		echo "@@case $1 retry"
		_run_case_once "$@"
	fi
}

# The running case's control socket: the VM's --name or --control from HVKVM_EXTRA, else the one
# inner_vmm adds (/tmp/NAME.ctl).
_case_ctl() {
	set -- ${HVKVM_EXTRA-}
	while [ $# -gt 1 ]; do
		case $1 in --name | --control) echo "$2"; return ;; esac
		shift
	done
	echo "/tmp/$_name.ctl"
}

# _reap PID NAME (in the background): kill -9 the case's VMM; one that is still there 15 s later
# has a thread held in this host's kernel (a vCPU that never leaves KVM_RUN: the nested platform's
# soft lockups). Nothing more can run here then, so the host says so and powers off; the outside
# boots another host for the scenarios left.
_reap() {
	kill -9 "$1" 2>/dev/null
	sleep 15
	kill -0 "$1" 2>/dev/null || return 0
	echo "@@host wedged: the VMM of case $2 survived kill -9 (a vCPU thread held in the kernel)" >/dev/console
	sync
	poweroff -f
}

_run_case_once() {
	[ -z "${CASE_SETUP-}" ] || "$CASE_SETUP" # fresh inputs for every run, a retry's too
	_name=$1 _limit=$2 _input=$3
	shift 3
	_fifo=/tmp/$_name.in
	rm -f "$_fifo" && mkfifo "$_fifo"
	exec 3<>"$_fifo" # read-write: opening never blocks, and the VMM never sees EOF
	_panicked=
	_stops=0
	echo "@@case $_name begin up=$(uptime_s) epoch=$(date +%s)"
	echo "@@case $_name cmd $HVINNER cpus=$1 memory=$2 on-reboot=$3 cmdline=$4"
	(
		_inner_ctl=/tmp/$_name.ctl _inner_exec=1 inner_vmm "$@" <"$_fifo" 2>&1 &
		_vmm=$!
		echo "$_vmm" >"/tmp/$_name.pid"
		(
			sleep "$_limit" >/dev/null 2>&1
			echo "@@timeout"
			# What each of the VMM's threads was doing: state and the kernel function it
			# waits in (a hang in the VMM and a starved guest look alike from outside).
			for _t in /proc/"$_vmm"/task/*; do
				echo "@@threads $(cat "$_t/comm") $(cut -d' ' -f3 "$_t/stat") $(cat "$_t/wchan")"
			done
			# Where the guest's CPUs are, three times a second apart: a RIP that stays put
			# with exits counting up is a guest spinning; no answer, a vCPU held in the
			# host kernel.
			for _i in 1 2 3; do
				[ "$HVINNER" = hvkvm ] || break
				hvkvm ctl --timeout 5 "$(_case_ctl)" vcpus 2>&1 | sed 's/^/@@vcpus /'
				sleep 1
			done
			_reap "$_vmm" "$_name"
		) 2>/dev/null &
		_dog=$!
		wait "$_vmm"
		_st=$?
		kill "$_dog" 2>/dev/null
		echo "@@exit $_st"
	) | while IFS= read -r _line; do
		_at=$EPOCHREALTIME
		read -r _up _ </proc/uptime
		case $_line in
		"@@exit "*)
			echo "@@case $_name exit status=${_line#@@exit } up=$_up"
			continue
			;;
		"@@timeout")
			echo "@@case $_name timeout"
			continue
			;;
		"@@threads "* | "@@vcpus "*)
			echo "@@case $_name ${_line#@@}"
			continue
			;;
		esac
		echo "@@g $_name $_up $_line"
		[ -z "${CASE_HOOK-}" ] || "$CASE_HOOK" "$_line"
		if [ -n "${CASE_STOP-}" ] && [ -z "${_line##*"${CASE_STOP%:*}"*}" ]; then
			_stops=$((_stops + 1))
			if [ "$_stops" -eq "${CASE_STOP##*:}" ]; then
				echo "@@case $_name stopped after $_stops"
				kill "$(cat "/tmp/$_name.pid")" 2>/dev/null
			fi
		fi
		case $_line in
		*ready-for-input*)
			echo "$_input" >&3
			echo "@@case $_name sent up=$_up epoch=$(date +%s)"
			;;
		*rtc-epoch:*)
			echo "@@case $_name clock epoch=$(date +%s)"
			;;
		*"hvtime: "*)
			echo "@@case $_name stamp host=$_at ${_line#*hvtime: }"
			;;
		*"Kernel panic - not syncing"* | *"hvkvm: vCPU "*": triple fault"*)
			[ -z "$_panicked" ] || continue
			_panicked=1
			: >"/tmp/$_name.panicked"
			echo "@@case $_name panic"
			_victim=$(cat "/tmp/$_name.pid") # this run's VMM, not a retry's
			(
				sleep 3
				_reap "$_victim" "$_name"
			) >/dev/null 2>&1 &
			;;
		esac
	done
	exec 3>&-
	echo "@@case $_name end up=$(uptime_s) epoch=$(date +%s)"
}
