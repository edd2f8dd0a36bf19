/* The tap backend against the kernel: needs /dev/net/tun and CAP_NET_ADMIN (exit 77 without).
 * Creates a tap, writes frames through it (plain, and an LSO frame whose virtio header the
 * kernel must accept) and reads them on a packet socket; sends a frame from a packet socket and
 * gets it through the receiver, with backpressure and resume; MTU; the error messages for a
 * name that is not a tap device, a device in use, a queue-mode mismatch; removal at close; and
 * netvsp_create over a real tap (its receiver sees frames before the guest is up). */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "backend/tap.h"
#include "log.h"
#include "synthetic/netvsp.h"
#include "synthetic/netvsp_offload.h"
#include "test_hv_fake.h"
#include "unit.h"

struct rx_state {
	unsigned frames;
	bool refuse;
	uint32_t len;
	uint8_t data[2048];
	struct virtio_net_hdr_v1 vh;
};

static bool on_rx(void *opaque, unsigned queue, const struct virtio_net_hdr_v1 *vh,
		  uint8_t *frame, uint32_t len)
{
	struct rx_state *s = opaque;

	(void)queue;
	if (s->refuse)
		return false;
	/* Only our test frames (the kernel may send IPv6 router solicitations and such). */
	if (len < 14 || frame[12] != 0x88 || frame[13] != 0xb5)
		return true;
	s->frames++;
	s->vh = *vh;
	s->len = len < sizeof(s->data) ? len : sizeof(s->data);
	memcpy(s->data, frame, s->len);
	return true;
}

struct tx_state {
	struct tap_tx tx;
	bool done;
	int res;
};

static void on_tx_done(struct tap_tx *tx, int res)
{
	struct tx_state *s = (struct tx_state *)tx;

	s->done = true;
	s->res = res;
}

static bool tx_finished(void *arg)
{
	return ((struct tx_state *)arg)->done;
}

/* Waits on the loop for want frames, or until a 500 ms io_uring timeout fires. */
struct wait_rx {
	struct event_op timer, remover;
	struct __kernel_timespec ts;
	struct rx_state *s;
	unsigned want;
	bool timer_done, remover_done;
};

static void timer_done(struct event_op *op, int res)
{
	(void)res;
	((struct wait_rx *)op)->timer_done = true;
}

static void remover_done(struct event_op *op, int res)
{
	struct wait_rx *w = (struct wait_rx *)((char *)op - offsetof(struct wait_rx, remover));

	(void)res;
	w->remover_done = true;
}

static bool rx_arrived(void *arg)
{
	struct wait_rx *w = arg;

	return w->s->frames >= w->want || w->timer_done;
}

static bool both_done(void *arg)
{
	struct wait_rx *w = arg;

	return w->timer_done && w->remover_done;
}

static void wait_frames(struct event_loop *loop, struct rx_state *s, unsigned want)
{
	struct wait_rx w = {.timer.complete = timer_done, .remover.complete = remover_done,
			    .ts = {0, 500000000}, .s = s, .want = want};
	struct io_uring_sqe *sqe = event_loop_get_sqe(loop, &w.timer);
	uint64_t ud;

	CHECK(sqe != NULL);
	if (!sqe)
		return;
	io_uring_prep_timeout(sqe, &w.ts, 0, 0);
	ud = sqe->user_data;
	CHECK_EQ(event_loop_run_until(loop, rx_arrived, &w), 0);
	if (!w.timer_done) { /* take the timer back before w goes out of scope */
		sqe = event_loop_get_sqe(loop, &w.remover);
		io_uring_prep_timeout_remove(sqe, ud, 0);
		CHECK_EQ(event_loop_run_until(loop, both_done, &w), 0);
	}
}

static int set_up(const char *name)
{
	struct ifreq ifr;
	int s = socket(AF_INET, SOCK_DGRAM, 0), ret;

	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
	ret = ioctl(s, SIOCGIFFLAGS, &ifr);
	if (ret == 0) {
		ifr.ifr_flags |= IFF_UP;
		ret = ioctl(s, SIOCSIFFLAGS, &ifr);
	}
	close(s);
	return ret;
}

static int get_mtu(const char *name)
{
	struct ifreq ifr;
	int s = socket(AF_INET, SOCK_DGRAM, 0);

	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
	if (ioctl(s, SIOCGIFMTU, &ifr) < 0)
		ifr.ifr_mtu = -1;
	close(s);
	return ifr.ifr_mtu;
}

/* A frame of our test ethertype from the packet socket's view. */
static ssize_t recv_test_frame(int ps, uint8_t *buf, size_t size)
{
	for (int i = 0; i < 50; i++) {
		struct pollfd pfd = {ps, POLLIN, 0};
		ssize_t n;

		if (poll(&pfd, 1, 100) <= 0)
			continue;
		n = recv(ps, buf, size, 0);
		if (n >= 14 && buf[12] == 0x88 && buf[13] == 0xb5)
			return n;
	}
	return -1;
}

