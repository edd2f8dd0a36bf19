/* Unit tests for the KVP, VSS and file copy integration services against a simulated Linux 6.1
 * guest with its daemons (test_ic_guest.h plus hv_kvp_daemon's pools and intrinsic keys,
 * hv_vss_daemon's answers, hv_fcopy_daemon's files): every operation on the wire and back,
 * enumeration to the end of a pool, IP info by MAC, the guest's refusals (missing keys, an
 * existing file, a full disk), malformed answers, bad arguments, a 20 KB copy in fragments. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "test_ic_guest.h"
#include "unit.h"

struct walk {
	unsigned items;
	char keys[16][64];
	char values[16][64];
};

struct done_rec {
	unsigned calls;
	int err;
	char detail[256];
	uint32_t flags;
	char key[IC_KVP_KEY_MAX + 1];
	char value[IC_KVP_VALUE_MAX + 1];
	struct ic_kvp_ip_info ip;
	struct walk walk;
};

static void rec_done(void *ctx, int err, const char *detail)
{
	struct done_rec *r = ctx;

	r->calls++;
	r->err = err;
	snprintf(r->detail, sizeof(r->detail), "%s", detail);
}

static void rec_value(void *ctx, int err, const char *detail, const char *key, const char *value)
{
	struct done_rec *r = ctx;

	rec_done(ctx, err, detail);
	CHECK_EQ(!key, err != 0);
	CHECK_EQ(!value, err != 0);
	snprintf(r->key, sizeof(r->key), "%s", key ? key : "");
	snprintf(r->value, sizeof(r->value), "%s", value ? value : "");
}

static void rec_ip(void *ctx, int err, const char *detail, const struct ic_kvp_ip_info *info)
{
	struct done_rec *r = ctx;

	rec_done(ctx, err, detail);
	CHECK_EQ(!info, err != 0);
	if (info)
		r->ip = *info;
}

static void rec_vss(void *ctx, int err, const char *detail, uint32_t flags)
{
	struct done_rec *r = ctx;

	rec_done(ctx, err, detail);
	r->flags = flags;
}

static bool rec_called(void *arg)
{
	return ((struct done_rec *)arg)->calls > 0;
}

/* ---- hv_kvp_daemon, as far as the wire shows ---- */

#define POOL_MAX 8

struct kvp_entry {
	uint8_t key[HV_KVP_EXCHANGE_MAX_KEY_SIZE]; /* UTF-16 as the host sent it */
	uint32_t key_size;
	uint8_t value[HV_KVP_EXCHANGE_MAX_VALUE_SIZE];
	uint32_t value_size;
};

struct gkvp {
	struct kvp_entry pools[KVP_POOL_COUNT][POOL_MAX];
	unsigned n[KVP_POOL_COUNT];
	unsigned served;
};

/* The daemon's KVP_POOL_AUTO keys, in its key_index order. */
static const char *const intrinsic[][2] = {
	{"FullyQualifiedDomainName", "guest.example.org"},
	{"IntegrationServicesVersion", "3.1"},
	{"NetworkAddressIPv4", "192.168.0.10"},
	{"NetworkAddressIPv6", "fe80::215:5dff:fe12:3456"},
	{"OSBuildNumber", "6.1.0-28-amd64"},
	{"OSName", "Debian GNU/Linux"},
	{"OSMajorVersion", "6"},
	{"OSMinorVersion", "1"},
	{"OSVersion", "6.1.0-28-amd64"},
	{"ProcessorArchitecture", "x86_64"},
};
#define INTRINSIC_COUNT (sizeof(intrinsic) / sizeof(intrinsic[0]))

/* ASCII into UTF-16LE (the guest side; independent of the code under test). */
static uint32_t ascii16(const char *s, uint8_t *out)
{
	uint32_t n = 0;

	do {
		out[2 * n] = (uint8_t)s[n];
		out[2 * n + 1] = 0;
	} while (s[n++]);
	return n * 2;
}

static bool same_key(const struct kvp_entry *e, const uint8_t *key, uint32_t size)
{
	return e->key_size == size && !memcmp(e->key, key, size);
}

static int find(struct gkvp *d, unsigned pool, const uint8_t *key, uint32_t size)
{
	for (unsigned i = 0; i < d->n[pool]; i++)
		if (same_key(&d->pools[pool][i], key, size))
			return (int)i;
	return -1;
}

static void put_value(struct hv_kvp_exchg_msg_value *v, const uint8_t *key, uint32_t key_size,
		      const uint8_t *value, uint32_t value_size)
{
	v->value_type = REG_SZ; /* kvp_respond_to_host: all values are strings */
	if (key) {
		memcpy(v->key, key, key_size);
		v->key_size = key_size;
	}
	memcpy(v->value, value, value_size);
	v->value_size = value_size;
}

