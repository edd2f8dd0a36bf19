/* The PC board, assembled explicitly in one place and in order: VM, devices on their ports,
 * ACPI tables, the kernel, the vCPUs' initial state. Torn down in reverse. One per boot. */
#ifndef HVKVM_BOARD_H
#define HVKVM_BOARD_H

#include <stdbool.h>

#include "backend/chardev.h"
#include "emulated/debug_exit.h"
#include "emulated/i8042.h"
#include "emulated/legacy_ports.h"
#include "emulated/pm.h"
#include "emulated/rtc.h"
#include "emulated/serial.h"
#include "event_loop.h"
#include "hv_host.h"
#include "synthetic/ic_services.h"
#include "synthetic/netvsp.h"
#include "synthetic/storvsp.h"
#include "vmbus/host.h"
#include "vmbus/test_device.h"
#include "kvm.h"
#include "mgmt/control.h"
#include "options.h"
#include "vm.h"

struct board {
	struct vm vm;
	struct serial com1;
	struct rtc rtc;
	struct pm pm;
	struct i8042 kbc;
	struct legacy_ports legacy;
	struct debug_exit debug_exit;
	struct hv_host hv;
	bool hv_ready;
	struct vmbus_host *vmbus;              /* with the 'synic' feature */
	struct vmbus_test_device *vmbus_test;  /* --vmbus-test-device */
	struct storvsp *storvsp[OPTIONS_MAX_CONTROLLERS]; /* SCSI controllers with --disk */
	struct ic_set *ics;                    /* integration services (with VMBus) */
	struct netvsp *nics[OPTIONS_MAX_NICS]; /* --net: synthetic NICs */
	uint8_t nic_macs[OPTIONS_MAX_NICS][6]; /* their MACs */
	unsigned nnics;
	struct control_server *control;        /* the VM's control socket, or NULL */
	bool com1_ready, rtc_ready, pm_ready, kbc_ready;
};

/* Builds the board ready to run. On failure err holds one line; *bad_input says whether the
 * user's input was at fault (exit 2) rather than the host (exit 1). */
__attribute__((warn_unused_result))
int board_create(struct board *b, const struct run_options *opts, const struct kvm *kvm,
		 struct event_loop *loop, struct chardev *console, struct control_server *ctl,
		 struct error *err, bool *bad_input);
void board_destroy(struct board *b);

#endif
