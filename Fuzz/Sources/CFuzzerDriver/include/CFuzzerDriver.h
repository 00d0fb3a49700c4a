#ifndef WEBSOCKETS_CFUZZERDRIVER_H
#define WEBSOCKETS_CFUZZERDRIVER_H

#include <stddef.h>
#include <stdint.h>

/// libFuzzer's entry point for programs that have their own `main` (compiler-rt, FuzzerDriver.cpp;
/// linked by `-sanitize=fuzzer`). SwiftPM links every Swift executable with its own `main` (the
/// module's top-level code), so the fuzz targets call this from main.swift instead of using the
/// `main` in libFuzzer.
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));

#endif