/* One KVP request as hv_kvp.c + hv_kvp_daemon answer it; returns the status. */
static uint32_t kvp_serve(struct gkvp *d, struct gpkt *p)
{
	uint8_t *body = g_body(p);
	uint8_t op = body[0], pool = body[1];
	struct hv_kvp_msg m;
	uint32_t status = HV_S_OK;
	int i;

	CHECK_EQ(g_hdr(p).icmsgtype, ICMSGTYPE_KVPEXCHANGE);
	d->served++;
	if (op == KVP_OP_GET_IP_INFO) {
		struct hv_kvp_ip_msg ip;
		uint8_t want[2 * MAX_ADAPTER_ID_SIZE];

		CHECK_EQ(g_hdr(p).icmsgsize, sizeof(ip));
		memcpy(&ip, body, sizeof(ip));
		memset(want, 0, sizeof(want));
		ascii16("00:15:5D:12:34:56", want);
		if (memcmp(ip.kvp_ip_val.adapter_id, want, sizeof(want)))
			return HV_E_FAIL; /* kvp_mac_to_ip: no such NIC */
		ip.kvp_ip_val.addr_family = ADDR_FAMILY_IPV4;
		ip.kvp_ip_val.dhcp_enabled = 1;
		ascii16("192.168.0.10;fe80::215:5dff:fe12:3456", (uint8_t *)ip.kvp_ip_val.ip_addr);
		ascii16("255.255.255.0;64", (uint8_t *)ip.kvp_ip_val.sub_net);
		ascii16("192.168.0.1", (uint8_t *)ip.kvp_ip_val.gate_way);
		ascii16("192.168.0.1;9.9.9.9", (uint8_t *)ip.kvp_ip_val.dns_addr);
		memcpy(body, &ip, sizeof(ip));
		return HV_S_OK;
	}
	CHECK_EQ(g_hdr(p).icmsgsize, sizeof(m));
	memcpy(&m, body, sizeof(m));
	CHECK(pool < KVP_POOL_COUNT);
	if (pool >= KVP_POOL_COUNT)
		return HV_E_FAIL;
	switch (op) {
	case KVP_OP_SET:
		CHECK_EQ(m.body.kvp_set.data.value_type, REG_SZ);
		i = find(d, pool, m.body.kvp_set.data.key, m.body.kvp_set.data.key_size);
		if (i < 0 && d->n[pool] == POOL_MAX)
			return HV_S_CONT;
		if (i < 0)
			i = (int)d->n[pool]++;
		memcpy(d->pools[pool][i].key, m.body.kvp_set.data.key, sizeof(m.body.kvp_set.data.key));
		d->pools[pool][i].key_size = m.body.kvp_set.data.key_size;
		memcpy(d->pools[pool][i].value, m.body.kvp_set.data.value,
		       sizeof(m.body.kvp_set.data.value));
		d->pools[pool][i].value_size = m.body.kvp_set.data.value_size;
		break;
	case KVP_OP_GET:
		i = find(d, pool, m.body.kvp_get.data.key, m.body.kvp_get.data.key_size);
		if (i < 0)
			return HV_S_CONT;
		put_value(&m.body.kvp_get.data, NULL, 0, d->pools[pool][i].value,
			  d->pools[pool][i].value_size);
		break;
	case KVP_OP_DELETE:
		i = find(d, pool, m.body.kvp_delete.key, m.body.kvp_delete.key_size);
		if (i < 0)
			return HV_S_CONT;
		d->pools[pool][i] = d->pools[pool][--d->n[pool]];
		break;
	case KVP_OP_ENUMERATE: {
		uint32_t idx = m.body.kvp_enum_data.index;

		if (pool == KVP_POOL_AUTO) {
			uint8_t k[HV_KVP_EXCHANGE_MAX_KEY_SIZE], v[HV_KVP_EXCHANGE_MAX_VALUE_SIZE];
			uint32_t ks, vs;

			if (idx >= INTRINSIC_COUNT)
				return HV_S_CONT;
			ks = ascii16(intrinsic[idx][0], k);
			vs = ascii16(intrinsic[idx][1], v);
			put_value(&m.body.kvp_enum_data.data, k, ks, v, vs);
		} else {
			const struct kvp_entry *e = &d->pools[pool][idx];

			if (idx >= d->n[pool])
				return HV_S_CONT;
			put_value(&m.body.kvp_enum_data.data, e->key, e->key_size, e->value,
				  e->value_size);
		}
		break;
	}
	default:
		CHECK(!"unexpected KVP operation");
		status = HV_E_FAIL;
	}
	memcpy(body, &m, sizeof(m));
	return status;
}

/* Serves KVP requests until done is set (or a second passes without one). */
static void kvp_until(struct gharness *h, struct gkvp *d, struct done_rec *r)
{
	struct gpkt *p = malloc(sizeof(*p));

	while (!r->calls) {
		if (!g_recv(&h->ch[G_KVP], p, 1000))
			break;
		g_answer(&h->ch[G_KVP], p, kvp_serve(d, p));
		g_run(h, rec_called, r, 5);
	}
	CHECK(r->calls == 1);
	free(p);
}

static void walk_item(void *ctx, uint32_t index, const char *key, const char *value)
{
	struct done_rec *r = ctx;
	struct walk *w = &r->walk;

	CHECK_EQ(index, w->items);
	if (w->items < 16) {
		snprintf(w->keys[w->items], 64, "%s", key);
		snprintf(w->values[w->items], 64, "%s", value);
	}
	w->items++;
}

