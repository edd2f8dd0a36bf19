/* Test guest: how the VMM dispatches accesses nobody handles and a few simple ones it does: an
 * unclaimed port, port 0x80, the CMOS RTC, the PM timer, unbacked MMIO, PCI configuration. */
#include "acpi.h"
#include "guest.h"
#include "io.h"
#include "multiboot.h"
#include "power.h"
#include "timer.h"

/* Cmdline: port=<an unclaimed port> and mmio=<an unbacked address> override the defaults;
 * unbacked=<value> is what a 32-bit read of unbacked MMIO should give (default all ones, what a
 * PC's bus returns; QEMU's TCG answers 0). */
#define DEFAULT_UNCLAIMED_PORT 0x100
#define DEFAULT_UNBACKED_MMIO 0xd0000000ull
#define PCI_CONFIG_ADDRESS 0xcf8
#define PCI_CONFIG_DATA 0xcfc
#define PCI_ENABLE 0x80000000u
#define PCI_ABSENT_SLOT 31

#define RTC_INDEX 0x70
#define RTC_DATA 0x71
#define RTC_SECONDS 0x00
#define RTC_MINUTES 0x02
#define RTC_HOURS 0x04
#define RTC_DAY 0x07
#define RTC_MONTH 0x08
#define RTC_YEAR 0x09
#define RTC_REG_A 0x0a
#define RTC_REG_B 0x0b
#define RTC_REG_D 0x0d
#define RTC_CENTURY_DEFAULT 0x32
#define REG_A_UIP 0x80
#define REG_B_24H 0x02
#define REG_B_BINARY 0x04
#define REG_D_VRT 0x80

const char test_name[] = "io_dispatch";

static void unclaimed_port(void)
{
	uint16_t port = (uint16_t)cmdline_int("port", DEFAULT_UNCLAIMED_PORT);
	uint8_t b = inb(port);
	uint16_t w = inw(port);
	uint32_t l = inl(port);

	check(b == 0xff, "8-bit read of unclaimed port %#x is 0xff (%#x)", port, b);
	check(w == 0xffff, "16-bit read of unclaimed port %#x is 0xffff (%#x)", port, w);
	check(l == 0xffffffffu, "32-bit read of unclaimed port %#x is all ones (%#x)", port, l);
	outb(port, 0x12);
	outw(port, 0x1234);
	outl(port, 0x12345678);
	check(inb(port) == 0xff, "writes to an unclaimed port are dropped");
	for (unsigned i = 0; i < 256; i++)
		outb(0x80, (uint8_t)i);
	check(true, "256 writes to port 0x80");
}

static uint8_t cmos_read(uint8_t reg)
{
	outb(RTC_INDEX, reg);
	return inb(RTC_DATA);
}

static bool bcd_ok(uint8_t v)
{
	return (v & 0x0f) <= 9 && (v >> 4) <= 9;
}

static unsigned from_bcd(uint8_t v)
{
	return (v >> 4) * 10u + (v & 0x0f);
}

struct rtc_time {
	uint8_t sec, min, hour, day, month, year, century;
};

/* Reads all fields outside an update cycle, twice until they agree. */
static bool rtc_read(struct rtc_time *t, uint8_t century_reg)
{
	struct rtc_time again;

	for (int tries = 0; tries < 10; tries++) {
		uint64_t deadline = timer_now_us() + 20000;

		while ((cmos_read(RTC_REG_A) & REG_A_UIP) && timer_now_us() < deadline)
			cpu_relax();
		t->sec = cmos_read(RTC_SECONDS);
		t->min = cmos_read(RTC_MINUTES);
		t->hour = cmos_read(RTC_HOURS);
		t->day = cmos_read(RTC_DAY);
		t->month = cmos_read(RTC_MONTH);
		t->year = cmos_read(RTC_YEAR);
		t->century = cmos_read(century_reg);
		again.sec = cmos_read(RTC_SECONDS);
		again.min = cmos_read(RTC_MINUTES);
		if (again.sec == t->sec && again.min == t->min)
			return true;
	}
	return false;
}

