/* A minimal i8042 (see i8042.h): status says "nothing to read, ready for input", data reads 0,
 * the reset line is the only output that does anything. */
#include "emulated/i8042.h"

#include <string.h>

#define STATUS_SYS 0x04 /* system flag: self-test passed */

#define CMD_WRITE_CTR 0x60
#define CMD_WRITE_OUTPUT 0xd1
#define CMD_WRITE_KBD_OUT 0xd2
#define CMD_WRITE_AUX_OUT 0xd3
#define CMD_WRITE_AUX 0xd4
#define CMD_PULSE_FIRST 0xf0 /* 0xF0-0xFF: pulse output bits 0-3 that are clear in the command */

#define OUTPUT_RESET 0x01 /* output port bit 0: system reset, active low */

static int fill(void *data, unsigned size, uint8_t v)
{
	memset(data, v, size);
	return 0;
}

static int data_read(void *opaque, uint64_t offset, void *data, unsigned size)
{
	(void)opaque; (void)offset;
	return fill(data, size, 0);
}

static int cmd_read(void *opaque, uint64_t offset, void *data, unsigned size)
{
	(void)opaque; (void)offset;
	return fill(data, size, STATUS_SYS);
}

static bool takes_data(uint8_t cmd)
{
	return cmd == CMD_WRITE_CTR || cmd == CMD_WRITE_OUTPUT || cmd == CMD_WRITE_KBD_OUT ||
	       cmd == CMD_WRITE_AUX_OUT || cmd == CMD_WRITE_AUX;
}

static int data_write(void *opaque, uint64_t offset, const void *data, unsigned size)
{
	struct i8042 *k = opaque;
	uint8_t v = *(const uint8_t *)data, cmd;

	(void)offset; (void)size;
	pthread_mutex_lock(&k->lock);
	cmd = k->pending_cmd;
	k->pending_cmd = 0;
	pthread_mutex_unlock(&k->lock);
	/* Anything else written here would go to the (absent) keyboard. */
	if (cmd == CMD_WRITE_OUTPUT && !(v & OUTPUT_RESET))
		machine_request(&k->mc, MACHINE_RESET, 0);
	return 0;
}

static int cmd_write(void *opaque, uint64_t offset, const void *data, unsigned size)
{
	struct i8042 *k = opaque;
	uint8_t cmd = *(const uint8_t *)data;

	(void)offset; (void)size;
	pthread_mutex_lock(&k->lock);
	k->pending_cmd = takes_data(cmd) ? cmd : 0;
	pthread_mutex_unlock(&k->lock);
	if (cmd >= CMD_PULSE_FIRST && !(cmd & OUTPUT_RESET))
		machine_request(&k->mc, MACHINE_RESET, 0);
	/* Other commands (self-test, enable/disable ports...) are accepted and ignored. */
	return 0;
}

const struct io_dev_ops i8042_data_ops = {
	.read = data_read,
	.write = data_write,
};

const struct io_dev_ops i8042_cmd_ops = {
	.read = cmd_read,
	.write = cmd_write,
};

int i8042_init(struct i8042 *k, struct machine_control mc)
{
	int ret;

	memset(k, 0, sizeof(*k));
	ret = pthread_mutex_init(&k->lock, NULL);
	if (ret)
		return -ret;
	k->mc = mc;
	return 0;
}

void i8042_destroy(struct i8042 *k)
{
	pthread_mutex_destroy(&k->lock);
}