static void test_kvp(void)
{
	struct gharness *h = g_setup(NULL, false);
	struct ic_kvp *kvp = ic_set_kvp(h->set);
	struct gkvp *d = calloc(1, sizeof(*d));
	struct gpkt *p = malloc(sizeof(*p));
	struct done_rec r;
	struct walk *w = &r.walk;
	struct ic_link_status st;
	const uint8_t mac[6] = {0x00, 0x15, 0x5d, 0x12, 0x34, 0x56};
	char longkey[300];

	CHECK_EQ(ic_kvp_get(kvp, 0, "k", rec_value, &r), -ENOTCONN);
	CHECK(g_open_negotiate(h, G_KVP, &g_linux[G_KVP]));
	ic_kvp_status(kvp, &st);
	CHECK_EQ(st.msg_major, 4);

	/* SET into pool 0 (what the guest reads as host data), as it goes on the wire. */
	memset(&r, 0, sizeof(r));
	CHECK_EQ(ic_kvp_set(kvp, KVP_POOL_EXTERNAL, "VirtualMachineName", "vm1", rec_done, &r), 0);
	CHECK(g_recv(&h->ch[G_KVP], p, 1000));
	{
		struct hv_kvp_msg m;
		uint8_t k[64];

		memcpy(&m, g_body(p), sizeof(m));
		CHECK_EQ(m.kvp_hdr.operation, KVP_OP_SET);
		CHECK_EQ(m.kvp_hdr.pool, KVP_POOL_EXTERNAL);
		CHECK_EQ(m.body.kvp_set.data.value_type, REG_SZ);
		CHECK_EQ(m.body.kvp_set.data.key_size, ascii16("VirtualMachineName", k));
		CHECK(!memcmp(m.body.kvp_set.data.key, k, m.body.kvp_set.data.key_size));
		CHECK_EQ(m.body.kvp_set.data.value_size, 8);
		CHECK(!memcmp(m.body.kvp_set.data.value, "v\0m\0" "1\0\0\0", 8));
		CHECK_EQ(g_hdr(p).icvermsg.major, 4);
	}
	g_answer(&h->ch[G_KVP], p, kvp_serve(d, p));
	CHECK(g_run(h, rec_called, &r, 1000));
	CHECK_EQ(r.err, 0);
	CHECK_EQ(d->n[0], 1);

	/* GET it back; a second key in UTF-8 beyond ASCII round-trips. */
	memset(&r, 0, sizeof(r));
	CHECK_EQ(ic_kvp_get(kvp, 0, "VirtualMachineName", rec_value, &r), 0);
	kvp_until(h, d, &r);
	CHECK_EQ(r.err, 0);
	CHECK(!strcmp(r.value, "vm1"));
	memset(&r, 0, sizeof(r));
	CHECK_EQ(ic_kvp_set(kvp, 0, "Gr\xc3\xb6\xc3\x9f" "e", "\xe6\x97\xa5\xf0\x9f\x98\x80", rec_done,
			    &r), 0);
	kvp_until(h, d, &r);
	CHECK_EQ(r.err, 0);
	memset(&r, 0, sizeof(r));
	CHECK_EQ(ic_kvp_get(kvp, 0, "Gr\xc3\xb6\xc3\x9f" "e", rec_value, &r), 0);
	kvp_until(h, d, &r);
	CHECK(!strcmp(r.value, "\xe6\x97\xa5\xf0\x9f\x98\x80"));
	/* A missing key: HV_S_CONT. */
	memset(&r, 0, sizeof(r));
	CHECK_EQ(ic_kvp_get(kvp, 0, "nope", rec_value, &r), 0);
	kvp_until(h, d, &r);
	CHECK_EQ(r.err, -ENOENT);
	CHECK(strstr(r.detail, "HV_S_CONT") != NULL);

	/* Pool 0 walked to its end: two entries. */
	memset(&r, 0, sizeof(r));
	CHECK_EQ(ic_kvp_enumerate_pool(kvp, 0, walk_item, rec_done, &r), 0);
	kvp_until(h, d, &r);
	CHECK_EQ(r.err, 0);
	CHECK_EQ(w->items, 2);
	CHECK(!strcmp(w->keys[0], "VirtualMachineName") && !strcmp(w->values[0], "vm1"));
	CHECK(!strcmp(w->keys[1], "Gr\xc3\xb6\xc3\x9f" "e"));

	/* DELETE, then the key is gone. */
	memset(&r, 0, sizeof(r));
	CHECK_EQ(ic_kvp_delete(kvp, 0, "VirtualMachineName", rec_done, &r), 0);
	CHECK(g_recv(&h->ch[G_KVP], p, 1000));
	CHECK_EQ(g_body(p)[0], KVP_OP_DELETE);
	g_answer(&h->ch[G_KVP], p, kvp_serve(d, p));
	CHECK(g_run(h, rec_called, &r, 1000));
	CHECK_EQ(r.err, 0);
	memset(&r, 0, sizeof(r));
	CHECK_EQ(ic_kvp_delete(kvp, 0, "VirtualMachineName", rec_done, &r), 0);
	kvp_until(h, d, &r);
	CHECK_EQ(r.err, -ENOENT);

	/* The guest's intrinsic data (pool 2, KVP_POOL_AUTO) to the end. */
	memset(&r, 0, sizeof(r));
	d->served = 0;
	CHECK_EQ(ic_kvp_enumerate_pool(kvp, KVP_POOL_AUTO, walk_item, rec_done, &r), 0);
	kvp_until(h, d, &r);
	CHECK_EQ(r.err, 0);
	CHECK_EQ(w->items, INTRINSIC_COUNT);
	CHECK_EQ(d->served, INTRINSIC_COUNT + 1); /* the last one answered HV_S_CONT */
	CHECK(strstr(r.detail, "10 entries") != NULL);
	for (unsigned i = 0; i < INTRINSIC_COUNT; i++) {
		CHECK(!strcmp(w->keys[i], intrinsic[i][0]));
		CHECK(!strcmp(w->values[i], intrinsic[i][1]));
	}
	/* One index, and one past the end. */
	memset(&r, 0, sizeof(r));
	CHECK_EQ(ic_kvp_enumerate(kvp, KVP_POOL_AUTO, 5, rec_value, &r), 0);
	kvp_until(h, d, &r);
	CHECK_EQ(r.err, 0);
	CHECK(!strcmp(r.key, "OSName") && !strcmp(r.value, "Debian GNU/Linux"));
	memset(&r, 0, sizeof(r));
	CHECK_EQ(ic_kvp_enumerate(kvp, KVP_POOL_AUTO, 10, rec_value, &r), 0);
	kvp_until(h, d, &r);
	CHECK_EQ(r.err, -ENOENT);

	/* IP information for the NIC with this MAC; another MAC is unknown to the guest. */
	memset(&r, 0, sizeof(r));
	CHECK_EQ(ic_kvp_get_ip_info(kvp, mac, rec_ip, &r), 0);
	kvp_until(h, d, &r);
	CHECK_EQ(r.err, 0);
	CHECK(!strcmp(r.ip.adapter_id, "00:15:5D:12:34:56"));
	CHECK(!strcmp(r.ip.ip_addr, "192.168.0.10;fe80::215:5dff:fe12:3456"));
	CHECK(!strcmp(r.ip.sub_net, "255.255.255.0;64"));
	CHECK(!strcmp(r.ip.gate_way, "192.168.0.1"));
	CHECK(!strcmp(r.ip.dns_addr, "192.168.0.1;9.9.9.9"));
	CHECK_EQ(r.ip.addr_family, ADDR_FAMILY_IPV4);
	CHECK(r.ip.dhcp_enabled);
	{
		const uint8_t other[6] = {0x00, 0x15, 0x5d, 0xff, 0xff, 0xff};

		memset(&r, 0, sizeof(r));
		CHECK_EQ(ic_kvp_get_ip_info(kvp, other, rec_ip, &r), 0);
		kvp_until(h, d, &r);
		CHECK_EQ(r.err, -EIO);
		CHECK(strstr(r.detail, "HV_E_FAIL") != NULL);
	}

	/* Bad arguments fail at once. */
	memset(longkey, 'k', sizeof(longkey) - 1);
	longkey[sizeof(longkey) - 1] = 0;
	CHECK_EQ(ic_kvp_get(kvp, KVP_POOL_COUNT, "k", rec_value, &r), -EINVAL);
	CHECK_EQ(ic_kvp_get(kvp, 0, "", rec_value, &r), -EINVAL);
	CHECK_EQ(ic_kvp_get(kvp, 0, NULL, rec_value, &r), -EINVAL);
	CHECK_EQ(ic_kvp_get(kvp, 0, "k", NULL, NULL), -EINVAL);
	CHECK_EQ(ic_kvp_get(kvp, 0, longkey, rec_value, &r), -ENAMETOOLONG);
	longkey[255] = 0; /* 255 units and the NUL: the most a key holds */
	memset(&r, 0, sizeof(r));
	CHECK_EQ(ic_kvp_get(kvp, 0, longkey, rec_value, &r), 0);
	kvp_until(h, d, &r);
	CHECK_EQ(r.err, -ENOENT);
	CHECK_EQ(ic_kvp_set(kvp, 0, "k", NULL, rec_done, &r), -EINVAL);
	CHECK_EQ(ic_kvp_set(kvp, 0, "\xc3", "v", rec_done, &r), -EINVAL);
	CHECK_EQ(ic_kvp_set(kvp, 0, "k", "\xff", rec_done, &r), -EINVAL);
	CHECK_EQ(ic_kvp_delete(kvp, 7, "k", rec_done, &r), -EINVAL);
	CHECK_EQ(ic_kvp_enumerate_pool(kvp, 0, NULL, rec_done, &r), -EINVAL);
	CHECK_EQ(ic_kvp_get_ip_info(kvp, NULL, rec_ip, &r), -EINVAL);
	{
		char *big = malloc(1100);

		memset(big, 'v', 1099);
		big[1099] = 0;
		CHECK_EQ(ic_kvp_set(kvp, 0, "k", big, rec_done, &r), -ENAMETOOLONG);
		free(big);
	}
	free(p);
	free(d);
	g_teardown(h);
}

