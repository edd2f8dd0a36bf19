/* The board's commands on the VM's control socket (src/mgmt/control.h): status, and the
 * devices' operations (hot add/remove, integration services). Registered for one boot. */
#ifndef HVKVM_BOARD_CONTROL_H
#define HVKVM_BOARD_CONTROL_H

#include "mgmt/control.h"

struct board;

/* Loop thread, before the loop runs for this boot. ctl may be NULL (no control socket). */
__attribute__((warn_unused_result))
int board_control_attach(struct board *b, struct control_server *ctl, struct error *err);
/* After the loop stopped, before the board's devices go. */
void board_control_detach(struct board *b);

#endif
