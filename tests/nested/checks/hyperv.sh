# Checks of scenarios/hyperv.sh: Debian's kernel on hvkvm's userspace TLFS path.

# hv_stats: "N M" from hvkvm's -v exit line (synthetic MSR accesses and hypercalls served in
# userspace), empty when there is none.
hv_stats() {
	sed -n 's/.*hv: info: userspace handled \([0-9]*\) synthetic MSR accesses.* and \([0-9]*\) hypercalls.*/\1 \2/p' \
		"$console" | head -n1
}

hv_userspace_check() { # NAME: the proof that hvkvm, not the host's KVM, served the TLFS
	local stats
	stats=$(hv_stats)
	if [ -n "$stats" ] && [ "${stats%% *}" -gt 0 ]; then
		pass "$1/userspace-path"
		hv_notes+=" $1: ${stats%% *} synthetic MSR accesses and ${stats#* } hypercalls served by hvkvm;"
	else fail "$1/userspace-path" "$(mismatch "$stats" "hvkvm's exit line with more than 0 synthetic MSR accesses")"; fi
}

hv_doorbell_check() { # NAME: the channels' signals took the in-kernel doorbell (KVM_IOEVENTFD)
	local d
	d=$(sed -n 's/.*; \([0-9]*\) doorbells bound in the kernel, \([0-9]*\) doorbell writes served here.*/\1 \2/p' \
		"$console" | head -n1)
	if [ -n "$d" ] && [ "${d%% *}" -gt 0 ]; then
		pass "$1/doorbells-in-kernel"
		hv_notes+=" $1: ${d%% *} channel doorbells bound in the kernel, ${d#* } doorbell writes reached hvkvm;"
	else fail "$1/doorbells-in-kernel" "$(mismatch "$d" "1 or more doorbells bound in the kernel (one per open channel)")"; fi
}

# Guest CLOCK_REALTIME against the nested host's over the two bursts of "hvtime" samples: the
# serial path only delays a line, so the smallest host-minus-guest offset of each burst is the
# best estimate; their difference is the drift. Prints "SAMPLES ELAPSED_S DRIFT_MS SPREAD_MS" (the
# spread: the largest range of offsets within a burst, i.e. the serial path's jitter).
hv_clock_drift() {
	grep -E "^[0-9.]+ @@case $1 stamp " "$log" | awk '
		{ host = substr($5, 6); b = $6; g = $8; off = host - g; n[b]++
		  if (!(b in min) || off < min[b]) min[b] = off
		  if (!(b in max) || off > max[b]) max[b] = off
		  if (!(b in first)) first[b] = g }
		END { if (n["A"] && n["B"])
			printf "%d %.1f %.2f %.1f\n", n["A"] + n["B"], first["B"] - first["A"],
				(min["B"] - min["A"]) * 1000,
				(max["A"] - min["A"] > max["B"] - min["B"] ? max["A"] - min["A"] : max["B"] - min["B"]) * 1000 }'
}

check_hv_check() {
	local name=hv-check console begin end exitl why drift
	case_state $name
	hv_expect_line $name/hyperv-detected "^hv-dmesg: .*Hypervisor detected: Microsoft Hyper-V" \
		"'Hypervisor detected: Microsoft Hyper-V' in dmesg"
	# CPUID 0x40000002 as hvkvm sets it (src/hv-enlight/cpuid.c): build 14393, version 10.0.
	hv_expect_line $name/host-build "^hv-dmesg: .*Hyper-V: Host Build 10\.0\.14393\." \
		"'Hyper-V: Host Build 10.0.14393.*' (hvkvm's CPUID) in dmesg"
	hv_expect_value $name/clocksource clocksource hyperv_clocksource_tsc_page
	hv_expect_value $name/nproc nproc 4
	hv_expect_value $name/cpus-online cpus-online 0-3
	# VMBus: hv_vmbus connects at the newest version and sees the test device's channel.
	hv_expect_line $name/vmbus-version "^hv-vmbus: .*Vmbus version:5\.3" \
		"hv_vmbus's 'Vmbus version:5.3' in dmesg"
	hv_expect_line $name/vmbus-device "^vmbus-device: \{8f6c1a2e-3d5b-4e7a-9c0d-5b1e2f3a4c6d\}" \
		"the test device's class id under /sys/bus/vmbus/devices"
	drift=$(hv_clock_drift $name)
	set -- $drift
	if [ -z "$drift" ]; then fail $name/clock-tracks-host "no hvtime samples in both bursts: $why"
	elif awk -v e="$2" -v d="$3" 'BEGIN { exit !(e >= 10 && d < 10 && d > -10) }'; then
		pass $name/clock-tracks-host
		hv_notes+=" guest clock vs nested host: ${3} ms over ${2} s ($1 samples, serial jitter ${4} ms);"
	else fail $name/clock-tracks-host "guest clock drifted ${3} ms from the nested host's over ${2} s (want < 10 ms over >= 10 s)"; fi
	hv_expect_line $name/reset-msr "hv: info: guest reset through HV_X64_MSR_RESET" \
		"hvkvm's 'guest reset through HV_X64_MSR_RESET' (-v)"
	hv_expect_status $name 0
	hv_userspace_check $name
	hv_doorbell_check $name
	timings+=" $name: VMM exit $(since "$(kv up "$begin")" "$(kv up "$exitl")") after VMM start;"
}

check_hv_panic() {
	local name=hv-panic console begin end exitl why
	case_state $name panics
	hv_expect_line $name/crash-reported "^hvkvm: the guest reported a crash: P0 " \
		"hvkvm's 'the guest reported a crash' line"
	# The kernel's message (its kmsg dump, through CRASH_P3/P4) follows hvkvm's message line; the
	# console's own panic line comes before it.
	if awk '/^hvkvm: guest crash message: / { msg = 1 }
		msg && /Kernel panic - not syncing: sysrq triggered crash/ { found = 1 }
		END { exit !found }' "$console"; then
		pass $name/crash-message
	else fail $name/crash-message "$(mismatch "" "'Kernel panic - not syncing: sysrq triggered crash' in hvkvm's crash message")"; fi
	hv_expect_status $name 3
	hv_userspace_check $name
	timings+=" $name: VMM exit $(since "$(kv up "$begin")" "$(kv up "$exitl")") after VMM start;"
}

check_hv_off() {
	local name=hv-off console begin end exitl why
	case_state $name
	hv_expect_line $name/kvm-detected "^hv-dmesg: .*Hypervisor detected: KVM" \
		"'Hypervisor detected: KVM' in dmesg"
	if grep -q "Microsoft Hyper-V" "$console"; then fail $name/no-hyperv "the guest detected Hyper-V"
	elif grep -q "^clocksource: " "$console"; then pass $name/no-hyperv
	else fail $name/no-hyperv "$(mismatch "" "the guest's report: $why")"; fi
	hv_expect_value $name/clocksource clocksource kvm-clock
	hv_expect_status $name 0
	timings+=" $name: VMM exit $(since "$(kv up "$begin")" "$(kv up "$exitl")") after VMM start;"
}

check_hyperv() {
	check_hv_check
	check_hv_panic
	check_hv_off
}
