/* The integration services' control commands (see board_ic_commands.h). Each request is handed
 * to the IC with the control request as context; the IC's completion answers it (on the loop
 * thread; a request whose guest never answers completes at the IC's timeout). */
#include "board_ic_commands.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "board.h"
#include "mgmt/json.h"
#include "synthetic/ic_services.h"

/* An IC refused at once (-ENOTCONN: the guest's driver is not there, -EBUSY, ...). */
static void refused(struct control_request *req, const char *what, int err)
{
	if (err == -ENOTCONN)
		control_reply_error(req, "%s: the guest's integration service is not connected", what);
	else
		control_reply_error(req, "%s: %s", what, strerror(-err));
}

static void done_simple(void *ctx, int err, const char *detail)
{
	struct control_request *req = ctx;

	if (err)
		control_reply_error(req, "%s", detail && *detail ? detail : strerror(-err));
	else
		control_reply(req, NULL, detail && *detail ? detail : "done");
}

/* ---- shutdown, reboot, hibernate ---- */

static void power(struct board *b, struct control_request *req, unsigned argc,
		  const char *const *argv, enum ic_shutdown_action action, const char *what)
{
	bool force = false;
	const char *message = NULL;
	int ret;

	for (unsigned i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--force"))
			force = true;
		else if (!message)
			message = argv[i];
		else {
			control_reply_error(req, "usage: %s [--force] [MESSAGE]", what);
			return;
		}
	}
	ret = ic_shutdown_request(ic_set_shutdown(b->ics), action, force, message, done_simple,
				  req);
	if (ret < 0)
		refused(req, what, ret);
}

static void cmd_shutdown(void *o, struct control_request *req, unsigned argc,
			 const char *const *argv)
{
	power(o, req, argc, argv, IC_SHUTDOWN_POWEROFF, "shutdown");
}

static void cmd_reboot(void *o, struct control_request *req, unsigned argc, const char *const *argv)
{
	power(o, req, argc, argv, IC_SHUTDOWN_REBOOT, "reboot");
}

static void cmd_hibernate(void *o, struct control_request *req, unsigned argc,
			  const char *const *argv)
{
	power(o, req, argc, argv, IC_SHUTDOWN_HIBERNATE, "hibernate");
}

/* ---- heartbeat ---- */

static void cmd_heartbeat(void *o, struct control_request *req, unsigned argc,
			  const char *const *argv)
{
	struct board *b = o;
	struct ic_heartbeat_status st;
	static const char *const states[] = {"no-contact", "healthy", "missed"};
	struct json_writer w;
	char text[200], when[64] = "never";

	(void)argv;
	if (argc) {
		control_reply_error(req, "heartbeat takes no arguments");
		return;
	}
	ic_heartbeat_status(ic_set_heartbeat(b->ics), &st);
	if (st.last_answer_wall_ns) {
		time_t t = (time_t)(st.last_answer_wall_ns / 1000000000u);
		struct tm tm;

		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t, &tm));
	}
	json_writer_init(&w);
	json_object_begin(&w);
	json_key(&w, "state");
	json_string(&w, states[st.state]);
	json_key(&w, "last_answer");
	if (st.last_answer_wall_ns)
		json_string(&w, when);
	else
		json_null(&w);
	json_key(&w, "answers");
	json_uint(&w, st.answers);
	json_object_end(&w);
	if (st.state == IC_HEARTBEAT_MISSED)
		snprintf(text, sizeof(text), "missed since %s (%llu answers before)", when,
			 (unsigned long long)st.answers);
	else if (st.state == IC_HEARTBEAT_HEALTHY)
		snprintf(text, sizeof(text), "healthy (last answer %s, %llu answers)", when,
			 (unsigned long long)st.answers);
	else
		snprintf(text, sizeof(text), "no contact");
	control_reply_json(req, &w, text);
}

/* ---- KVP ---- */

/* kvp-get [KEY]: walks the guest's pools (hv_kvp_daemon's numbering: auto = 2, guest = 1,
 * external = 0, auto-external = 3, auto-internal = 4), then the IP information of each
 * synthetic NIC; answers KEY's value (the first pool that has it), or everything. */
struct kvp_walk {
	struct board *b;
	struct control_request *req;
	char *key;        /* NULL: list all */
	unsigned step;    /* index into walk_pools, then NICs */
	struct json_writer w;
	char *text;
	size_t text_len;
	bool found;
};

static const unsigned walk_pools[] = {2, 1, 0, 3, 4};
#define WALK_POOLS (sizeof(walk_pools) / sizeof(walk_pools[0]))

static void walk_next(struct kvp_walk *k);

static void text_add(struct kvp_walk *k, const char *key, const char *value)
{
	size_t n = strlen(key) + strlen(value) + 4;
	char *t = realloc(k->text, k->text_len + n + 1);

	if (!t)
		return;
	k->text = t;
	k->text_len += (size_t)snprintf(t + k->text_len, n + 1, "%s%s: %s", k->text_len ? "\n" : "",
					key, value);
}

