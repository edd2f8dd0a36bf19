# Checks of scenarios/ic.sh: hvkvm's integration services against Debian's hv_utils and
# hyperv-daemons, driven with 'hvkvm ctl'.

ic_ctl() { # N COMMAND: the N-th "@@case ic ctl COMMAND: ..." line's text after the colon
	grep -E "^[0-9.]+ @@case ic ctl $2: " "$log" | sed -n "$1p" | sed "s/^[0-9.]* @@case ic ctl $2: //"
}

ic_expect() { # CHECK N COMMAND REGEX WANT
	local v
	v=$(ic_ctl "$2" "$3")
	if [[ $v =~ $4 ]]; then pass "$1"; else fail "$1" "$(mismatch "$v" "$5")"; fi
}

check_ic() {
	check_ic_main
	check_ic_reboot
}

check_ic_main() {
	local name=ic console begin end exitl why v file
	case_state $name
	ic_expect $name/heartbeat-healthy 1 heartbeat '"state":"healthy".*status=0$' "healthy"
	ic_expect $name/kvp-hostname 1 kvp-get '"FullyQualifiedDomainName":"hvkvm-ic-guest[.a-z]*".*status=0$' \
		"the guest's FullyQualifiedDomainName hvkvm-ic-guest"
	ic_expect $name/kvp-os 1 kvp-get '"OSName":"[^"]+"' "an OSName key"
	ic_expect $name/kvp-ipv4 1 kvp-get '"NetworkAddressIPv4":"10\.0\.1\.2' "the guest NIC's address 10.0.1.2"
	ic_expect $name/kvp-nic-ip-info 1 kvp-get '"IPAddresses\[[^]]*\]":"10\.0\.1\.2' \
		"the NIC's addresses through KVP_OP_GET_IP_INFO (by MAC 52:54:00:ab:cd:01)"
	ic_expect $name/kvp-get-key 2 kvp-get '^\{"FullyQualifiedDomainName":"hvkvm-ic-guest[^,]*\}' "only FullyQualifiedDomainName"
	ic_expect $name/kvp-set 1 kvp-set 'status=0$' "kvp-set accepted"
	hv_expect_value $name/kvp-in-guest-pool ic-pool0 "HostKey=hvkvm-host-value-42"
	ic_expect $name/copy-file 1 copy-file 'status=0$' "copy-file accepted"
	file=$(host_line "@@case ic file " | cut -d' ' -f4)
	hv_expect_value $name/copied-sha256 ic-copied "$file"
	ic_expect $name/copy-refused-exists 2 copy-file '(EXISTS|exists).*status=1$' "an error saying the file exists (no --overwrite)"
	ic_expect $name/freeze 1 freeze 'status=0$' "freeze accepted by hv_vss_daemon"
	ic_expect $name/thaw 1 thaw 'status=0$' "thaw accepted"
	local t0 t1
	t0=$(sed -n 's/^ic-time-before: //p' "$console")
	t1=$(sed -n 's/^ic-time-after: //p' "$console")
	if [[ $t0 =~ ^[0-9]+$ && $t1 =~ ^[0-9]+$ ]] && [ $((t1 - t0)) -ge 3595 ] && [ $((t1 - t0)) -le 3620 ]; then
		pass $name/time-stepped
	else fail $name/time-stepped "$(mismatch "${t0:-?} -> ${t1:-?}" "the guest clock 1 h ahead after time-offset 3600")"; fi
	ic_expect $name/time-offset-nan-refused 3 time-offset 'not a number of seconds.*status=1$' \
		"'hvkvm ctl time-offset nan' refused (exit 1)"
	ic_expect $name/heartbeat-no-contact 2 heartbeat '"state":"(no-contact|missed)"' "no contact / missed after rmmod hv_utils"
	ic_expect $name/shutdown 1 shutdown 'status=0$' "shutdown accepted"
	hv_expect_line $name/orderly-poweroff "^hvkvm-guest: orderly poweroff" "the guest's orderly poweroff"
	hv_expect_status $name 0
}

check_ic_reboot() {
	local name=ic-reboot console begin end exitl why v
	case_state $name
	v=$(grep -E "^[0-9.]+ @@case $name ctl reboot: " "$log" | head -n1)
	if [[ $v == *"status=0" ]]; then pass $name/ctl-reboot
	else fail $name/ctl-reboot "$(mismatch "${v#* @@case $name ctl reboot: }" "'hvkvm ctl reboot' accepted")"; fi
	hv_expect_line $name/orderly-reboot "^hvkvm-guest: orderly reboot" "the guest's orderly reboot"
	hv_expect_status $name 0
}