/* Answers the next KVP request with a value field the guest filled in wrongly. */
static void kvp_bad_value(struct gharness *h, uint32_t type, uint32_t key_size,
			  uint32_t value_size, uint64_t value, uint32_t msgsize,
			  struct done_rec *r, bool enumerate)
{
	struct gpkt *p = malloc(sizeof(*p));
	struct hv_kvp_msg m;
	struct hv_kvp_exchg_msg_value *v;

	memset(r, 0, sizeof(*r));
	if (enumerate)
		CHECK_EQ(ic_kvp_enumerate(ic_set_kvp(h->set), 1, 0, rec_value, r), 0);
	else
		CHECK_EQ(ic_kvp_get(ic_set_kvp(h->set), 1, "k", rec_value, r), 0);
	CHECK(g_recv(&h->ch[G_KVP], p, 1000));
	memcpy(&m, g_body(p), sizeof(m));
	v = enumerate ? &m.body.kvp_enum_data.data : &m.body.kvp_get.data;
	v->value_type = type;
	if (enumerate) {
		v->key_size = key_size;
		memcpy(v->key, "k\0\0\0", 4);
	}
	v->value_size = value_size;
	memcpy(v->value, &value, 8); /* little-endian: numbers, or up to 4 UTF-16 units */
	memcpy(g_body(p), &m, sizeof(m));
	if (msgsize)
		memcpy(p->data + 4, &msgsize, 4);
	g_answer(&h->ch[G_KVP], p, HV_S_OK);
	CHECK(g_run(h, rec_called, r, 1000));
	free(p);
}

