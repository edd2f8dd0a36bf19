# Assertion helpers for tests/nested/run.sh, sourced by it; each scenario's checks live in
# checks/<scenario>.sh as a function check_<scenario> run on one attempt's serial log ($log).
declare -a results
pass() { results+=("PASS nested/$1"); }
fail() { results+=("FAIL nested/$1: $2"); }

# host_line PATTERN: the text of the first "@@..." line of the host matching PATTERN
host_line() { grep -m1 -E "^[0-9.]+ $1" "$log" | cut -d' ' -f2-; }
kv() { # KEY LINE: the value of KEY=value in LINE
	sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$2"
}
mismatch() { # GOT WANT: why a check failed ($why: what went wrong with the case, if anything)
	if [ -n "$1" ]; then echo "got '$1', want $2"; else echo "no such line, want $2: ${why:-the case did not run}"; fi
}
in_range() { [[ $1 =~ ^[0-9]+$ ]] && [ "$1" -ge "$2" ] && [ "$1" -le "$3" ]; }

# case_state NAME [panics]: its console in $dir/NAME.console.log (sets console), its begin, end
# and exit lines (begin, end, exitl), and why a missing line is missing (why; "panics": the guest's
# kernel panic is the case itself, not a reason).
case_state() {
	local name=$1 panics=${2-}
	console=$dir/$name.console.log
	grep -E "^[0-9.]+ @@g $name " "$log" | cut -d' ' -f5- >"$console"
	begin=$(host_line "@@case $name begin ")
	end=$(host_line "@@case $name end ")
	exitl=$(host_line "@@case $name exit ")
	why="the guest did not print it"
	if [ -z "$begin" ]; then
		why="the case never started (nested host: $host_state)"
	elif [ -z "$end" ]; then
		why="the case never ended (nested host: $host_state)"
	elif grep -qE "^[0-9.]+ @@case $name timeout" "$log"; then
		why="the inner guest was killed after ${CASE_LIMIT:-240} s$(case_vcpus "$name")"
	elif [ "$panics" != panics ] && grep -qE "^[0-9.]+ @@case $name panic" "$log"; then
		why="the inner guest's kernel panicked"
	fi
}

# case_vcpus NAME: "; vCPUs: ..." from the last 'hvkvm ctl vcpus' sample its watchdog took.
case_vcpus() {
	local lines
	lines=$(grep -E "^[0-9.]+ @@case $1 vcpus vcpu" "$log" | cut -d' ' -f5- |
		sed 's/ rsp=[^ ]*//; s/ rflags=[^ ]*//; s/ cr3=[^ ]*//' | tail -n 64)
	[ -n "$lines" ] || return 0
	# the last sample: as many lines as the first sample's vCPU count
	local n
	n=$(echo "$lines" | grep -c '^vcpu0:')
	echo "; vCPUs at the end: $(echo "$lines" | tail -n $(( $(echo "$lines" | wc -l) / (n ? n : 1) )) | paste -sd, | sed 's/,/, /g')"
}

since() { # UPTIME0 UPTIME1: "N.N s" between them, or "never"
	if [ -n "$1" ] && [ -n "$2" ]; then awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f s", b - a }'
	else echo never; fi
}

hv_expect_line() { # CHECK REGEX WANT: a console line matching REGEX
	if grep -qE "$2" "$console"; then pass "$1"; else fail "$1" "$(mismatch "" "$3")"; fi
}

hv_expect_value() { # CHECK KEY WANT: the console's "KEY: value" equals WANT
	local v
	v=$(sed -n "s/^$2: //p" "$console" | head -n1)
	if [ "$v" = "$3" ]; then pass "$1"; else fail "$1" "$(mismatch "$v" "'$3'")"; fi
}

hv_expect_status() { # NAME STATUS
	local v
	v=$(kv status "$exitl")
	if [ "$v" = "$2" ]; then pass "$1/exit-status"; else fail "$1/exit-status" "$(mismatch "$v" "$2")"; fi
}

