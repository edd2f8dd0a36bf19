/* Replays fuzz inputs from files (see replay.h). */
#include "replay.h"

#include <stdio.h>
#include <stdlib.h>

int fuzz_replay_files(int argc, char **argv)
{
	int failed = 0;

	for (int i = 1; i < argc; i++) {
		FILE *fp = fopen(argv[i], "rb");
		uint8_t *buf;
		long n;

		if (!fp || fseek(fp, 0, SEEK_END) || (n = ftell(fp)) < 0 || fseek(fp, 0, SEEK_SET)) {
			perror(argv[i]);
			failed = 1;
			if (fp)
				fclose(fp);
			continue;
		}
		buf = malloc(n ? (size_t)n : 1);
		if (!buf || fread(buf, 1, (size_t)n, fp) != (size_t)n) {
			perror(argv[i]);
			failed = 1;
		} else {
			LLVMFuzzerTestOneInput(buf, (size_t)n);
			printf("%s: ok\n", argv[i]);
		}
		free(buf);
		fclose(fp);
	}
	return failed;
}
