/* Unit tests for `--hyperv` feature parsing: every name, off/on, removals, replacement lists,
 * dependencies, unknown and unprovided names, formatting. */
#include <string.h>

#include "hv-enlight/hv.h"
#include "unit.h"

#define B(f) HV_FEATURE_BIT(HV_FEAT_##f)

static int parse(const char *spec, uint32_t *set, struct error *err)
{
	memset(err, 0, sizeof(*err));
	return hv_features_parse(spec, set, err);
}

static void expect_error(const char *spec, const char *needle)
{
	struct error err;
	uint32_t set = 0x5a5a;

	CHECK(parse(spec, &set, &err) < 0);
	CHECK_EQ(set, 0x5a5a); /* untouched on error */
	if (!strstr(err.msg, needle)) {
		unit_failures++;
		fprintf(stderr, "'%s': error '%s' lacks '%s'\n", spec, err.msg, needle);
	}
	unit_checks++;
}

static void test_off_on(void)
{
	struct error err;
	uint32_t set = 1;

	CHECK_EQ(parse("off", &set, &err), 0);
	CHECK_EQ(set, 0);
	CHECK_EQ(parse("on", &set, &err), 0);
	CHECK_EQ(set, hv_features_default());
	/* The default: everything hvkvm provides except PV IPIs and synthetic timers (slower than
	 * the in-kernel APIC IPIs and LAPIC timer here) and the invariant-TSC control (Linux would
	 * then prefer the TSC to the reference TSC page). */
	CHECK_EQ(hv_features_default(), B(RELAXED) | B(VPINDEX) | B(RUNTIME) | B(TIME) | B(SYNIC) |
		 B(CRASH) | B(RESET) | B(FREQUENCIES) | B(VAPIC) | B(IDLE));
	expect_error("", "empty");
}

static void test_every_name(void)
{
	static const struct {
		const char *name;
		uint32_t bit, needs;
	} names[] = {
		{ "relaxed", B(RELAXED), 0 },
		{ "vpindex", B(VPINDEX), 0 },
		{ "runtime", B(RUNTIME), 0 },
		{ "time", B(TIME), 0 },
		{ "synic", B(SYNIC), 0 },
		{ "stimer", B(STIMER), B(SYNIC) | B(TIME) },
		{ "stimer-direct", B(STIMER_DIRECT), B(STIMER) | B(SYNIC) | B(TIME) },
		{ "crash", B(CRASH), 0 },
		{ "reset", B(RESET), 0 },
		{ "frequencies", B(FREQUENCIES), 0 },
		{ "vapic", B(VAPIC), 0 },
		{ "ipi", B(IPI), 0 },
		{ "idle", B(IDLE), 0 },
		{ "tsc-invariant", B(TSC_INVARIANT), 0 },
	};
	char spec[128], buf[256];
	struct error err;
	uint32_t set;

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		uint32_t want = names[i].bit | names[i].needs | B(VPINDEX);
		char deps[64];

		hv_features_format(want, deps, sizeof(deps));
		snprintf(spec, sizeof(spec), "%s", deps);
		CHECK_EQ(parse(spec, &set, &err), 0);
		CHECK_EQ(set, want);
		/* format and parse round-trip */
		CHECK_EQ(parse(hv_features_format(set, buf, sizeof(buf)), &set, &err), 0);
		CHECK_EQ(set, want);
	}
	CHECK_EQ(parse("vpindex,ipi", &set, &err), 0);
	CHECK_EQ(set, B(VPINDEX) | B(IPI));
	CHECK_EQ(parse("vpindex,vpindex", &set, &err), 0);
	CHECK_EQ(set, B(VPINDEX));
}

static void test_removals(void)
{
	struct error err;
	uint32_t set;

	CHECK_EQ(parse("-relaxed", &set, &err), 0);
	CHECK_EQ(set, hv_features_default() & ~B(RELAXED));
	CHECK_EQ(parse("-crash,-idle", &set, &err), 0);
	CHECK_EQ(set, hv_features_default() & ~(B(IDLE) | B(CRASH)));
	CHECK_EQ(parse("+stimer,+stimer-direct", &set, &err), 0);
	CHECK_EQ(set, hv_features_default() | B(STIMER) | B(STIMER_DIRECT));
	CHECK_EQ(parse("+ipi,-crash", &set, &err), 0);
	CHECK_EQ(set, (hv_features_default() | B(IPI)) & ~B(CRASH));
	CHECK_EQ(parse("-synic", &set, &err), 0);
	CHECK_EQ(set, hv_features_default() & ~B(SYNIC));
	CHECK_EQ(parse("-ipi", &set, &err), 0); /* not in the default: no-op */
	CHECK_EQ(set, hv_features_default());
	CHECK_EQ(parse("-tlbflush", &set, &err), 0);
	CHECK_EQ(set, hv_features_default());
	expect_error("+stimer,-synic", "Hyper-V feature 'stimer' needs 'synic'");
	expect_error("+stimer,-time", "Hyper-V feature 'stimer' needs 'time'");
	expect_error("+stimer-direct", "Hyper-V feature 'stimer-direct' needs 'stimer'");
	expect_error("+tlbflush", "not provided by hvkvm");
	expect_error("-vpindex", "needs 'vpindex'");
	expect_error("relaxed,-crash", "mixes");
}

static void test_dependencies(void)
{
	expect_error("relaxed", "needs 'vpindex'");
	expect_error("time,runtime", "needs 'vpindex'");
	expect_error("vpindex,stimer", "Hyper-V feature 'stimer' needs 'time'");
	expect_error("vpindex,time,stimer", "Hyper-V feature 'stimer' needs 'synic'");
	expect_error("vpindex,time,synic,stimer-direct",
		     "Hyper-V feature 'stimer-direct' needs 'stimer'");
	expect_error("ipi", "needs 'vpindex'");
	expect_error("vpindex,tlbflush", "Hyper-V feature 'tlbflush' is not provided by hvkvm");
	expect_error("tlbflush", "not provided by hvkvm");
}

static void test_unknown(void)
{
	expect_error("vpindex,bogus", "unknown Hyper-V feature 'bogus' (known: relaxed, vpindex");
	expect_error("-bogus", "unknown Hyper-V feature 'bogus'");
	expect_error("vpindex,,time", "empty name");
	expect_error("vpindex,", "empty name");
	expect_error("-", "empty name");
	expect_error("ON", "unknown Hyper-V feature 'ON'");
	expect_error("on,relaxed", "unknown Hyper-V feature 'on'");
	expect_error("Relaxed", "unknown");
}

static void test_format(void)
{
	char buf[256], small[10];

	CHECK(strcmp(hv_features_format(0, buf, sizeof(buf)), "off") == 0);
	CHECK(strcmp(hv_features_format(B(VPINDEX) | B(RELAXED), buf, sizeof(buf)),
		     "relaxed,vpindex") == 0);
	CHECK(strcmp(hv_features_format(B(STIMER_DIRECT) | B(TSC_INVARIANT), buf, sizeof(buf)),
		     "stimer-direct,tsc-invariant") == 0);
	/* Truncation stops at a whole name and stays terminated. */
	CHECK(strcmp(hv_features_format(B(RELAXED) | B(VPINDEX), small, sizeof(small)),
		     "relaxed") == 0);
}

int main(void)
{
	test_off_on();
	test_every_name();
	test_removals();
	test_dependencies();
	test_unknown();
	test_format();
	return unit_done("test_hv_features");
}
