/* Device options of `hvkvm run`: --disk and --net specifications ("PATH,key=value,flag"), parsed
 * and checked before anything starts (the files themselves are checked when they are opened). */
#ifndef HVKVM_DEVICE_OPTIONS_H
#define HVKVM_DEVICE_OPTIONS_H

#include <stdbool.h>
#include <stdint.h>

#include "backend/block.h"
#include "error.h"

#define OPTIONS_MAX_DISKS 64
#define OPTIONS_MAX_NICS 8
#define OPTIONS_MAX_CONTROLLERS 4 /* storvsp controllers (VMBus SCSI adapters) */
#define OPTIONS_MAX_LUN 63

enum disk_bus { DISK_BUS_SCSI };

struct disk_spec {
	const char *path;     /* allocated; lives as long as the process */
	bool readonly;
	enum block_cache cache;
	enum disk_bus bus;
	unsigned controller;
	int lun;              /* -1: the next free one on its controller (assigned by options) */
};

struct net_spec {
	char tap[16];         /* IFNAMSIZ */
	uint8_t mac[6];
	bool has_mac;         /* else derived from the VM's name and the NIC's index */
	unsigned mtu;         /* 0: 1500 */
};

/* One --disk value: PATH[,readonly][,bus=scsi][,controller=N][,lun=N][,cache=none|writeback]. */
__attribute__((warn_unused_result))
int disk_spec_parse(const char *arg, struct disk_spec *d, struct error *err);
/* One --net value: tap=NAME[,mac=XX:XX:XX:XX:XX:XX][,mtu=N]. */
__attribute__((warn_unused_result))
int net_spec_parse(const char *arg, struct net_spec *n, struct error *err);
/* After all --disk options: assigns automatic LUNs and refuses two disks on one LUN. */
__attribute__((warn_unused_result))
int disk_specs_finish(struct disk_spec *disks, unsigned n, struct error *err);
/* A locally administered unicast MAC from a name and an index (stable across runs). */
void net_mac_derive(const char *name, unsigned index, uint8_t mac[6]);

#endif