static void walk_item(void *ctx, uint32_t index, const char *key, const char *value)
{
	struct kvp_walk *k = ctx;

	(void)index;
	if (k->key && strcmp(k->key, key))
		return;
	if (k->key && k->found)
		return; /* the first pool that has it wins */
	k->found = true;
	json_key(&k->w, key);
	json_string(&k->w, value);
	text_add(k, key, value);
}

static void walk_finish(struct kvp_walk *k, const char *error)
{
	if (error) {
		json_writer_free(&k->w);
		control_reply_error(k->req, "kvp-get: %s", error);
	} else if (k->key && !k->found) {
		json_writer_free(&k->w);
		control_reply_error(k->req, "kvp-get: the guest has no key '%s'", k->key);
	} else {
		json_object_end(&k->w);
		const char *text = k->text ? k->text : "";

		if (k->key && strchr(text, ':'))
			text = strchr(text, ':') + 2;
		control_reply_json(k->req, &k->w, text);
	}
	free(k->key);
	free(k->text);
	free(k);
}

static void walk_pool_done(void *ctx, int err, const char *detail)
{
	struct kvp_walk *k = ctx;

	if (err) {
		walk_finish(k, detail && *detail ? detail : strerror(-err));
		return;
	}
	k->step++;
	walk_next(k);
}

static void walk_ip(void *ctx, int err, const char *detail, const struct ic_kvp_ip_info *info)
{
	struct kvp_walk *k = ctx;
	char key[sizeof(info->adapter_id) + 16];

	(void)detail;
	if (!err && info) { /* a NIC the guest does not know (yet) is not an error */
		snprintf(key, sizeof(key), "IPAddresses[%s]", info->adapter_id);
		walk_item(k, 0, key, info->ip_addr);
	}
	k->step++;
	walk_next(k);
}

static void walk_next(struct kvp_walk *k)
{
	int ret;

	if (k->step < WALK_POOLS) {
		ret = ic_kvp_enumerate_pool(ic_set_kvp(k->b->ics), walk_pools[k->step], walk_item,
					    walk_pool_done, k);
		if (ret < 0)
			walk_finish(k, ret == -ENOTCONN ? "the guest's KVP service is not connected"
							: strerror(-ret));
		return;
	}
	while (k->step - WALK_POOLS < k->b->nnics) {
		unsigned nic = k->step - WALK_POOLS;

		ret = ic_kvp_get_ip_info(ic_set_kvp(k->b->ics), k->b->nic_macs[nic], walk_ip, k);
		if (ret == 0)
			return;
		k->step++;
	}
	walk_finish(k, NULL);
}

static void cmd_kvp_get(void *o, struct control_request *req, unsigned argc,
			const char *const *argv)
{
	struct kvp_walk *k;

	if (argc > 1) {
		control_reply_error(req, "usage: kvp-get [KEY]");
		return;
	}
	k = calloc(1, sizeof(*k));
	if (!k || (argc && !(k->key = strdup(argv[0])))) {
		free(k);
		control_reply_error(req, "out of memory");
		return;
	}
	k->b = o;
	k->req = req;
	json_writer_init(&k->w);
	json_object_begin(&k->w);
	walk_next(k);
}

static void cmd_kvp_set(void *o, struct control_request *req, unsigned argc,
			const char *const *argv)
{
	struct board *b = o;
	int ret;

	if (argc != 2) {
		control_reply_error(req, "usage: kvp-set KEY VALUE");
		return;
	}
	ret = ic_kvp_set(ic_set_kvp(b->ics), 0, argv[0], argv[1], done_simple, req);
	if (ret < 0)
		refused(req, "kvp-set", ret);
}

static void cmd_kvp_delete(void *o, struct control_request *req, unsigned argc,
			   const char *const *argv)
{
	struct board *b = o;
	int ret;

	if (argc != 1) {
		control_reply_error(req, "usage: kvp-delete KEY");
		return;
	}
	ret = ic_kvp_delete(ic_set_kvp(b->ics), 0, argv[0], done_simple, req);
	if (ret < 0)
		refused(req, "kvp-delete", ret);
}

/* ---- file copy, VSS, time ---- */

