/* A Hyper-V partition: creation, its virtual processors and the connection-ID registry that
 * HvPostMessage and HvSignalEvent resolve (TLFS "Inter-Partition Communication":
 * connections). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hv-enlight/partition.h"

static void vp_init(struct hv_vp *v, unsigned index)
{
	v->index = index;
	for (unsigned i = 0; i < HV_SYNIC_SINT_COUNT; i++)
		v->sint[i] = HV_SYNIC_SINT_DEFAULT;
}

int hv_partition_create(struct hv_partition **out, const struct hv_config *cfg,
			const struct guest_mem *mem, const struct hv_host_ops *ops,
			struct machine_control mc, struct error *err)
{
	struct hv_partition *p;
	unsigned i;
	int ret;

	ret = hv_features_check(cfg->features, err);
	if (ret)
		return ret;
	if (cfg->nvps == 0 || cfg->nvps > HV_MAX_VPS)
		return error_set(err, EINVAL, "Hyper-V partition: %u virtual processors (1-%u)",
				 cfg->nvps, HV_MAX_VPS);
	if (cfg->tsc_hz == 0)
		return error_set(err, EINVAL, "Hyper-V partition: unknown TSC frequency");
	p = calloc(1, sizeof(*p));
	if (!p)
		return error_set(err, ENOMEM, "Hyper-V partition: out of memory");
	p->vps = calloc(cfg->nvps, sizeof(*p->vps));
	if (!p->vps) {
		free(p);
		return error_set(err, ENOMEM, "Hyper-V partition: out of memory");
	}
	p->cfg = *cfg;
	p->mem = mem;
	p->ops = *ops;
	p->mc = mc;
	p->tsc_scale = hv_ref_tsc_scale(cfg->tsc_hz);
	pthread_mutex_init(&p->lock, NULL);
	pthread_mutex_init(&p->conn_lock, NULL);
	for (i = 0; i < cfg->nvps; i++) {
		vp_init(&p->vps[i], i);
		pthread_mutex_init(&p->vps[i].lock, NULL);
	}
	*out = p;
	return 0;
}

void hv_partition_destroy(struct hv_partition *p)
{
	if (!p)
		return;
	for (unsigned i = 0; i < p->cfg.nvps; i++) {
		for (unsigned s = 0; s < HV_SYNIC_SINT_COUNT; s++)
			free(p->vps[i].queue[s]);
		pthread_mutex_destroy(&p->vps[i].lock);
	}
	pthread_mutex_destroy(&p->conn_lock);
	pthread_mutex_destroy(&p->lock);
	free(p->vps);
	free(p);
}

void hv_irqs_send(struct hv_partition *p, unsigned vp, const struct hv_irqs *irqs)
{
	for (unsigned w = 0; w < 4; w++) {
		uint64_t bits = irqs->bits[w];

		while (bits) {
			unsigned b = (unsigned)__builtin_ctzll(bits);

			bits &= bits - 1;
			p->ops.send_interrupt(p->ops.ctx, vp, (uint8_t)(w * 64 + b));
		}
	}
}

int hv_connection_register(struct hv_partition *p, uint32_t connection_id,
			   const struct hv_connection_ops *ops)
{
	struct hv_connection *free_slot = NULL;
	int ret = 0;

	if (!ops || (!ops->post_message && !ops->signal_event))
		return -EINVAL;
	pthread_mutex_lock(&p->conn_lock);
	for (unsigned i = 0; i < HV_MAX_CONNECTIONS; i++) {
		struct hv_connection *c = &p->conns[i];

		if (c->used && c->id == connection_id) {
			ret = -EEXIST;
			goto out;
		}
		if (!c->used && !free_slot)
			free_slot = c;
	}
	if (!free_slot) {
		ret = -ENOSPC;
		goto out;
	}
	free_slot->id = connection_id;
	free_slot->ops = *ops;
	free_slot->used = true;
	free_slot->doorbell_bound = false;
	if (ops->has_doorbell && ops->signal_event && p->ops.bind_doorbell)
		/* Without it the doorbell still works, through the VMM (hv_doorbell). */
		free_slot->doorbell_bound =
			p->ops.bind_doorbell(p->ops.ctx, connection_id, ops->doorbell_fd, true) == 0;
out:
	pthread_mutex_unlock(&p->conn_lock);
	return ret;
}

void hv_connection_unregister(struct hv_partition *p, uint32_t connection_id)
{
	pthread_mutex_lock(&p->conn_lock);
	for (unsigned i = 0; i < HV_MAX_CONNECTIONS; i++) {
		struct hv_connection *c = &p->conns[i];

		if (c->used && c->id == connection_id) {
			if (c->doorbell_bound)
				p->ops.bind_doorbell(p->ops.ctx, connection_id, c->ops.doorbell_fd, false);
			memset(c, 0, sizeof(*c));
			break;
		}
	}
	pthread_mutex_unlock(&p->conn_lock);
}

bool hv_connection_lookup(struct hv_partition *p, uint32_t connection_id,
			  struct hv_connection_ops *ops)
{
	bool found = false;

	pthread_mutex_lock(&p->conn_lock);
	for (unsigned i = 0; i < HV_MAX_CONNECTIONS; i++) {
		if (p->conns[i].used && p->conns[i].id == connection_id) {
			*ops = p->conns[i].ops;
			found = true;
			break;
		}
	}
	pthread_mutex_unlock(&p->conn_lock);
	return found;
}