static void test_kvp_answers(void)
{
	struct gharness *h = g_setup(NULL, false);
	struct done_rec *r = calloc(1, sizeof(*r));
	const uint64_t big = 1234567890123ull, small = 42;
	/* UTF-16LE text as a little-endian number: "a" with its NUL, "ab" without, U+DC00. */
	const uint64_t a = 0x61, a_b = 0x00620061, lone_low = 0xdc00;
	struct gkvp *d = calloc(1, sizeof(*d));

	CHECK(g_open_negotiate(h, G_KVP, &g_linux[G_KVP]));
	/* Numbers come back as text. */
	kvp_bad_value(h, REG_U32, 0, 4, small, 0, r, false);
	CHECK_EQ(r->err, 0);
	CHECK(!strcmp(r->value, "42"));
	kvp_bad_value(h, REG_U64, 0, 8, big, 0, r, false);
	CHECK(!strcmp(r->value, "1234567890123"));
	kvp_bad_value(h, REG_QWORD, 4, 8, big, 0, r, true);
	CHECK_EQ(r->err, 0);
	CHECK(!strcmp(r->key, "k") && !strcmp(r->value, "1234567890123"));
	/* Wrong sizes, types, text, truncation: protocol errors. */
	kvp_bad_value(h, REG_U32, 0, 8, small, 0, r, false);
	CHECK_EQ(r->err, -EPROTO);
	CHECK(strstr(r->detail, "malformed") != NULL);
	kvp_bad_value(h, REG_U64, 0, 4, big, 0, r, false);
	CHECK_EQ(r->err, -EPROTO);
	kvp_bad_value(h, 77, 0, 4, small, 0, r, false);
	CHECK_EQ(r->err, -EPROTO);
	kvp_bad_value(h, REG_SZ, 0, 3, a, 0, r, false); /* odd */
	CHECK_EQ(r->err, -EPROTO);
	kvp_bad_value(h, REG_SZ, 0, 4096, a, 0, r, false); /* beyond the field */
	CHECK_EQ(r->err, -EPROTO);
	kvp_bad_value(h, REG_SZ, 0, 4, lone_low, 0, r, false); /* lone surrogate */
	CHECK_EQ(r->err, -EPROTO);
	kvp_bad_value(h, REG_SZ, 600, 4, a, 0, r, true); /* key beyond the field */
	CHECK_EQ(r->err, -EPROTO);
	kvp_bad_value(h, REG_SZ, 5, 4, a, 0, r, true);
	CHECK_EQ(r->err, -EPROTO);
	kvp_bad_value(h, REG_SZ, 4, 4, a, 20 + 100, r, false); /* body cut short */
	CHECK_EQ(r->err, -EPROTO);
	CHECK(strstr(r->detail, "truncated") != NULL);
	/* Text ends at its NUL, or at value_size without one. */
	kvp_bad_value(h, REG_SZ, 4, 4, a, 0, r, false);
	CHECK_EQ(r->err, 0);
	CHECK(!strcmp(r->value, "a"));
	kvp_bad_value(h, REG_SZ, 4, 4, a_b, 0, r, false);
	CHECK_EQ(r->err, 0);
	CHECK(!strcmp(r->value, "ab"));

	/* A pool walk ends with the error that stopped it, after the entries before. */
	{
		struct gpkt *p = malloc(sizeof(*p));
		struct walk *w = &r->walk;

		memset(r, 0, sizeof(*r));
		CHECK_EQ(ic_kvp_enumerate_pool(ic_set_kvp(h->set), KVP_POOL_AUTO, walk_item,
					       rec_done, r), 0);
		CHECK(g_recv(&h->ch[G_KVP], p, 1000));
		g_answer(&h->ch[G_KVP], p, kvp_serve(d, p));
		CHECK(g_recv(&h->ch[G_KVP], p, 1000));
		g_answer(&h->ch[G_KVP], p, HV_E_FAIL); /* the daemon timed out */
		CHECK(g_run(h, rec_called, r, 1000));
		CHECK_EQ(r->err, -EIO);
		CHECK_EQ(w->items, 1);
		free(p);
	}
	/* The channel closing ends a walk. */
	{
		struct gpkt *p = malloc(sizeof(*p));

		memset(r, 0, sizeof(*r));
		CHECK_EQ(ic_kvp_enumerate_pool(ic_set_kvp(h->set), KVP_POOL_AUTO, walk_item,
					       rec_done, r), 0);
		CHECK(g_recv(&h->ch[G_KVP], p, 1000));
		g_answer(&h->ch[G_KVP], p, kvp_serve(d, p));
		g_settle(h, 5);
		g_close(h, G_KVP);
		CHECK_EQ(r->calls, 1);
		CHECK_EQ(r->err, -ENOTCONN);
		free(p);
	}
	free(d);
	free(r);
	g_teardown(h);
}

/* ---- VSS ---- */

