/* Test-only connections behind the hidden --hyperv-test-connections switch, for the freestanding
 * direct-tier guests: a message echo and an event echo (TLFS connections). */
#ifndef HVKVM_HV_TEST_CONNECTIONS_H
#define HVKVM_HV_TEST_CONNECTIONS_H

#include "hv-enlight/hv.h"

#define HV_TEST_CONNECTION_MESSAGE_ECHO 0x10000u
#define HV_TEST_CONNECTION_EVENT_ECHO 0x10001u
#define HV_TEST_EVENT_ECHO_SINT 3

/* Registers both connections; 0 or -errno (-EEXIST, -ENOSPC). */
__attribute__((warn_unused_result))
int hv_test_connections_register(struct hv_partition *p);

#endif
