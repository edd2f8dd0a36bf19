# Checks of scenarios/storage.sh: storvsp disks seen and used by Debian's hv_storvsc, sd and ext4.

check_storage_main() {
	local name=storage console begin end exitl why v scratch host img chans
	case_state $name
	# Three disks, Hyper-V's SCSI identity; the read-only ones flagged ro.
	if [ "$(grep -c '^storage-disk: sd[a-z]* ' "$console")" = 3 ]; then pass $name/three-disks
	else fail $name/three-disks "$(mismatch "$(grep -c '^storage-disk: ' "$console") disks" 3)"; fi
	scratch=$(sed -n 's/^storage-scratch: //p' "$console")
	v=$(sed -n "s/^storage-disk: $scratch //p" "$console")
	if [ "$v" = "786432 0 Msft VirtualDisk" ]; then pass $name/scratch-identity
	else fail $name/scratch-identity "$(mismatch "$v" "'786432 0 Msft VirtualDisk' (384 MiB, rw, Msft Virtual Disk)")"; fi
	v=$(sed -n "s/^storage-disk: $(sed -n 's/^storage-ro-disk: //p' "$console") //p" "$console")
	if [ "$v" = "32768 1 Msft VirtualDisk" ]; then pass $name/ro-identity
	else fail $name/ro-identity "$(mismatch "$v" "'32768 1 Msft VirtualDisk' (16 MiB, ro)")"; fi
	host=$(host_line "@@case storage host-pattern " | cut -d' ' -f4)
	hv_expect_value $name/host-pattern-read storage-host-pattern "$host"
	hv_expect_value $name/ro-write storage-ro-write refused
	v=$(host_line "@@case storage ctl disk-add: ")
	if [[ $v == *"added status=0" ]]; then pass $name/ctl-disk-add
	else fail $name/ctl-disk-add "$(mismatch "$v" "'hvkvm ctl vm-storage disk-add' answering 'added'")"; fi
	v=$(sed -n 's/^storage-hot-added: //p' "$console")
	if [[ $v == sd* ]]; then pass $name/hot-add-seen
	else fail $name/hot-add-seen "$(mismatch "$v" "a new 8 MiB sd disk after disk-add")"; fi
	hv_expect_value $name/hot-read storage-hot-read "$(head -c 4096 /dev/zero | sha256sum | cut -d' ' -f1)"
	v=$(host_line "@@case storage ctl disk-remove: ")
	if [[ $v == *"removed status=0" ]]; then pass $name/ctl-disk-remove
	else fail $name/ctl-disk-remove "$(mismatch "$v" "'hvkvm ctl vm-storage disk-remove 5' answering 'removed'")"; fi
	hv_expect_value $name/hot-remove-seen storage-hot-removed gone
	hv_expect_value $name/mkfs storage-mkfs-status 0
	hv_expect_value $name/file-readback storage-file-readback same
	hv_expect_value $name/fsck storage-fsck-status 0
	hv_expect_value $name/fio-verify storage-fio-status 0
	chans=$(awk '/^storage-channel: / && $3 > 0 { n++ } END { print n + 0 }' "$console")
	if [ "$chans" -ge 2 ]; then pass $name/multichannel
	else fail $name/multichannel "$(mismatch "$chans channels with interrupts" ">= 2 (the subchannel in use with 2 vCPUs)")"; fi
	img=$(host_line "@@case storage image-pattern " | cut -d' ' -f4)
	v=$(sed -n 's/^storage-guest-pattern: //p' "$console" | head -n1)
	if [ -n "$v" ] && [ "$img" = "$v" ]; then pass $name/flushed-survives-kill
	else fail $name/flushed-survives-kill "$(mismatch "$img" "the guest's pattern $v in the image after kill -9")"; fi
	timings+=" $name: $(since "$(kv up "$begin")" "$(kv up "$end")");"
}

check_storage_lock() {
	local l
	l=$(host_line "@@case storage-lock second ")
	if [[ $l == *"status=2 "*"locked"* ]]; then pass storage-lock/second-vm-refused
	else fail storage-lock/second-vm-refused "$(mismatch "$l" "status 2 and a 'locked' message")"; fi
}

check_storage() {
	check_storage_main
	check_storage_lock
}