int main(void)
{
	struct event_loop loop;
	struct error err;
	struct tap *t;
	struct rx_state rx;
	char name[IFNAMSIZ];
	int ps, ret;
	unsigned idx;

	if (access("/dev/net/tun", R_OK | W_OK) != 0 || geteuid() != 0)
		return 77;
	log_set_level(LOG_ERROR);
	CHECK_EQ(event_loop_init(&loop), 0);
	snprintf(name, sizeof(name), "hvt%u", (unsigned)getpid() % 100000);
	ret = tap_open(&t, &loop, name, 1, &err);
	if (ret == -EPERM || ret == -EACCES || ret == -ENOENT || ret == -ENODEV) {
		fprintf(stderr, "skipped: %s\n", err.msg);
		event_loop_destroy(&loop);
		return 77;
	}
	CHECK_EQ(ret, 0);
	if (ret < 0)
		return unit_done("test_tap");
	CHECK(tap_created(t));
	CHECK(strcmp(tap_name(t), name) == 0);
	CHECK_EQ(tap_queue_count(t), 1);
	idx = if_nametoindex(name);
	CHECK(idx != 0);
	CHECK_EQ(tap_set_mtu(t, 1400, &err), 0);
	CHECK_EQ(get_mtu(name), 1400);
	CHECK_EQ(tap_set_mtu(t, 1500, &err), 0);
	CHECK_EQ(set_up(name), 0);
	memset(&rx, 0, sizeof(rx));
	{
		struct tap_rx_ops ops = {.receive = on_rx, .opaque = &rx};

		tap_start(t, &ops);
	}

	/* Error messages: a device that is not a tap; the same tap in use; the queue mode. */
	{
		struct tap *t2;

		CHECK_EQ(tap_open(&t2, &loop, "lo", 1, &err), -EINVAL);
		CHECK(strstr(err.msg, "not a tap device") != NULL);
		CHECK_EQ(tap_open(&t2, &loop, name, 1, &err), -EBUSY);
		CHECK(strstr(err.msg, "in use") != NULL);
		CHECK_EQ(tap_open(&t2, &loop, name, 2, &err), -EINVAL);
		CHECK(strstr(err.msg, "multi-queue") != NULL);
		CHECK_EQ(tap_open(&t2, &loop, "a-name-much-too-long-for-linux", 1, &err), -EINVAL);
		CHECK_EQ(tap_open(&t2, &loop, name, 0, &err), -EINVAL);
	}

	ps = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
	CHECK(ps >= 0);
	{
		struct sockaddr_ll sll;

		memset(&sll, 0, sizeof(sll));
		sll.sll_family = AF_PACKET;
		sll.sll_protocol = htons(ETH_P_ALL);
		sll.sll_ifindex = (int)idx;
		CHECK_EQ(bind(ps, (struct sockaddr *)&sll, sizeof(sll)), 0);
	}

	/* Guest -> host: a frame written with a virtio header arrives on the interface. */
	{
		struct virtio_net_hdr_v1 vh;
		uint8_t frame[100], got[2048];
		struct iovec iov[3];
		struct tx_state s;

		memset(&vh, 0, sizeof(vh));
		memset(frame, 0xff, 6);
		memcpy(frame + 6, "\x02\x00\x00\x00\x00\x01", 6);
		frame[12] = 0x88;
		frame[13] = 0xb5;
		for (int i = 14; i < 100; i++)
			frame[i] = (uint8_t)i;
		iov[0] = (struct iovec){&vh, sizeof(vh)};
		iov[1] = (struct iovec){frame, 40};
		iov[2] = (struct iovec){frame + 40, 60};
		memset(&s, 0, sizeof(s));
		s.tx.done = on_tx_done;
		s.tx.iov = iov;
		s.tx.iovcnt = 3;
		CHECK_EQ(tap_send(t, 0, &s.tx), 0);
		CHECK_EQ(event_loop_run_until(&loop, tx_finished, &s), 0);
		CHECK_EQ(s.res, 112);
		CHECK_EQ(recv_test_frame(ps, got, sizeof(got)), 100);
		CHECK(memcmp(got, frame, 100) == 0);
	}

	/* An LSO frame as netvsp builds it: the kernel accepts the virtio header. */
	{
		static uint8_t frame[4000];
		struct netvsp_tx_meta m;
		struct netvsp_tx_plan plan;
		struct iovec iov[3];
		struct tx_state s;
		uint32_t len = 14 + 20 + 20 + 3000;

		memset(frame, 0, sizeof(frame));
		memset(frame, 0xff, 6);
		memcpy(frame + 6, "\x02\x00\x00\x00\x00\x01", 6);
		frame[12] = 0x08;
		frame[14] = 0x45;
		frame[22] = 64;
		frame[23] = IPPROTO_TCP;
		memcpy(frame + 26, "\x0a\x00\x00\x01\x0a\x00\x00\x02", 8);
		frame[34] = 0x03;
		frame[36] = 0x00;
		frame[37] = 0x50;
		frame[46] = 0x50;
		frame[47] = 0x10;
		memset(&m, 0, sizeof(m));
		m.has_lso = true;
		m.lso = 1400u | (34u << 20) | (1u << 30);
		CHECK_EQ(netvsp_tx_prepare(&m, frame, 256, len, &plan), 0);
		iov[0] = (struct iovec){&plan.vh, sizeof(plan.vh)};
		iov[1] = (struct iovec){plan.head, plan.head_len};
		iov[2] = (struct iovec){frame + plan.consumed, plan.frame_len - plan.consumed};
		memset(&s, 0, sizeof(s));
		s.tx.done = on_tx_done;
		s.tx.iov = iov;
		s.tx.iovcnt = 3;
		CHECK_EQ(tap_send(t, 0, &s.tx), 0);
		CHECK_EQ(event_loop_run_until(&loop, tx_finished, &s), 0);
		CHECK_EQ(s.res, (int)(len + 12));
	}

	/* Host -> guest: a frame sent on the interface reaches the receiver. */
	{
		uint8_t frame[80];

		memset(frame, 0, sizeof(frame));
		memcpy(frame, "\x02\x00\x00\x00\x00\x02", 6);
		memcpy(frame + 6, "\x02\x00\x00\x00\x00\x03", 6);
		frame[12] = 0x88;
		frame[13] = 0xb5;
		frame[20] = 0x42;
		CHECK_EQ(send(ps, frame, sizeof(frame), 0), (ssize_t)sizeof(frame));
		wait_frames(&loop, &rx, 1);
		CHECK_EQ(rx.frames, 1);
		CHECK_EQ(rx.len, 80);
		CHECK(memcmp(rx.data, frame, 80) == 0);
		CHECK_EQ(rx.vh.gso_type, VIRTIO_NET_HDR_GSO_NONE);

		/* Backpressure: refused frames are held, offered again in order on resume. */
		rx.refuse = true;
		frame[20] = 0x43;
		CHECK_EQ(send(ps, frame, sizeof(frame), 0), (ssize_t)sizeof(frame));
		frame[20] = 0x44;
		CHECK_EQ(send(ps, frame, sizeof(frame), 0), (ssize_t)sizeof(frame));
		wait_frames(&loop, &rx, 100); /* nothing gets through: the timeout ends it */
		CHECK_EQ(rx.frames, 1);
		rx.refuse = false;
		tap_rx_resume(t);
		CHECK_EQ(rx.frames, 3); /* both held frames, at once */
		CHECK_EQ(rx.data[20], 0x44); /* the later one last */
	}

	close(ps);
	tap_close(t);
	CHECK_EQ(if_nametoindex(name), 0); /* created here, so gone with the last fd */

	/* netvsp on a tap of its own: frames arriving before the guest is up are counted. */
	{
		struct fake_host *fh = fake_setup(hv_features_default(), 2, FAKE_TSC_HZ);
		struct vmbus_host *host;
		struct netvsp *n;
		struct netvsp_config cfg = {.tap_name = name, .mac = {0x00, 0x15, 0x5d, 1, 2, 3},
					    .mtu = 1400, .index = 0};
		struct netvsp_stats st;
		uint8_t frame[80];

		CHECK_EQ(vmbus_host_create(&host, fh->p, &loop, &fh->mem, 2, &err), 0);
		CHECK_EQ(netvsp_create(&n, host, &fh->mem, 2, &cfg, &err), 0);
		CHECK_EQ(get_mtu(name), 1400);
		CHECK_EQ(set_up(name), 0);
		idx = if_nametoindex(name);
		ps = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
		{
			struct sockaddr_ll sll;

			memset(&sll, 0, sizeof(sll));
			sll.sll_family = AF_PACKET;
			sll.sll_protocol = htons(ETH_P_ALL);
			sll.sll_ifindex = (int)idx;
			CHECK_EQ(bind(ps, (struct sockaddr *)&sll, sizeof(sll)), 0);
		}
		memset(frame, 0xff, sizeof(frame));
		frame[12] = 0x88;
		frame[13] = 0xb5;
		CHECK_EQ(send(ps, frame, sizeof(frame), 0), (ssize_t)sizeof(frame));
		memset(&rx, 0, sizeof(rx));
		wait_frames(&loop, &rx, 1); /* turns the loop for 500 ms: rx sees nothing here */
		netvsp_get_stats(n, &st);
		CHECK(st.rndis.rx_no_buffer >= 1);
		close(ps);
		vmbus_host_destroy(host);
		netvsp_destroy(n);
		CHECK_EQ(if_nametoindex(name), 0);
		fake_teardown(fh);
	}
	event_loop_destroy(&loop);
	return unit_done("test_tap");
}
