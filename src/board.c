/* The PC board, assembled in order and torn down in reverse (see board.h). */
#include "board.h"

#include <errno.h>
#include <string.h>

#include "emulated/pc_ports.h"
#include "firmware/acpi.h"
#include "firmware/boot_layout.h"
#include "firmware/kernel_loader.h"
#include "board_control.h"
#include "vcpu.h"
#include "vcpu_setup.h"

/* The debug-exit port takes 1, 2 and 4-byte writes, as QEMU's isa-debug-exit with iosize=4. */
#define DEBUG_EXIT_WINDOW 4

/* MMIO window the VMBus offers its devices (synthetic video, vPCI), in the 32-bit hole. */
#define BOARD_VMBUS_MMIO_BASE 0xe0000000u
#define BOARD_VMBUS_MMIO_SIZE 0x10000000u

static int add_pio(struct board *b, uint64_t base, uint64_t len, const struct io_dev_ops *ops,
		   void *dev, const char *name, struct error *err)
{
	int ret = io_bus_add(&b->vm.pio, base, len, ops, dev, name);

	if (ret < 0)
		return error_set(err, -ret, "cannot claim ports 0x%llx-0x%llx for %s: %s",
				 (unsigned long long)base, (unsigned long long)(base + len - 1), name,
				 strerror(-ret));
	return 0;
}

static int add_devices(struct board *b, const struct run_options *opts, struct chardev *console,
		       struct error *err)
{
	struct machine_control mc = vm_machine_control(&b->vm);
	int ret;

	ret = serial_init(&b->com1, console, vm_irq_line(&b->vm, PC_COM1_IRQ));
	if (ret < 0)
		return error_set(err, -ret, "cannot set up COM1: %s", strerror(-ret));
	b->com1_ready = true;
	ret = add_pio(b, PC_COM1_PORT, 8, &serial_ops, &b->com1, "com1", err);
	if (ret == 0 && (ret = rtc_init(&b->rtc, NULL)) == 0)
		b->rtc_ready = true;
	if (ret == 0)
		ret = add_pio(b, PC_RTC_PORT, 2, &rtc_ops, &b->rtc, "rtc", err);
	if (ret == 0 && (ret = pm_init(&b->pm, mc)) == 0)
		b->pm_ready = true;
	if (ret == 0)
		ret = add_pio(b, PC_PM_BASE, PC_PM_BLOCK_LEN, &pm_ops, &b->pm, "acpi-pm", err);
	if (ret == 0 && (ret = i8042_init(&b->kbc, mc)) == 0)
		b->kbc_ready = true;
	if (ret == 0)
		ret = add_pio(b, PC_I8042_DATA_PORT, 1, &i8042_data_ops, &b->kbc, "i8042-data", err);
	if (ret == 0)
		ret = add_pio(b, PC_I8042_CMD_PORT, 1, &i8042_cmd_ops, &b->kbc, "i8042-cmd", err);
	if (ret == 0 && opts->debug_exit_port >= 0) {
		debug_exit_init(&b->debug_exit, mc);
		ret = add_pio(b, opts->debug_exit_port, DEBUG_EXIT_WINDOW, &debug_exit_ops,
			      &b->debug_exit, "debug-exit", err);
	}
	if (ret == 0) {
		/* Last: quiet claims must not take a port a real device uses. */
		ret = legacy_ports_register(&b->vm.pio, &b->legacy, mc);
		if (ret < 0)
			return error_set(err, -ret, "cannot claim the legacy ports: %s",
					 strerror(-ret));
	}
	if (ret < 0 && !err->msg[0])
		return error_set(err, -ret, "device set-up failed: %s", strerror(-ret));
	return ret;
}

static int load_acpi(struct board *b, uint64_t *rsdp_gpa, struct error *err)
{
	struct acpi_config cfg = {
		.ncpus = b->vm.ncpus,
		.vmbus = b->vmbus != NULL,
		.vmbus_mmio_base = BOARD_VMBUS_MMIO_BASE,
		.vmbus_mmio_size = BOARD_VMBUS_MMIO_SIZE,
	};
	uint8_t *buf = guest_mem_ptr(&b->vm.mem, BOOT_ACPI_ADDR, BOOT_ACPI_SIZE);

	if (!buf)
		return error_set(err, EFAULT, "guest memory too small for the ACPI tables");
	return acpi_build(&cfg, buf, BOOT_ACPI_SIZE, BOOT_ACPI_ADDR, rsdp_gpa, err);
}

/* The storvsp controllers, each with its --disk options' disks. */
static int add_storage(struct board *b, const struct run_options *opts, struct error *err)
{
	for (unsigned c = 0; c < OPTIONS_MAX_CONTROLLERS; c++) {
		struct storvsp_disk_config disks[OPTIONS_MAX_DISKS];
		unsigned n = 0;
		int ret;

		for (unsigned i = 0; i < opts->ndisks; i++) {
			const struct disk_spec *d = &opts->disks[i];

			if (d->controller != c)
				continue;
			disks[n++] = (struct storvsp_disk_config){
				.path = d->path, .readonly = d->readonly, .cache = d->cache,
				.lun = (uint8_t)d->lun,
			};
		}
		if (!n)
			continue;
		ret = storvsp_create(&b->storvsp[c], b->vmbus, &b->vm.mem, b->vm.ncpus, c, disks, n,
				     err);
		if (ret < 0)
			return ret;
	}
	return 0;
}

