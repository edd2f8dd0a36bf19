/* Linux guest benchmark (static, in bench/hv/run.sh's inner initramfs): clock_gettime through the
 * vDSO and the syscall under the guest's clocksource, and how late a short sleep wakes up. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define READ_BATCH 1000
#define READ_SECONDS 1
#define SLEEP_US 100
#define SLEEPS 300
#define MAX_SAMPLES 4096

static uint64_t samples[MAX_SAMPLES];

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* "clock-bench: NAME n=N mean=.. median=.. p90=.. min=.. ns" over v[0..n), each divided by div. */
static void report(const char *name, uint64_t *v, unsigned n, unsigned div)
{
	uint64_t sum = 0;

	qsort(v, n, sizeof(v[0]), cmp);
	for (unsigned i = 0; i < n; i++)
		sum += v[i];
	printf("clock-bench: %s n=%u mean=%llu median=%llu p90=%llu min=%llu ns\n", name, n * div,
	       (unsigned long long)(sum / n / div), (unsigned long long)(v[n / 2] / div),
	       (unsigned long long)(v[n * 9 / 10] / div), (unsigned long long)(v[0] / div));
	fflush(stdout);
}

static void vdso_read(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
}

static void syscall_read(void)
{
	struct timespec ts;

	syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &ts);
}

/* Batches of READ_BATCH reads for about READ_SECONDS. */
static void bench_read(const char *name, void (*read)(void))
{
	uint64_t end = now_ns() + READ_SECONDS * 1000000000ull;
	unsigned n = 0;

	for (unsigned i = 0; i < READ_BATCH; i++) /* warm-up */
		read();
	while (n < MAX_SAMPLES) {
		uint64_t t0 = now_ns();

		for (unsigned i = 0; i < READ_BATCH; i++)
			read();
		samples[n++] = now_ns() - t0;
		if (samples[n - 1] + t0 > end)
			break;
	}
	report(name, samples, n, READ_BATCH);
}

/* SLEEPS relative sleeps of SLEEP_US: how much later than asked each one returns. */
static void bench_sleep(void)
{
	const struct timespec req = {0, SLEEP_US * 1000};
	char name[64];

	for (unsigned i = 0; i < SLEEPS; i++) {
		uint64_t t0 = now_ns(), took;

		clock_nanosleep(CLOCK_MONOTONIC, 0, &req, NULL);
		took = now_ns() - t0;
		samples[i] = took > SLEEP_US * 1000u ? took - SLEEP_US * 1000u : 0;
	}
	snprintf(name, sizeof(name), "sleep-%uus-late", SLEEP_US);
	report(name, samples, SLEEPS, 1);
}

int main(void)
{
	bench_read("clock_gettime-vdso", vdso_read);
	bench_read("clock_gettime-syscall", syscall_read);
	bench_sleep();
	return 0;
}
