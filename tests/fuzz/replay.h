/* The replay side of the fuzz targets (FUZZ_STANDALONE builds, tests/fuzz/meson.build): each file
 * named on the command line is read whole and handed to the target's LLVMFuzzerTestOneInput. */
#ifndef HVKVM_FUZZ_REPLAY_H
#define HVKVM_FUZZ_REPLAY_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Replays argv[1..argc-1], printing "FILE: ok" for each; 0, or 1 if a file could not be read. */
int fuzz_replay_files(int argc, char **argv);

#endif
