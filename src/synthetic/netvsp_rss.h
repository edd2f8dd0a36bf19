/* Receive side scaling for netvsp: the Toeplitz hash over the tuples NDIS defines ("RSS Hashing
 * Functions" and "RSS Hashing Types" in the Windows driver docs; verified against the vectors
 * of "Verifying the RSS Hash Calculation"). Pure. */
#ifndef HVKVM_SYNTHETIC_NETVSP_RSS_H
#define HVKVM_SYNTHETIC_NETVSP_RSS_H

#include <stdbool.h>
#include <stdint.h>

/* Toeplitz hash of len input bytes (len <= key_len - 4) with a key_len-byte key. */
uint32_t netvsp_toeplitz(const uint8_t *key, uint32_t key_len, const uint8_t *in, uint32_t len);

/* The hash NDIS wants for a frame under hash_info (NDIS_HASH_* types enabled): the TCP 4-tuple
 * (source address, destination address, source port, destination port) for a TCP segment when
 * the TCP type of its IP version is on, else the 2-tuple of addresses when that IP type is on
 * (fragments always get the 2-tuple). false when neither applies (not IP, or types off); then
 * *type is 0. *type is the NDIS_HASH_* type used. key is 40 bytes. */
bool netvsp_rss_hash(const uint8_t *key, uint32_t hash_info, const uint8_t *frame, uint32_t len,
		     uint32_t *hash, uint32_t *type);

#endif
