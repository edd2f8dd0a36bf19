// SPDX-License-Identifier: (MIT OR GPL-2.0)
/* A guest kernel module for bench/vmbus: binds to hvkvm's VMBus echo test device (class
 * {8f6c1a2e-3d5b-4e7a-9c0d-5b1e2f3a4c6d}), opens its channel and measures, in probe, the round
 * trip of one in-band packet at a time (latency) and the packets per second with a window of
 * packets in flight (throughput). Results go to the kernel log as one "hvkvm_vmbus_ping:" line.
 * Built against the guest kernel's headers (Linux's include/linux/hyperv.h channel API). */
#include <linux/completion.h>
#include <linux/hyperv.h>
#include <linux/ktime.h>
#include <linux/module.h>

static unsigned int rtt_count = 20000;
module_param(rtt_count, uint, 0444);
static unsigned int pps_count = 200000;
module_param(pps_count, uint, 0444);
static unsigned int window = 64;
module_param(window, uint, 0444);

#define RING_BYTES (64 * 1024)
#define PAYLOAD 64

struct ping {
	struct vmbus_channel *channel;
	struct completion done;
	unsigned int target;   /* packets to receive before done */
	unsigned int received;
	unsigned int sent;
	unsigned int to_send;  /* packets to send in all (pipelined mode) */
	bool pipelined;
	u8 payload[PAYLOAD];
	u8 buf[PAYLOAD * 2];
};

static void ping_send(struct ping *p)
{
	if (vmbus_sendpacket(p->channel, p->payload, PAYLOAD, ++p->sent, VM_PKT_DATA_INBAND, 0))
		p->sent--;
}

static void ping_callback(void *context)
{
	struct ping *p = context;
	u32 len;
	u64 id;

	for (;;) {
		if (vmbus_recvpacket(p->channel, p->buf, sizeof(p->buf), &len, &id) || !len)
			break;
		p->received++;
		if (p->pipelined && p->sent < p->to_send)
			ping_send(p);
		if (p->received == p->target)
			complete(&p->done);
	}
}

/* Sends count packets with at most inflight outstanding; ns for all of them to come back. */
static s64 ping_run(struct ping *p, unsigned int count, unsigned int inflight)
{
	ktime_t t0 = ktime_get();
	unsigned int i;

	reinit_completion(&p->done);
	p->received = 0;
	p->sent = 0;
	p->target = count;
	p->to_send = count;
	p->pipelined = inflight > 1;
	if (p->pipelined) {
		for (i = 0; i < inflight && i < count; i++)
			ping_send(p);
		if (!wait_for_completion_timeout(&p->done, 120 * HZ))
			return -ETIMEDOUT;
	} else {
		for (i = 0; i < count; i++) {
			p->target = i + 1;
			reinit_completion(&p->done);
			ping_send(p);
			if (!wait_for_completion_timeout(&p->done, 10 * HZ))
				return -ETIMEDOUT;
		}
	}
	return ktime_to_ns(ktime_sub(ktime_get(), t0));
}

static int ping_probe(struct hv_device *dev, const struct hv_vmbus_device_id *id)
{
	struct ping *p = kzalloc(sizeof(*p), GFP_KERNEL);
	s64 rtt, pps;
	int ret;

	if (!p)
		return -ENOMEM;
	init_completion(&p->done);
	p->channel = dev->channel;
	hv_set_drvdata(dev, p);
	ret = vmbus_open(dev->channel, RING_BYTES, RING_BYTES, NULL, 0, ping_callback, p);
	if (ret) {
		kfree(p);
		return ret;
	}
	rtt = ping_run(p, rtt_count, 1);
	pps = ping_run(p, pps_count, window);
	if (rtt < 0 || pps < 0)
		pr_info("hvkvm_vmbus_ping: timed out (rtt %lld, pps %lld)\n", rtt, pps);
	else
		pr_info("hvkvm_vmbus_ping: rtt_ns=%lld pps=%lld count=%u window=%u count=%u\n",
			rtt / rtt_count, (s64)pps_count * NSEC_PER_SEC / pps, rtt_count, window,
			pps_count);
	return 0;
}

static int ping_remove(struct hv_device *dev)
{
	struct ping *p = hv_get_drvdata(dev);

	vmbus_close(dev->channel);
	kfree(p);
	return 0;
}

static const struct hv_vmbus_device_id ping_ids[] = {
	{ .guid = GUID_INIT(0x8f6c1a2e, 0x3d5b, 0x4e7a, 0x9c, 0x0d, 0x5b, 0x1e, 0x2f, 0x3a, 0x4c,
			    0x6d) },
	{},
};
MODULE_DEVICE_TABLE(vmbus, ping_ids);

static struct hv_driver ping_driver = {
	.name = "hvkvm_vmbus_ping",
	.id_table = ping_ids,
	.probe = ping_probe,
	.remove = ping_remove,
};

static int __init ping_init(void)
{
	return vmbus_driver_register(&ping_driver);
}

static void __exit ping_exit(void)
{
	vmbus_driver_unregister(&ping_driver);
}

module_init(ping_init);
module_exit(ping_exit);
MODULE_LICENSE("Dual MIT/GPL");
MODULE_DESCRIPTION("hvkvm VMBus ping-pong benchmark (guest side)");
