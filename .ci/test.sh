#!/usr/bin/env bash
# The test command: install packages, build (normal and ASan+UBSan), run every test;
# then fuzz for a bounded time (LB_FUZZ build with clang + libFuzzer).
set -euo pipefail
cd "$(dirname "$0")/.."
bash .ci/deps.sh
jobs=$(nproc)
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$jobs"
ctest --test-dir build --output-on-failure -j"$jobs"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DLB_SANITIZE=ON >/dev/null
cmake --build build-asan -j"$jobs"
ctest --test-dir build-asan --output-on-failure -j"$jobs"
# libFuzzer targets (tests/fuzz): clang, ASan+UBSan, each fuzzed for
# LB_FUZZ_SECONDS (30) from its seed corpus; only the fuzz-labelled tests.
CC=clang cmake -S . -B build-fuzz -DLB_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build-fuzz -j"$jobs"
ctest --test-dir build-fuzz -L fuzz --output-on-failure
