# Checks of scenarios/net.sh: hvkvm's netvsp under Debian's hv_netvsc, in a network namespace.

check_net() {
	local name=net console begin end exitl why v want chans
	case_state $name
	hv_expect_value $name/mac net-mac 52:54:00:12:34:56
	hv_expect_value $name/mtu net-mtu 1500
	v=$(sed -n 's/^net-queues: //p' "$console")
	if [ "$v" = 2 ]; then pass $name/multiqueue
	else fail $name/multiqueue "$(mismatch "$v" "2 receive queues, one per vCPU")"; fi
	hv_expect_value $name/carrier net-carrier 1
	hv_expect_value $name/ping-host net-ping-host ok
	v=$(host_line "@@case net host ping-guest ")
	if [[ $v == *"status=0" ]]; then pass $name/ping-guest
	else fail $name/ping-guest "$(mismatch "$v" "the host's ping of 10.0.0.2 answered")"; fi
	want=$(host_line "@@case net from-host-sha " | cut -d' ' -f4)
	hv_expect_value $name/transfer-host-to-guest net-from-host "$want"
	want=$(sed -n 's/^net-to-host-sha: //p' "$console")
	v=$(host_line "@@case net to-host-sha " | cut -d' ' -f4)
	if [ -n "$want" ] && [ "$v" = "$want" ]; then pass $name/transfer-guest-to-host
	else fail $name/transfer-guest-to-host "$(mismatch "$v" "the guest's sha256 $want")"; fi
	hv_expect_value $name/iperf-send net-iperf-send-status 0
	hv_expect_value $name/iperf-receive net-iperf-receive-status 0
	chans=$(awk '/^net-channel: / && $3 > 0 { n++ } END { print n + 0 }' "$console")
	if [ "$chans" -ge 2 ]; then pass $name/channels-used
	else fail $name/channels-used "$(mismatch "$chans channels with interrupts" ">= 2")"; fi
	hv_expect_value $name/link-down-seen net-carrier-down 0
	hv_expect_value $name/link-up-seen net-carrier-up 1
	hv_expect_status $name 0
	net_notes="iperf3 guest->host $(sed -n 's/^net-iperf-send: //p' "$console"), host->guest $(sed -n 's/^net-iperf-receive: //p' "$console")"
	timings+=" $name: $(since "$(kv up "$begin")" "$(kv up "$end")") ($net_notes);"
}
