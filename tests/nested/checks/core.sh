# Checks of scenarios/core.sh: the default guest on 1 and 4 vCPUs (console, clock, memory, stdin,
# poweroff and reboot with --on-reboot exit).
check_case() { # NAME CPUS CPUS_ONLINE INPUT
	local name=$1 cpus=$2 online=$3 input=$4 console begin end exitl why
	local v clock up0 up1
	case_state "$name"
	local -A got=()
	while IFS= read -r v; do
		case $v in
		"hvkvm-guest: init started"*) got[init]=1 ;;
		"cpus-online: "*) got[online]=${v#cpus-online: } ;;
		"nproc: "*) got[nproc]=${v#nproc: } ;;
		"memtotal-kb: "*) got[mem]=${v#memtotal-kb: } ;;
		"rtc-epoch: "*) got[rtc]=${v#rtc-epoch: } ;;
		"echo: "*) got[echo]=${v#echo: } ;;
		esac
	done <"$console"

	if [ -n "${got[init]-}" ]; then pass "$name/init-started"; else fail "$name/init-started" "$why"; fi
	if [ "${got[online]-}" = "$online" ]; then pass "$name/cpus-online"
	else fail "$name/cpus-online" "$(mismatch "${got[online]-}" "'$online'")"; fi
	if [ "${got[nproc]-}" = "$cpus" ]; then pass "$name/nproc"
	else fail "$name/nproc" "$(mismatch "${got[nproc]-}" "$cpus")"; fi
	# MemTotal of 512 MiB of RAM: the kernel keeps its own image and reservations out of it.
	if in_range "${got[mem]-}" $((524288 * 85 / 100)) 524288; then pass "$name/memtotal"
	else fail "$name/memtotal" "$(mismatch "${got[mem]-}" "85-100% of 524288 kB")"; fi
	clock=$(kv epoch "$(host_line "@@case $name clock ")")
	if [ -z "${got[rtc]-}" ]; then fail "$name/rtc-epoch" "$why"
	elif ! in_range "${got[rtc]}" $((clock - 120)) $((clock + 120)); then
		fail "$name/rtc-epoch" "guest ${got[rtc]}, nested host ${clock:-(no date)}: more than 120 s apart"
	elif ! in_range "${got[rtc]}" $((outer_start - 120)) $((outer_end + 120)); then
		fail "$name/rtc-epoch" "guest ${got[rtc]} is more than 120 s outside this machine's run $outer_start..$outer_end"
	else pass "$name/rtc-epoch"; fi
	if [ "${got[echo]-}" = "$input" ]; then pass "$name/stdin-echo"
	else fail "$name/stdin-echo" "$(mismatch "${got[echo]-}" "'$input'")"; fi
	v=$(kv status "$exitl")
	if [ "$v" = 0 ]; then pass "$name/exit-status"
	else fail "$name/exit-status" "$(mismatch "$v" 0)"; fi

	up0=$(kv up "$begin")
	up1=$(grep -m1 -E "^[0-9.]+ @@g $name [0-9.]+ hvkvm-guest: init started" "$log" | cut -d' ' -f4)
	timings+=" $name: init started $(since "$up0" "$up1")"
	timings+=", VMM exit $(since "$up0" "$(kv up "$exitl")") after VMM start;"
}

check_core() {
	check_case smp1-poweroff 1 0 hvkvm-echo-smp1-poweroff
	check_case smp4-reboot 4 0-3 hvkvm-echo-smp4-reboot
}
