/* The control socket's command table and its built-in commands, help and ping (see control.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mgmt/control_internal.h"

#define COMMAND_NAME_MAX 32

struct control_command *control_find_command(struct control_server *s, const char *name)
{
	for (struct control_command *cmd = s->commands; cmd; cmd = cmd->next)
		if (!strcmp(cmd->name, name))
			return cmd;
	return NULL;
}

/* ---- built-in commands ---- */

static void builtin_help(void *opaque, struct control_request *req, unsigned argc,
			 const char *const *argv)
{
	struct control_server *s = opaque;
	struct json_writer w;
	const char *result;
	char *text = NULL;
	size_t text_len = 0;
	FILE *f;

	if (argc > 1) {
		control_reply_error(req, "usage: help [COMMAND]");
		return;
	}
	if (argc == 1 && !control_find_command(s, argv[0])) {
		control_reply_error(req, "unknown command '%s' (see 'help')", argv[0]);
		return;
	}
	f = open_memstream(&text, &text_len);
	if (!f) {
		control_reply_error(req, "out of memory");
		return;
	}
	json_writer_init(&w);
	json_object_begin(&w);
	json_key(&w, "commands");
	json_array_begin(&w);
	if (argc == 0)
		fputs("Commands:\n", f);
	for (struct control_command *cmd = s->commands; cmd; cmd = cmd->next) {
		if (argc == 1 && strcmp(cmd->name, argv[0]))
			continue;
		json_object_begin(&w);
		json_key(&w, "command");
		json_string(&w, cmd->name);
		json_key(&w, "usage");
		json_string(&w, cmd->usage);
		json_object_end(&w);
		fprintf(f, "%s%s%s%s\n", argc ? "" : "  ", cmd->name,
			cmd->usage[0] && cmd->usage[0] != ' ' ? " " : "", cmd->usage);
	}
	json_array_end(&w);
	json_object_end(&w);
	if (fclose(f) != 0 || json_writer_finish(&w, &result) < 0)
		control_reply_error(req, "out of memory");
	else
		control_reply(req, result, text);
	json_writer_free(&w);
	free(text);
}

static void builtin_ping(void *opaque, struct control_request *req, unsigned argc,
			 const char *const *argv)
{
	struct control_server *s = opaque;
	struct json_writer w;
	const char *result;

	(void)argv;
	if (argc) {
		control_reply_error(req, "usage: ping");
		return;
	}
	json_writer_init(&w);
	json_object_begin(&w);
	json_key(&w, "name");
	if (s->name)
		json_string(&w, s->name);
	else
		json_null(&w);
	json_key(&w, "pid");
	json_int(&w, (long long)getpid());
	json_object_end(&w);
	if (json_writer_finish(&w, &result) < 0)
		control_reply_error(req, "out of memory");
	else
		control_reply(req, result, "pong");
	json_writer_free(&w);
}

/* ---- registration ---- */

static bool valid_command_name(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > COMMAND_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9') ||
		      name[i] == '-'))
			return false;
	return true;
}

void control_command_free(struct control_command *cmd)
{
	free(cmd->name);
	free(cmd->usage);
	free(cmd);
}

static int add_command(struct control_server *s, const char *command, const char *usage,
		       control_handler_fn *fn, void *opaque, bool builtin)
{
	struct control_command *cmd, **pp = &s->commands;

	if (!valid_command_name(command) || !fn)
		return -EINVAL;
	if (control_find_command(s, command))
		return -EEXIST;
	cmd = calloc(1, sizeof(*cmd));
	if (!cmd)
		return -ENOMEM;
	cmd->name = strdup(command);
	cmd->usage = strdup(usage ? usage : "");
	if (!cmd->name || !cmd->usage) {
		control_command_free(cmd);
		return -ENOMEM;
	}
	cmd->fn = fn;
	cmd->opaque = opaque;
	cmd->builtin = builtin;
	while (*pp && strcmp((*pp)->name, command) < 0)
		pp = &(*pp)->next;
	cmd->next = *pp;
	*pp = cmd;
	return 0;
}

int control_register(struct control_server *s, const char *command, const char *usage,
		     control_handler_fn *fn, void *opaque)
{
	return add_command(s, command, usage, fn, opaque, false);
}

void control_unregister(struct control_server *s, const char *command)
{
	for (struct control_command **pp = &s->commands; *pp; pp = &(*pp)->next) {
		struct control_command *cmd = *pp;

		if (!strcmp(cmd->name, command) && !cmd->builtin) {
			*pp = cmd->next;
			control_command_free(cmd);
			return;
		}
	}
}

int control_add_builtins(struct control_server *s)
{
	int ret = add_command(s, "help", "[COMMAND]  list the commands, or show one", builtin_help, s,
			      true);

	if (ret == 0)
		ret = add_command(s, "ping", "  check that the VM answers", builtin_ping, s, true);
	return ret;
}
