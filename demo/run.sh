#!/usr/bin/env bash
# The main job on the shipped demo: install packages, build, fuse the four
# agencies' demo data into demo/lagebild.sqlite, then serve it.
#   LAGEBILD_LISTEN=127.0.0.1:8080 (default) sets the address.
set -euo pipefail
cd "$(dirname "$0")/.."
bash .ci/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)"
./build/lagebild check --config demo/lagebild.yaml
./build/lagebild ingest --config demo/lagebild.yaml
listen=${LAGEBILD_LISTEN:-127.0.0.1:8080}
cat <<EOT

lagebild demo: serving on http://$listen  (Ctrl-C stops)

  Viewer (wall display):  http://$listen/view/lage?token=demo-lagezentrum&wall=1
  Viewer per role:        http://$listen/view/lage?token=TOKEN
  XYZ tiles:              http://$listen/maps/lage/{z}/{x}/{y}.png?token=TOKEN
  TileJSON:               http://$listen/maps/lage.json?token=TOKEN
  WMTS (QGIS, GDAL):      http://$listen/wmts?SERVICE=WMTS&REQUEST=GetCapabilities&token=TOKEN

  Demo tokens (demo only: each token is the principal's name):
    demo-police        Polizei (VS-NfD, group police)
    demo-fire          Feuerwehr / Katastrophenschutz (VS-NfD, group fire)
    demo-military      Bundeswehr (VS-VERTRAULICH, group military)
    demo-kritis        KRITIS-Betreiber (VS-NfD, group kritis, selected layers)
    demo-lagezentrum   Gemeinsames Lagezentrum (VS-VERTRAULICH, everything released to it)
    demo-landkreis     Krisenstab Landkreis (VS-NfD, only inside its area)
    demo-admin         operator: /metrics, /admin/phase, /admin/breakglass

EOT
exec ./build/lagebild serve --config demo/lagebild.yaml --listen "$listen"