static void test_vss(void)
{
	static const struct {
		int (*fn)(struct ic_vss *, ic_vss_done_fn *, void *);
		uint8_t op;
	} ops[] = {{ic_vss_freeze, VSS_OP_FREEZE}, {ic_vss_thaw, VSS_OP_THAW},
		   {ic_vss_hot_backup, VSS_OP_HOT_BACKUP}};
	struct gharness *h = g_setup(NULL, false);
	struct ic_vss *vss = ic_set_vss(h->set);
	struct gpkt *p = malloc(sizeof(*p));
	struct done_rec r = {0};

	CHECK_EQ(ic_vss_freeze(vss, rec_vss, &r), -ENOTCONN);
	CHECK(g_open_negotiate(h, G_VSS, &g_linux[G_VSS]));
	CHECK_EQ(ic_vss_thaw(vss, NULL, NULL), -EINVAL);
	for (unsigned i = 0; i < 3; i++) {
		for (int fail = 0; fail < 2; fail++) {
			struct hv_vss_msg m;
			struct icmsg_hdr hd;

			memset(&r, 0, sizeof(r));
			CHECK_EQ(ops[i].fn(vss, rec_vss, &r), 0);
			CHECK(g_recv(&h->ch[G_VSS], p, 1000));
			hd = g_hdr(p);
			CHECK_EQ(hd.icmsgtype, ICMSGTYPE_VSS);
			CHECK_EQ(hd.icvermsg.major, 5);
			CHECK_EQ(hd.icverframe.major, 3);
			/* hv_snapshot.c wants at least ICMSG_HDR + sizeof(struct hv_vss_msg). */
			CHECK_EQ(hd.icmsgsize, sizeof(m));
			memcpy(&m, g_body(p), sizeof(m));
			CHECK_EQ(m.vss_hdr.operation, ops[i].op);
			if (ops[i].op == VSS_OP_HOT_BACKUP)
				m.flags = VSS_HBU_NO_AUTO_RECOVERY; /* vss_on_msg */
			memcpy(g_body(p), &m, sizeof(m));
			/* The daemon's error, or HV_E_FAIL when it is not registered. */
			g_answer(&h->ch[G_VSS], p, fail ? HV_E_FAIL : HV_S_OK);
			CHECK(g_run(h, rec_called, &r, 1000));
			CHECK_EQ(r.err, fail ? -EIO : 0);
			CHECK_EQ(r.flags, !fail && ops[i].op == VSS_OP_HOT_BACKUP
						  ? VSS_HBU_NO_AUTO_RECOVERY : 0);
			if (fail)
				CHECK(strstr(r.detail, "HV_E_FAIL") != NULL);
		}
	}
	free(p);
	g_teardown(h);
}

/* ---- File copy: hv_fcopy_daemon ---- */

struct gfcopy {
	char existing[4][128]; /* files already in the guest */
	char target[600];
	bool started;
	uint32_t flags;
	uint64_t file_size;
	uint8_t data[65536];
	uint64_t written;
	unsigned starts, writes, completes, cancels;
	unsigned fail_write; /* answer HV_ERROR_DISK_FULL to this write (1-based), 0: never */
	bool silent_write;   /* do not answer writes */
};

/* UTF-16 (ASCII only) at s into out. */
static void narrow(const uint8_t *s, unsigned units, char *out)
{
	unsigned i;

	for (i = 0; i < units && (s[2 * i] || s[2 * i + 1]); i++)
		out[i] = (char)s[2 * i];
	out[i] = 0;
}

/* One fcopy request as hv_fcopy.c + hv_fcopy_daemon answer it; false: leave it unanswered. */
static bool fcopy_serve(struct gharness *h, struct gfcopy *d, struct gpkt *p)
{
	struct hv_fcopy_hdr hdr;
	uint32_t status = HV_S_OK;
	uint8_t *body = g_body(p);

	CHECK_EQ(g_hdr(p).icmsgtype, ICMSGTYPE_FCOPY);
	CHECK_EQ(g_hdr(p).icvermsg.major, 1);
	CHECK_EQ(g_hdr(p).icvermsg.minor, 1);
	memcpy(&hdr, body, sizeof(hdr));
	switch (hdr.operation) {
	case START_FILE_COPY: {
		struct hv_start_fcopy m;
		char name[W_MAX_PATH], path[W_MAX_PATH];

		CHECK_EQ(g_hdr(p).icmsgsize, sizeof(m));
		memcpy(&m, body, sizeof(m));
		narrow((uint8_t *)m.file_name, W_MAX_PATH, name);
		narrow((uint8_t *)m.path_name, W_MAX_PATH, path);
		snprintf(d->target, sizeof(d->target), "%s/%s", path, name);
		d->starts++;
		d->flags = m.copy_flags;
		d->file_size = m.file_size;
		for (int i = 0; i < 4; i++)
			if (!strcmp(d->existing[i], d->target) && !(m.copy_flags & OVER_WRITE))
				status = HV_ERROR_ALREADY_EXISTS;
		d->started = status == HV_S_OK;
		d->written = 0;
		break;
	}
	case WRITE_TO_FILE: {
		struct hv_do_fcopy m;

		/* hv_fcopy.c hands sizeof(struct hv_do_fcopy) to the daemon: all of it is sent. */
		CHECK_EQ(g_hdr(p).icmsgsize, sizeof(m));
		memcpy(&m, body, sizeof(m));
		CHECK(d->started);
		CHECK(m.size <= DATA_FRAGMENT);
		d->writes++;
		if (d->silent_write)
			return false;
		if (m.offset + m.size <= sizeof(d->data)) {
			memcpy(d->data + m.offset, m.data, m.size);
			d->written += m.size;
		}
		if (d->writes == d->fail_write)
			status = HV_ERROR_DISK_FULL;
		break;
	}
	case COMPLETE_FCOPY:
		CHECK(d->started);
		d->completes++;
		d->started = false;
		break;
	case CANCEL_FCOPY:
		d->cancels++;
		d->started = false;
		break;
	default:
		CHECK(!"unknown fcopy operation");
		status = HV_E_FAIL;
	}
	g_answer(&h->ch[G_FCOPY], p, status);
	return true;
}

