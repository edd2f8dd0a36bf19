/* `hvkvm run` option parsing: defaults, every option, and bad values with their messages. */
#include <errno.h>
#include <string.h>

#include "src/options.h"
#include "src/size_parse.h"
#include "unit.h"

#define ARGV(...) ((char *[]){"run", __VA_ARGS__, NULL})
#define ARGC(...) ((int)(sizeof((char *[]){"run", __VA_ARGS__}) / sizeof(char *)))
#define PARSE(o, e, ...) options_parse_run(ARGC(__VA_ARGS__), ARGV(__VA_ARGS__), o, e)

static void expect_error(int ret, const struct error *err, const char *fragment)
{
	CHECK_EQ(ret, -EINVAL);
	CHECK(strstr(err->msg, fragment) != NULL);
	if (!strstr(err->msg, fragment))
		fprintf(stderr, "  message was: %s\n", err->msg);
}

static void test_defaults_and_values(void)
{
	struct run_options o;
	struct error err = {""};

	CHECK_EQ(PARSE(&o, &err, "--kernel", "k"), 0);
	CHECK(!strcmp(o.kernel, "k"));
	CHECK_EQ(o.memory, 512ULL << 20);
	CHECK_EQ(o.cpus, 1);
	CHECK(!strcmp(o.serial, "stdio"));
	CHECK_EQ(o.debug_exit_port, -1);
	CHECK_EQ(o.on_reboot, ON_REBOOT_RESTART);
	CHECK(o.initrd == NULL && o.cmdline == NULL);

	CHECK_EQ(PARSE(&o, &err, "--kernel", "k", "--initrd", "i", "--cmdline", "console=ttyS0",
		       "--memory", "4G", "--cpus", "4", "--serial", "file:/tmp/x", "--debug-exit",
		       "0xf4", "--on-reboot", "exit", "-v"), 0);
	CHECK(!strcmp(o.initrd, "i"));
	CHECK(!strcmp(o.cmdline, "console=ttyS0"));
	CHECK_EQ(o.memory, 4ULL << 30);
	CHECK_EQ(o.cpus, 4);
	CHECK(!strcmp(o.serial, "file:/tmp/x"));
	CHECK_EQ(o.debug_exit_port, 0xf4);
	CHECK_EQ(o.on_reboot, ON_REBOOT_EXIT);
	CHECK(o.verbose);

	CHECK_EQ(PARSE(&o, &err, "--kernel=k", "--memory=100", "--debug-exit=501"), 0);
	CHECK_EQ(o.memory, 100ULL << 20);
	CHECK_EQ(o.debug_exit_port, 501);
	CHECK_EQ(PARSE(&o, &err, "--kernel", "k", "--memory", "17M"), 0);
	CHECK_EQ(o.memory, 18ULL << 20); /* rounded up to 2 MiB */
	CHECK_EQ(PARSE(&o, &err, "--help"), 0);
	CHECK(o.help);
}

static void test_bad_values(void)
{
	struct run_options o;
	struct error err = {""};

	expect_error(PARSE(&o, &err, "--memory", "1G"), &err, "no kernel");
	expect_error(PARSE(&o, &err, "--kernel", "k", "--cpus", "0"), &err, "--cpus: '0'");
	expect_error(PARSE(&o, &err, "--kernel", "k", "--cpus", "256"), &err, "--cpus");
	expect_error(PARSE(&o, &err, "--kernel", "k", "--cpus", "-1"), &err, "--cpus");
	expect_error(PARSE(&o, &err, "--kernel", "k", "--cpus", "two"), &err, "--cpus");
	expect_error(PARSE(&o, &err, "--kernel", "k", "--memory", "lots"), &err, "--memory");
	expect_error(PARSE(&o, &err, "--kernel", "k", "--memory", "1X"), &err, "--memory");
	expect_error(PARSE(&o, &err, "--kernel", "k", "--memory", "1M"), &err, "minimum");
	expect_error(PARSE(&o, &err, "--kernel", "k", "--memory", "99999999999999G"), &err,
		     "--memory");
	expect_error(PARSE(&o, &err, "--kernel", "k", "--serial", "tcp:1"), &err, "--serial");
	expect_error(PARSE(&o, &err, "--kernel", "k", "--serial", "file:"), &err, "--serial");
	expect_error(PARSE(&o, &err, "--kernel", "k", "--debug-exit", "0x10000"), &err,
		     "--debug-exit");
	expect_error(PARSE(&o, &err, "--kernel", "k", "--on-reboot", "later"), &err,
		     "--on-reboot");
	expect_error(PARSE(&o, &err, "--kernel", "k", "--frobnicate"), &err,
		     "unknown option '--frobnicate'");
	expect_error(PARSE(&o, &err, "--kernel", "k", "-x"), &err, "unknown option '-x'");
	expect_error(PARSE(&o, &err, "--kernel"), &err, "needs a value");
	expect_error(PARSE(&o, &err, "--kernel", "k", "extra"), &err, "unexpected argument");
}

static void test_size_parse(void)
{
	uint64_t v;

	CHECK_EQ(size_parse("512M", &v), 0);
	CHECK_EQ(v, 512ULL << 20);
	CHECK_EQ(size_parse("2g", &v), 0);
	CHECK_EQ(v, 2ULL << 30);
	CHECK_EQ(size_parse("64KiB", &v), 0);
	CHECK_EQ(v, 64ULL << 10);
	CHECK_EQ(size_parse("1T", &v), 0);
	CHECK_EQ(v, 1ULL << 40);
	CHECK_EQ(size_parse("", &v), -EINVAL);
	CHECK_EQ(size_parse("M", &v), -EINVAL);
	CHECK_EQ(size_parse("12MB!", &v), -EINVAL);
	CHECK_EQ(size_parse("-5M", &v), -EINVAL);
	CHECK_EQ(size_parse("99999999999999999999", &v), -ERANGE);
	CHECK_EQ(size_parse("20000000T", &v), -ERANGE);
	CHECK_EQ(uint_parse("0x3f8", 0xffff, &v), 0);
	CHECK_EQ(v, 0x3f8);
	CHECK_EQ(uint_parse("65536", 0xffff, &v), -ERANGE);
	CHECK_EQ(uint_parse("12a", 0xffff, &v), -EINVAL);
	CHECK_EQ(uint_parse(" 1", 0xffff, &v), -EINVAL);
}

int main(void)
{
	test_defaults_and_values();
	test_bad_values();
	test_size_parse();
	return unit_done("test_options");
}
