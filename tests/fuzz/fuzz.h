/*
 * The libFuzzer entry point every target in tests/fuzz defines. Built two
 * ways: with clang -fsanitize=fuzzer (FAULTLINE_FUZZ, scripts/fuzz.sh) the
 * fuzzer's own main drives it; in every other build replay.c's main runs it
 * once per file of the target's corpus (ctest labels fuzz and unit), so each
 * seed and each crash ever found is a regression test, also under ASan.
 */
#ifndef FAULTLINE_FUZZ_H
#define FAULTLINE_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
