/* Internals of RNDIS shared by rndis.c (control messages, receive filter, counters) and
 * rndis_oid.c (OID queries and sets). */
#ifndef HVKVM_SYNTHETIC_RNDIS_INTERNAL_H
#define HVKVM_SYNTHETIC_RNDIS_INTERNAL_H

#include <string.h>

#include "synthetic/rndis.h"

#define RNDIS_TAG "rndis"

static inline uint32_t rndis_get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

static inline void rndis_put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

/* Builds the answer to a query in out (cap bytes); returns its length, sets *status. */
struct out {
	uint8_t *p;
	uint32_t cap, len;
	bool overflow;
};

/* The answer to a query of oid (the guest gave in_len bytes of information buffer) into o;
 * returns the RNDIS status. */
uint32_t rndis_query_oid(struct rndis_device *d, uint32_t oid, uint32_t in_len, struct out *o);
/* A set of oid from the len bytes at buf; returns the RNDIS status. */
uint32_t rndis_set_oid(struct rndis_device *d, uint32_t oid, const uint8_t *buf, uint32_t len);

#endif
