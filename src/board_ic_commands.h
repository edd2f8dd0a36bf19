/* The integration services' commands on the VM's control socket: shutdown, reboot, hibernate,
 * heartbeat, kvp-get/kvp-set/kvp-delete, copy-file, freeze, thaw, time-offset. */
#ifndef HVKVM_BOARD_IC_COMMANDS_H
#define HVKVM_BOARD_IC_COMMANDS_H

#include "mgmt/control.h"

struct board;

/* Loop thread. Registers the commands when the board has integration services. */
__attribute__((warn_unused_result))
int board_ic_commands_attach(struct board *b, struct control_server *ctl, struct error *err);
void board_ic_commands_detach(struct board *b, struct control_server *ctl);

#endif
