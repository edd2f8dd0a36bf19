# Checks of scenarios/vmbus.sh: hv_vmbus unloads and reconnects, and a rebooted guest (restart)
# connects again and sees the test device.

check_vmbus_cycle() {
	local name=vmbus-cycle console begin end exitl why boots
	local class="{8f6c1a2e-3d5b-4e7a-9c0d-5b1e2f3a4c6d}"
	case_state $name
	boots=$(grep -c "^hvkvm-guest: init started" "$console")
	if [ "$boots" -ge 2 ]; then pass $name/rebooted
	else fail $name/rebooted "$(mismatch "$boots boots" "2 (reboot with restart)")"; fi
	hv_expect_line $name/device-before "^vmbus-before: $class" "the test device before the unload"
	hv_expect_value $name/rmmod vmbus-rmmod ok
	hv_expect_value $name/unloaded-count vmbus-unloaded-count 0
	hv_expect_value $name/insmod vmbus-insmod ok
	hv_expect_line $name/device-after "^vmbus-after: $class" "the test device after hv_vmbus reconnected"
	# Each boot: the first connection, then the reconnection after insmod.
	hv_expect_value $name/reconnected vmbus-connects 2
	if [ "$(grep -c "^vmbus-after: $class" "$console")" -ge 2 ]; then pass $name/after-reboot
	else fail $name/after-reboot "$(mismatch "" "the test device listed again after the restart: $why")"; fi
	timings+=" $name: $(since "$(kv up "$begin")" "$(kv up "$end")") for two boots;"
}

check_vmbus_hotplug() {
	local name=vmbus-hotplug console begin end exitl why v
	case_state $name
	hv_expect_value $name/before vmbus-hotplug-before 1
	v=$(host_line "@@case $name ctl remove: ")
	if [[ $v == *"rescinded status=0" ]]; then pass $name/ctl-remove
	else fail $name/ctl-remove "$(mismatch "$v" "'hvkvm ctl vm-vmbus vmbus-test remove' answering 'rescinded'")"; fi
	hv_expect_value $name/rescinded vmbus-hotplug-removed 0
	v=$(host_line "@@case $name ctl add: ")
	if [[ $v == *"offered status=0" ]]; then pass $name/ctl-add
	else fail $name/ctl-add "$(mismatch "$v" "'hvkvm ctl vm-vmbus vmbus-test add' answering 'offered'")"; fi
	hv_expect_value $name/hot-added vmbus-hotplug-added 1
	hv_expect_status $name 0
}

check_vmbus() {
	check_vmbus_cycle
	check_vmbus_hotplug
}
