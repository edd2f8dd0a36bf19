# Storage scenarios of tests/nested/run.sh (hvkvm only): storvsp disks under Debian's hv_storvsc.
# Images live in a tmpfs of the nested host; the guest tools image is the host's virtio disk
# /dev/vda (read-only). The guest half is tests/nested/guest-bin/hvtest-storage.
_st_extra=${HVKVM_EXTRA-}
_st_initrd=$GUEST_INITRD
[ -d /guest-extra ] && guest_initrd_plus /guest-extra /tmp/guest-storage.cpio.gz
mkdir -p /scratch && mount -t tmpfs -o size=700m scratch /scratch

# scratch: 384 MiB with the host's 1 MiB pattern at 1 MiB; ro: 16 MiB; hot: 8 MiB. Made anew
# before each run of the case: a retried run must not see what the first one wrote.
dd if=/dev/urandom of=/scratch/hostpat bs=1M count=1 2>/dev/null
echo "@@case storage host-pattern $(sha256sum </scratch/hostpat | cut -d' ' -f1)"
storage_setup() {
	rm -f /scratch/disk.img /scratch/ro.img /scratch/hot.img
	dd if=/dev/zero of=/scratch/disk.img bs=1M count=0 seek=384 2>/dev/null
	dd if=/scratch/hostpat of=/scratch/disk.img bs=1M seek=1 conv=notrunc 2>/dev/null
	dd if=/dev/zero of=/scratch/ro.img bs=1M count=16 2>/dev/null
	dd if=/dev/zero of=/scratch/hot.img bs=1M count=8 2>/dev/null
}

# When the guest says its pattern is flushed: kill -9 hvkvm, then read the pattern from the image.
storage_hook() {
	case $1 in
	*"storage-request: "*)
		_req=$(echo "${1#*storage-request: }" | tr -d '\r') # the console's lines end in CR LF
		_out=$(hvkvm ctl vm-storage $_req 2>&1)
		_st=$?
		echo "@@case storage ctl ${_req%% *}: $_out status=$_st"
		;;
	*"storage-pattern-flushed: status 0"*)
		kill -9 "$(cat /tmp/storage.pid)" 2>/dev/null
		sleep 1
		echo "@@case storage image-pattern $(dd if=/scratch/disk.img bs=1M skip=8 count=4 2>/dev/null |
			sha256sum | cut -d' ' -f1)"
		;;
	esac
}

HVKVM_EXTRA="$_st_extra --name vm-storage --disk /scratch/disk.img --disk /scratch/ro.img,readonly --disk /dev/vda,readonly"
CASE_HOOK=storage_hook
CASE_SETUP=storage_setup
run_case storage "$CASE_LIMIT" - 2 512M exit \
	"console=ttyS0 $INNER_APPEND hvtest=hv hvtest-run=/bin/hvtest-storage hvtest-end=poweroff"
CASE_HOOK=
CASE_SETUP=

# Two VMs on one writable image: the second is refused (exit 2) while the first runs.
echo "@@case storage-lock begin up=$(uptime_s) epoch=$(date +%s)"
hvkvm run --kernel "$GUEST_KERNEL" --initrd "$GUEST_INITRD" --disk /scratch/disk.img \
	--cmdline "console=ttyS0 quiet hvtest=shell" --serial none </dev/null >/dev/null 2>&1 &
_first=$!
sleep 2
hvkvm run --kernel "$GUEST_KERNEL" --initrd "$GUEST_INITRD" --disk /scratch/disk.img \
	--cmdline "console=ttyS0" --serial none </dev/null >/tmp/lock.out 2>&1
echo "@@case storage-lock second status=$? $(head -n1 /tmp/lock.out)"
kill "$_first" 2>/dev/null
wait "$_first" 2>/dev/null
echo "@@case storage-lock end up=$(uptime_s) epoch=$(date +%s)"

umount /scratch
HVKVM_EXTRA=$_st_extra
GUEST_INITRD=$_st_initrd
