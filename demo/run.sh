#!/usr/bin/env bash
# The main job on the shipped demo: install packages, build, fuse the four
# agencies' demo data into demo/lagebild.sqlite and print the fused store.
# (Once the tile server lands, this script starts it on the demo.)
set -euo pipefail
cd "$(dirname "$0")/.."
bash .ci/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)"
./build/lagebild check --config demo/lagebild.yaml
./build/lagebild ingest --config demo/lagebild.yaml
