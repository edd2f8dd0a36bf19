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

/* --disk, --net, --name, --control. */
static void test_devices(void)
{
	struct run_options o;
	struct error err = {""};
	uint8_t mac[6], mac2[6];

	CHECK_EQ(PARSE(&o, &err, "--kernel", "k", "--disk", "a.img", "--disk",
		       "b.img,readonly,cache=writeback,lun=7", "--disk", "c.img,controller=1",
		       "--disk", "d.img"), 0);
	CHECK_EQ(o.ndisks, 4);
	CHECK(!strcmp(o.disks[0].path, "a.img") && o.disks[0].lun == 0 && !o.disks[0].readonly);
	CHECK_EQ(o.disks[0].cache, BLOCK_CACHE_NONE);
	CHECK(o.disks[1].readonly && o.disks[1].lun == 7);
	CHECK_EQ(o.disks[1].cache, BLOCK_CACHE_WRITEBACK);
	CHECK(o.disks[2].controller == 1 && o.disks[2].lun == 0); /* its own controller's LUN 0 */
	CHECK_EQ(o.disks[3].lun, 1);                            /* next free on controller 0 */

	expect_error(PARSE(&o, &err, "--kernel", "k", "--disk", ",readonly"), &err, "no file name");
	expect_error(PARSE(&o, &err, "--kernel", "k", "--disk", "a,lun=64"), &err, "lun takes 0-63");
	expect_error(PARSE(&o, &err, "--kernel", "k", "--disk", "a,lun=-1"), &err, "lun takes");
	expect_error(PARSE(&o, &err, "--kernel", "k", "--disk", "a,controller=4"), &err,
		     "controller takes 0-3");
	expect_error(PARSE(&o, &err, "--kernel", "k", "--disk", "a,cache=sometimes"), &err,
		     "cache takes none or writeback");
	expect_error(PARSE(&o, &err, "--kernel", "k", "--disk", "a,bus=ide"), &err,
		     "bus=ide is not supported");
	expect_error(PARSE(&o, &err, "--kernel", "k", "--disk", "a,lun=2", "--disk", "b,lun=2"),
		     &err, "both on controller 0 LUN 2");
	expect_error(PARSE(&o, &err, "--kernel", "k", "--hyperv", "off", "--net", "tap=t0"), &err,
		     "--net needs Hyper-V");

	CHECK_EQ(PARSE(&o, &err, "--kernel", "k", "--net", "tap=t0", "--net",
		       "tap=t1,mac=52:54:00:12:34:56,mtu=9000", "--name", "vm-1"), 0);
	CHECK_EQ(o.nnics, 2);
	CHECK(!strcmp(o.nics[0].tap, "t0") && !o.nics[0].has_mac && o.nics[0].mtu == 0);
	CHECK(o.nics[1].has_mac && o.nics[1].mac[0] == 0x52 && o.nics[1].mac[5] == 0x56);
	CHECK_EQ(o.nics[1].mtu, 9000);
	CHECK(!strcmp(o.name, "vm-1"));
	expect_error(PARSE(&o, &err, "--kernel", "k", "--net", "mtu=1500"), &err, "no tap=NAME");
	expect_error(PARSE(&o, &err, "--kernel", "k", "--net", "tap=0123456789abcdef"), &err,
		     "1-15 characters");
	expect_error(PARSE(&o, &err, "--kernel", "k", "--net", "tap=t,mac=01:00:00:00:00:00"),
		     &err, "unicast");
	expect_error(PARSE(&o, &err, "--kernel", "k", "--net", "tap=t,mac=52:54:00:12:34"), &err,
		     "unicast");
	expect_error(PARSE(&o, &err, "--kernel", "k", "--net", "tap=t,mtu=67"), &err, "68-65521");
	expect_error(PARSE(&o, &err, "--kernel", "k", "--name", "../x"), &err, "VM name");

	/* Derived MACs: stable, locally administered unicast, different per index and name. */
	net_mac_derive("vm-1", 0, mac);
	net_mac_derive("vm-1", 0, mac2);
	CHECK(!memcmp(mac, mac2, 6));
	CHECK_EQ(mac[0], 0x02);
	net_mac_derive("vm-1", 1, mac2);
	CHECK(memcmp(mac, mac2, 6) != 0);
	net_mac_derive("vm-2", 0, mac2);
	CHECK(memcmp(mac, mac2, 6) != 0);
}

int main(void)
{
	test_defaults_and_values();
	test_bad_values();
	test_size_parse();
	test_devices();
	return unit_done("test_options");
}