/* The synthetic NICs, each on its tap device; the MAC derives from the VM's name unless given. */
static int add_nics(struct board *b, const struct run_options *opts, struct error *err)
{
	for (unsigned i = 0; i < opts->nnics; i++) {
		const struct net_spec *n = &opts->nics[i];
		struct netvsp_config cfg = {.tap_name = n->tap, .mtu = n->mtu, .index = i};
		int ret;

		if (n->has_mac)
			memcpy(cfg.mac, n->mac, 6);
		else
			net_mac_derive(opts->name ? opts->name : "hvkvm", i, cfg.mac);
		ret = netvsp_create(&b->nics[i], b->vmbus, &b->vm.mem, b->vm.ncpus, &cfg, err);
		if (ret < 0)
			return ret;
		memcpy(b->nic_macs[i], cfg.mac, 6);
		b->nnics = i + 1;
	}
	return 0;
}

int board_create(struct board *b, const struct run_options *opts, const struct kvm *kvm,
		 struct event_loop *loop, struct chardev *console, struct control_server *ctl,
		 struct error *err, bool *bad_input)
{
	struct boot_config boot = {
		.kernel_path = opts->kernel,
		.initrd_path = opts->initrd,
		.cmdline = opts->cmdline,
	};
	struct boot_entry entry;
	int ret;

	memset(b, 0, sizeof(*b));
	*bad_input = false;
	ret = vm_create(&b->vm, kvm, opts->memory, opts->cpus, loop, err);
	if (ret < 0)
		return ret;
	if (opts->hv_features) {
		ret = hv_host_create(&b->hv, &b->vm, loop, opts->hv_features,
				     opts->hv_test_connections, err);
		if (ret < 0)
			goto fail;
		b->hv_ready = true;
		b->vm.hv = &b->hv;
	}
	if (opts->hv_features & HV_FEATURE_BIT(HV_FEAT_SYNIC)) {
		ret = vmbus_host_create(&b->vmbus, b->hv.partition, loop, &b->vm.mem, b->vm.ncpus, err);
		if (ret == 0 && opts->vmbus_test_device)
			ret = vmbus_test_device_create(&b->vmbus_test, b->vmbus, &b->vm.mem, err);
		if (ret < 0)
			goto fail;
		ret = ic_set_create(&b->ics, b->vmbus, &b->vm.mem, &(struct ic_config){0}, err);
		if (ret < 0)
			goto fail;
		ret = add_storage(b, opts, err);
		if (ret == 0)
			ret = add_nics(b, opts, err);
		if (ret < 0) {
			*bad_input = true; /* a disk or tap the user named cannot be used */
			goto fail;
		}
	}
	ret = add_devices(b, opts, console, err);
	if (ret == 0)
		ret = board_control_attach(b, ctl, err);
	if (ret == 0)
		ret = load_acpi(b, &boot.rsdp_gpa, err);
	if (ret < 0)
		goto fail;
	ret = kernel_load(&b->vm.mem, &boot, &entry, err);
	if (ret < 0) {
		*bad_input = true;
		goto fail;
	}
	for (unsigned i = 0; i < b->vm.ncpus && ret == 0; i++)
		ret = vcpu_setup_common(&b->vm.vcpus[i], err);
	if (ret == 0)
		ret = vcpu_setup_boot(&b->vm.vcpus[0], &entry, err);
	if (ret < 0)
		goto fail;
	return 0;
fail:
	board_destroy(b);
	return ret;
}

void board_destroy(struct board *b)
{
	/* The vCPUs are stopped: no handler runs any more. The partition and the VM go first so
	 * that nothing reaches a device while it is torn down. */
	board_control_detach(b);
	vmbus_host_destroy(b->vmbus); /* closes the devices' channels */
	vmbus_test_device_destroy(b->vmbus_test);
	ic_set_destroy(b->ics);
	b->ics = NULL;
	for (unsigned i = 0; i < OPTIONS_MAX_NICS; i++) {
		netvsp_destroy(b->nics[i]);
		b->nics[i] = NULL;
	}
	b->nnics = 0;
	for (unsigned c = 0; c < OPTIONS_MAX_CONTROLLERS; c++) {
		storvsp_destroy(b->storvsp[c]); /* waits for in-flight I/O */
		b->storvsp[c] = NULL;
	}
	b->vmbus = NULL;
	b->vmbus_test = NULL;
	if (b->hv_ready)
		hv_host_destroy(&b->hv);
	b->hv_ready = false;
	b->vm.hv = NULL;
	vm_destroy(&b->vm);
	if (b->kbc_ready)
		i8042_destroy(&b->kbc);
	if (b->pm_ready)
		pm_destroy(&b->pm);
	if (b->rtc_ready)
		rtc_destroy(&b->rtc);
	if (b->com1_ready)
		serial_destroy(&b->com1);
	b->kbc_ready = b->pm_ready = b->rtc_ready = b->com1_ready = false;
}