static void rtc(void)
{
	uint8_t century_reg = power_pm()->century ? power_pm()->century : RTC_CENTURY_DEFAULT;
	uint8_t b = cmos_read(RTC_REG_B), d = cmos_read(RTC_REG_D);
	struct rtc_time t;

	con_printf("rtc: register B %#x, D %#x, century at %#x\n", b, d, century_reg);
	check(d & REG_D_VRT, "RTC register D says time and RAM are valid");
	check(!(b & REG_B_BINARY) && (b & REG_B_24H), "RTC runs in BCD, 24-hour mode");
	if (!check(rtc_read(&t, century_reg), "RTC read outside an update cycle"))
		return;
	bool valid = bcd_ok(t.sec) && bcd_ok(t.min) && bcd_ok(t.hour) && bcd_ok(t.day) && bcd_ok(t.month) &&
		     bcd_ok(t.year) && bcd_ok(t.century);
	unsigned sec = from_bcd(t.sec), min = from_bcd(t.min), hour = from_bcd(t.hour);
	unsigned day = from_bcd(t.day), month = from_bcd(t.month);
	unsigned year = from_bcd(t.century) * 100 + from_bcd(t.year);

	check(valid, "RTC fields are valid BCD (%02x:%02x:%02x %02x/%02x/%02x%02x)", t.hour, t.min, t.sec,
	      t.day, t.month, t.century, t.year);
	check(sec < 60 && min < 60 && hour < 24 && day >= 1 && day <= 31 && month >= 1 && month <= 12,
	      "RTC fields are in range");
	check(year >= 2024 && year < 2100, "RTC year %u >= 2024", year);
	con_printf("rtc: %04u-%02u-%02u %02u:%02u:%02u\n", year, month, day, hour, min, sec);

	/* The seconds register ticks within ~1 s; the PM timer counts about a second meanwhile. */
	uint64_t start = timer_now_us(), t0 = 0, t1 = 0;
	uint8_t s = t.sec;
	int edges = 0;

	while (edges < 2 && timer_now_us() - start < 2500000) {
		uint8_t now = cmos_read(RTC_SECONDS);

		if (now != s) {
			s = now;
			if (edges++ == 0)
				t0 = timer_now_us();
			else
				t1 = timer_now_us();
		}
	}
	if (check(edges == 2, "RTC seconds advance (%d changes in 2.5 s)", edges) && timer_has_pm())
		check(t1 - t0 > 900000 && t1 - t0 < 1100000,
		      "one RTC second is 1 s of PM timer (%lu us)", t1 - t0);
}

static void pm_timer(void)
{
	const struct acpi_pm *pm = power_pm();
	uint32_t a, b;
	unsigned changes = 0;

	if (!check(pm->pm_tmr != 0, "FADT names the PM timer (port %#x, %s)", pm->pm_tmr,
		   pm->tmr_32bit ? "32-bit" : "24-bit"))
		return;
	a = timer_read_raw();
	for (int i = 0; i < 1000; i++) {
		b = timer_read_raw();
		changes += b != a;
		a = b;
	}
	check(changes > 0, "PM timer advances (%u changes in 1000 reads)", changes);
	uint64_t t = timer_now_us(), tsc = rdtsc();

	udelay(50000);
	t = timer_now_us() - t;
	tsc = rdtsc() - tsc;
	con_printf("pm timer: %lu us of PM timer took %lu TSC ticks (~%lu MHz)\n", t, tsc,
		   t ? tsc / t : 0);
}

static void unbacked_mmio(void)
{
	uint64_t addr = (uint64_t)cmdline_int("mmio", (long)DEFAULT_UNBACKED_MMIO);
	uint32_t want = (uint32_t)cmdline_int("unbacked", 0xffffffffl);
	uint32_t l = mmio_read32(addr);
	uint8_t b = mmio_read8(addr + 1);

	check(l == want, "32-bit read of unbacked MMIO %#lx is %#x (%#x)", addr, want, l);
	check(b == (uint8_t)want, "8-bit read of unbacked MMIO is %#x (%#x)", want & 0xff, b);
	mmio_write32(addr, 0x12345678);
	l = mmio_read32(addr);
	check(l == want, "a write to unbacked MMIO is dropped (%#x after)", l);
}

static uint32_t pci_read(unsigned bus, unsigned dev, unsigned fn, unsigned reg)
{
	outl(PCI_CONFIG_ADDRESS, PCI_ENABLE | bus << 16 | dev << 11 | fn << 8 | (reg & 0xfc));
	return inl(PCI_CONFIG_DATA);
}

static void pci_config(void)
{
	uint32_t id0 = pci_read(0, 0, 0, 0), absent = pci_read(0, PCI_ABSENT_SLOT, 0, 0);
	uint32_t far = pci_read(255, 31, 7, 0);

	outl(PCI_CONFIG_ADDRESS, 0);
	con_printf("pci: 00:00.0 vendor/device %#010x\n", id0);
	check(absent == 0xffffffffu, "config read of absent 00:%02x.0 is all ones (%#x)", PCI_ABSENT_SLOT,
	      absent);
	check(far == 0xffffffffu, "config read of absent ff:1f.7 is all ones (%#x)", far);
}

void test_main(void)
{
	unclaimed_port();
	rtc();
	pm_timer();
	unbacked_mmio();
	pci_config();
}