static void cmd_copy_file(void *o, struct control_request *req, unsigned argc,
			  const char *const *argv)
{
	struct board *b = o;
	const char *src = NULL, *dst = NULL, *slash;
	uint32_t flags = IC_FCOPY_CREATE_PATH;
	char dir[1024];
	int ret;

	for (unsigned i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--overwrite"))
			flags |= IC_FCOPY_OVERWRITE;
		else if (!src)
			src = argv[i];
		else if (!dst)
			dst = argv[i];
		else
			src = NULL, i = argc;
	}
	if (!src || !dst || dst[0] != '/' || !(slash = strrchr(dst, '/'))[1] ||
	    (size_t)(slash - dst) + 1 >= sizeof(dir)) {
		control_reply_error(req, "usage: copy-file HOST_FILE /GUEST/DIR/NAME [--overwrite]");
		return;
	}
	/* The directory with its trailing '/': hv_fcopy_daemon creates (CREATE_PATH) only the
	 * components that a '/' ends. */
	snprintf(dir, sizeof(dir), "%.*s", (int)(slash - dst) + 1, dst);
	ret = ic_fcopy_copy_file(ic_set_fcopy(b->ics), src, dir, slash + 1, flags, done_simple, req);
	if (ret < 0)
		refused(req, "copy-file", ret);
}

static void vss_done(void *ctx, int err, const char *detail, uint32_t flags)
{
	(void)flags;
	done_simple(ctx, err, detail);
}

static void cmd_freeze(void *o, struct control_request *req, unsigned argc,
		       const char *const *argv)
{
	struct board *b = o;
	int ret;

	(void)argv;
	if (argc) {
		control_reply_error(req, "freeze takes no arguments");
		return;
	}
	ret = ic_vss_freeze(ic_set_vss(b->ics), vss_done, req);
	if (ret < 0)
		refused(req, "freeze", ret);
}

static void cmd_thaw(void *o, struct control_request *req, unsigned argc, const char *const *argv)
{
	struct board *b = o;
	int ret;

	(void)argv;
	if (argc) {
		control_reply_error(req, "thaw takes no arguments");
		return;
	}
	ret = ic_vss_thaw(ic_set_vss(b->ics), vss_done, req);
	if (ret < 0)
		refused(req, "thaw", ret);
}

/* time-offset [SECONDS]: shows, or sets (and sends at once) the offset of the time the guest is
 * told from the host's clock. */
static void cmd_time_offset(void *o, struct control_request *req, unsigned argc,
			    const char *const *argv)
{
	struct board *b = o;
	struct ic_timesync *ts = ic_set_timesync(b->ics);
	char text[64], json[64], *end;
	double s;

	if (argc > 1) {
		control_reply_error(req, "usage: time-offset [SECONDS]");
		return;
	}
	if (argc) {
		s = strtod(argv[0], &end);
		if (*end || end == argv[0] || !(s >= -1e9 && s <= 1e9)) { /* NaN fails too */
			control_reply_error(req, "time-offset: '%s' is not a number of seconds", argv[0]);
			return;
		}
		ic_timesync_set_offset(ts, (int64_t)(s * 1e9));
		if (ic_timesync_sync(ts) < 0) {
			control_reply_error(req, "time-offset: set, but the guest's time sync service is not connected");
			return;
		}
	}
	snprintf(json, sizeof(json), "{\"offset_ns\":%lld}", (long long)ic_timesync_offset(ts));
	snprintf(text, sizeof(text), "%.3f s", (double)ic_timesync_offset(ts) / 1e9);
	control_reply(req, json, text);
}

static const struct {
	const char *name, *usage;
	control_handler_fn *fn;
} commands[] = {
	{"shutdown", "[--force] [MESSAGE]  ask the guest to shut down", cmd_shutdown},
	{"reboot", "[--force] [MESSAGE]  ask the guest to reboot", cmd_reboot},
	{"hibernate", "[--force] [MESSAGE]  ask the guest to hibernate", cmd_hibernate},
	{"heartbeat", "  the guest's heartbeat: healthy, no-contact or missed since", cmd_heartbeat},
	{"kvp-get", "[KEY]  a key the guest reported, or every key and its addresses", cmd_kvp_get},
	{"kvp-set", "KEY VALUE  set a host key the guest sees (pool 0)", cmd_kvp_set},
	{"kvp-delete", "KEY  delete a host key", cmd_kvp_delete},
	{"copy-file", "HOST_FILE /GUEST/PATH [--overwrite]  copy a file into the guest", cmd_copy_file},
	{"freeze", "  freeze the guest's file systems (VSS)", cmd_freeze},
	{"thaw", "  thaw them", cmd_thaw},
	{"time-offset", "[SECONDS]  offset of the time the guest is told from the host's",
	 cmd_time_offset},
};

int board_ic_commands_attach(struct board *b, struct control_server *ctl, struct error *err)
{
	if (!ctl || !b->ics)
		return 0;
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		int ret = control_register(ctl, commands[i].name, commands[i].usage, commands[i].fn, b);

		if (ret < 0)
			return error_set(err, -ret, "cannot register control command %s",
					 commands[i].name);
	}
	return 0;
}

void board_ic_commands_detach(struct board *b, struct control_server *ctl)
{
	if (!ctl || !b->ics)
		return;
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		control_unregister(ctl, commands[i].name);
}
