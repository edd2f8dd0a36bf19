/* The board's integration services: the six ICs offered together (shutdown, time sync,
 * heartbeat, KVP, VSS, file copy, in that order) and torn down in reverse. */
#include <errno.h>
#include <stdlib.h>

#include "synthetic/ic.h"

struct ic_set {
	struct ic_config cfg; /* defaults filled in */
	struct ic_shutdown *shutdown;
	struct ic_timesync *timesync;
	struct ic_heartbeat *heartbeat;
	struct ic_kvp *kvp;
	struct ic_vss *vss;
	struct ic_fcopy *fcopy;
};

static void destroy_all(struct ic_set *s, bool withdraw)
{
	ic_fcopy_destroy(s->fcopy, withdraw);
	ic_vss_destroy(s->vss, withdraw);
	ic_kvp_destroy(s->kvp, withdraw);
	ic_heartbeat_destroy(s->heartbeat, withdraw);
	ic_timesync_destroy(s->timesync, withdraw);
	ic_shutdown_destroy(s->shutdown, withdraw);
	free(s);
}

int ic_set_create(struct ic_set **out, struct vmbus_host *host, const struct guest_mem *mem,
		  const struct ic_config *cfg, struct error *err)
{
	struct ic_set *s = calloc(1, sizeof(*s));
	struct ic_env env = {.host = host, .mem = mem};
	int ret;

	if (!s)
		return error_set(err, ENOMEM, "out of memory");
	if (cfg)
		s->cfg = *cfg;
	if (!s->cfg.request_timeout_ms)
		s->cfg.request_timeout_ms = IC_DEFAULT_TIMEOUT_MS;
	if (!s->cfg.heartbeat_interval_ms)
		s->cfg.heartbeat_interval_ms = IC_DEFAULT_HEARTBEAT_MS;
	if (!s->cfg.timesync_interval_ms)
		s->cfg.timesync_interval_ms = IC_DEFAULT_TIMESYNC_MS;
	env.cfg = &s->cfg;
	ret = ic_shutdown_create(&s->shutdown, &env, err);
	if (ret == 0)
		ret = ic_timesync_create(&s->timesync, &env, err);
	if (ret == 0)
		ret = ic_heartbeat_create(&s->heartbeat, &env, err);
	if (ret == 0)
		ret = ic_kvp_create(&s->kvp, &env, err);
	if (ret == 0)
		ret = ic_vss_create(&s->vss, &env, err);
	if (ret == 0)
		ret = ic_fcopy_create(&s->fcopy, &env, err);
	if (ret < 0) {
		destroy_all(s, true);
		return ret;
	}
	*out = s;
	return 0;
}

void ic_set_destroy(struct ic_set *s)
{
	if (s)
		destroy_all(s, false);
}

struct ic_shutdown *ic_set_shutdown(struct ic_set *s)
{
	return s->shutdown;
}

struct ic_heartbeat *ic_set_heartbeat(struct ic_set *s)
{
	return s->heartbeat;
}

struct ic_timesync *ic_set_timesync(struct ic_set *s)
{
	return s->timesync;
}

struct ic_kvp *ic_set_kvp(struct ic_set *s)
{
	return s->kvp;
}

struct ic_vss *ic_set_vss(struct ic_set *s)
{
	return s->vss;
}

struct ic_fcopy *ic_set_fcopy(struct ic_set *s)
{
	return s->fcopy;
}
