# scripts/boot-default.sh in the nested test host: the inner guest's console is this host's ttyS0
# (the user's terminal through QEMU's -nographic serial); its exit status goes out on ttyS1.
# From /hvtest/env: INNER_CPUS, INNER_MEMORY, INNER_APPEND.
inner_vmm "$INNER_CPUS" "$INNER_MEMORY" restart "console=ttyS0 $INNER_APPEND hvtest=shell" \
	</dev/ttyS0 >/dev/ttyS0 2>&1
status=$?
echo "hvkvm-exit-status $status" >/dev/ttyS1