static void fcopy_until(struct gharness *h, struct gfcopy *d, struct done_rec *r)
{
	struct gpkt *p = malloc(sizeof(*p));

	while (!r->calls && g_recv(&h->ch[G_FCOPY], p, 1000)) {
		fcopy_serve(h, d, p);
		g_run(h, rec_called, r, 5);
	}
	CHECK_EQ(r->calls, 1);
	/* A cancel sent after the end is served too. */
	while (g_recv(&h->ch[G_FCOPY], p, 20))
		fcopy_serve(h, d, p);
	free(p);
}

static void make_file(const char *path, uint8_t *pattern, size_t size)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	for (size_t i = 0; i < size; i++)
		pattern[i] = (uint8_t)(i * 7 + i / 251);
	CHECK(fd >= 0);
	CHECK_EQ(write(fd, pattern, size), (ssize_t)size);
	close(fd);
}

static void test_fcopy(void)
{
	struct ic_config cfg = {.request_timeout_ms = 100};
	struct gharness *h = g_setup(&cfg, false);
	struct ic_fcopy *fc = ic_set_fcopy(h->set);
	struct gfcopy *d = calloc(1, sizeof(*d));
	struct gpkt *p = malloc(sizeof(*p));
	struct done_rec r = {0}, r2 = {0};
	uint8_t *pattern = malloc(20480);
	char file[256], empty[256], dir[256], longname[400];
	const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";

	snprintf(file, sizeof(file), "%s/test_ic_fcopy.%d", tmp, (int)getpid());
	snprintf(empty, sizeof(empty), "%s/test_ic_fcopy_empty.%d", tmp, (int)getpid());
	snprintf(dir, sizeof(dir), "%s", tmp);
	make_file(file, pattern, 20480);
	make_file(empty, pattern, 0);
	CHECK_EQ(ic_fcopy_copy_file(fc, file, "/root", "a.bin", 0, rec_done, &r), -ENOTCONN);
	CHECK(g_open_negotiate(h, G_FCOPY, &g_linux[G_FCOPY]));

	/* 20 KB: START, four fragments (3 x 6 KiB + 2 KiB), COMPLETE. */
	CHECK_EQ(ic_fcopy_copy_file(fc, file, "/var/tmp", "a.bin", IC_FCOPY_CREATE_PATH,
				    rec_done, &r), 0);
	CHECK_EQ(ic_fcopy_copy_file(fc, file, "/var/tmp", "b.bin", 0, rec_done, &r2), -EBUSY);
	CHECK(g_recv(&h->ch[G_FCOPY], p, 1000));
	{
		struct hv_start_fcopy m;
		uint8_t want[32];

		memcpy(&m, g_body(p), sizeof(m));
		CHECK_EQ(m.hdr.operation, START_FILE_COPY);
		CHECK_EQ(m.file_size, 20480);
		CHECK_EQ(m.copy_flags, CREATE_PATH);
		memset(want, 0, sizeof(want));
		ascii16("a.bin", want);
		CHECK(!memcmp(m.file_name, want, 12));
		ascii16("/var/tmp", want);
		CHECK(!memcmp(m.path_name, want, 18));
	}
	fcopy_serve(h, d, p);
	for (unsigned i = 0; i < 4; i++) {
		struct hv_do_fcopy m;

		CHECK(g_recv(&h->ch[G_FCOPY], p, 1000));
		memcpy(&m, g_body(p), sizeof(m));
		CHECK_EQ(m.hdr.operation, WRITE_TO_FILE);
		CHECK_EQ(m.offset, i * DATA_FRAGMENT);
		CHECK_EQ(m.size, i < 3 ? DATA_FRAGMENT : 2048);
		fcopy_serve(h, d, p);
	}
	CHECK(g_recv(&h->ch[G_FCOPY], p, 1000));
	CHECK_EQ(g_body(p)[0], COMPLETE_FCOPY);
	fcopy_serve(h, d, p);
	CHECK(g_run(h, rec_called, &r, 1000));
	CHECK_EQ(r.err, 0);
	CHECK(strstr(r.detail, "20480 bytes") != NULL);
	CHECK(!strcmp(d->target, "/var/tmp/a.bin"));
	CHECK_EQ(d->written, 20480);
	CHECK(!memcmp(d->data, pattern, 20480));
	CHECK_EQ(d->cancels, 0);

	/* The guest has the file: refused without OVER_WRITE, nothing more is sent. */
	snprintf(d->existing[0], sizeof(d->existing[0]), "/var/tmp/a.bin");
	memset(&r, 0, sizeof(r));
	d->writes = 0;
	CHECK_EQ(ic_fcopy_copy_file(fc, file, "/var/tmp", "a.bin", 0, rec_done, &r), 0);
	fcopy_until(h, d, &r);
	CHECK_EQ(r.err, -EEXIST);
	CHECK(strstr(r.detail, "HV_ERROR_ALREADY_EXISTS") != NULL);
	CHECK_EQ(d->writes, 0);
	CHECK_EQ(d->cancels, 0);
	/* With OVER_WRITE it is replaced. */
	memset(&r, 0, sizeof(r));
	memset(d->data, 0, sizeof(d->data));
	CHECK_EQ(ic_fcopy_copy_file(fc, file, "/var/tmp", "a.bin", IC_FCOPY_OVERWRITE, rec_done,
				    &r), 0);
	fcopy_until(h, d, &r);
	CHECK_EQ(r.err, 0);
	CHECK_EQ(d->writes, 4);
	CHECK(!memcmp(d->data, pattern, 20480));

	/* A full disk at the second fragment: the copy fails and is cancelled in the guest. */
	memset(&r, 0, sizeof(r));
	d->writes = 0;
	d->fail_write = 2;
	CHECK_EQ(ic_fcopy_copy_file(fc, file, "/var/tmp", "c.bin", 0, rec_done, &r), 0);
	fcopy_until(h, d, &r);
	CHECK_EQ(r.err, -ENOSPC);
	CHECK(strstr(r.detail, "write") != NULL);
	CHECK_EQ(d->writes, 2);
	CHECK_EQ(d->cancels, 1);
	d->fail_write = 0;

	/* The guest stops answering mid-copy: a timeout, and a cancel. */
	memset(&r, 0, sizeof(r));
	d->writes = 0;
	d->silent_write = true;
	CHECK_EQ(ic_fcopy_copy_file(fc, file, "/var/tmp", "d.bin", 0, rec_done, &r), 0);
	fcopy_until(h, d, &r);
	CHECK_EQ(r.err, -ETIMEDOUT);
	CHECK_EQ(d->cancels, 2);
	d->silent_write = false;

	/* The host file shrinks after the start: a short read fails the copy, which is cancelled. */
	memset(&r, 0, sizeof(r));
	d->writes = d->cancels = 0;
	CHECK_EQ(ic_fcopy_copy_file(fc, file, "/var/tmp", "h.bin", 0, rec_done, &r), 0);
	CHECK(g_recv(&h->ch[G_FCOPY], p, 1000));
	CHECK_EQ(truncate(file, 1000), 0);
	fcopy_serve(h, d, p);
	fcopy_until(h, d, &r);
	CHECK_EQ(r.err, -EIO);
	CHECK(strstr(r.detail, "short read") != NULL);
	CHECK_EQ(d->writes, 0);
	CHECK_EQ(d->cancels, 1);
	make_file(file, pattern, 20480);

	/* An empty file: START, then COMPLETE. */
	memset(&r, 0, sizeof(r));
	d->writes = d->completes = 0;
	CHECK_EQ(ic_fcopy_copy_file(fc, empty, "/var/tmp", "e.bin", 0, rec_done, &r), 0);
	fcopy_until(h, d, &r);
	CHECK_EQ(r.err, 0);
	CHECK_EQ(d->writes, 0);
	CHECK_EQ(d->completes, 1);

	/* Refused at once. */
	memset(longname, 'n', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = 0;
	CHECK_EQ(ic_fcopy_copy_file(fc, "/nonexistent/file", "/x", "y", 0, rec_done, &r), -ENOENT);
	CHECK_EQ(ic_fcopy_copy_file(fc, dir, "/x", "y", 0, rec_done, &r), -EINVAL);
	CHECK_EQ(ic_fcopy_copy_file(fc, file, "/x", "y", 0x10, rec_done, &r), -EINVAL);
	CHECK_EQ(ic_fcopy_copy_file(fc, file, "/x", "", 0, rec_done, &r), -EINVAL);
	CHECK_EQ(ic_fcopy_copy_file(fc, file, "/x", "y", 0, NULL, NULL), -EINVAL);
	CHECK_EQ(ic_fcopy_copy_file(fc, file, "/x", longname, 0, rec_done, &r), -ENAMETOOLONG);
	CHECK_EQ(ic_fcopy_copy_file(fc, file, longname, "y", 0, rec_done, &r), -ENAMETOOLONG);
	CHECK_EQ(ic_fcopy_copy_file(fc, file, "/x", "\xc3(", 0, rec_done, &r), -EINVAL);

	/* Closed mid-copy: -ENOTCONN, and the next copy can start after reopening. */
	memset(&r, 0, sizeof(r));
	CHECK_EQ(ic_fcopy_copy_file(fc, file, "/var/tmp", "f.bin", 0, rec_done, &r), 0);
	CHECK(g_recv(&h->ch[G_FCOPY], p, 1000));
	fcopy_serve(h, d, p);
	CHECK(g_recv(&h->ch[G_FCOPY], p, 1000)); /* the first fragment, unanswered */
	g_close(h, G_FCOPY);
	CHECK_EQ(r.calls, 1);
	CHECK_EQ(r.err, -ENOTCONN);

	/* Rings too small for a fragment (one data page): -EMSGSIZE, the copy is cancelled. */
	CHECK_EQ(g_open_pages(h, G_FCOPY, 1), 0);
	CHECK(g_recv(&h->ch[G_FCOPY], p, 1000));
	CHECK(g_negotiate_answer(&h->ch[G_FCOPY], p, &g_linux[G_FCOPY]));
	g_settle(h, 5);
	memset(&r, 0, sizeof(r));
	d->cancels = 0;
	CHECK_EQ(ic_fcopy_copy_file(fc, file, "/var/tmp", "g.bin", 0, rec_done, &r), 0);
	fcopy_until(h, d, &r);
	CHECK_EQ(r.err, -EMSGSIZE);
	CHECK_EQ(d->cancels, 1);

	unlink(file);
	unlink(empty);
	free(pattern);
	free(p);
	free(d);
	g_teardown(h);
}

int main(void)
{
	log_set_level(LOG_ERROR);
	test_kvp();
	test_kvp_answers();
	test_vss();
	test_fcopy();
	return unit_done("test_ic_services");
}
