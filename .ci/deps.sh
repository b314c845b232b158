#!/usr/bin/env bash
# Installs the Debian 12 packages lagebild needs to build, run and test.
# Idempotent: skips apt entirely when everything is already installed.
set -euo pipefail
PKGS=(
  build-essential cmake pkg-config clang libclang-rt-14-dev valgrind
  libgdal-dev gdal-bin libproj-dev proj-data proj-bin
  libspatialite-dev libsqlite3-mod-spatialite libsqlite3-dev sqlite3
  libpng-dev libdeflate-dev libcivetweb-dev libfyaml-dev libssl-dev
  python3-gdal python3-numpy python3-mapscript mapserver-bin python3-owslib
  chromium
)
# The viewer (web/) takes Leaflet from the npm registry: Debian's Node.js and
# npm only where no npm is installed yet (a machine may have its own Node.js).
command -v npm >/dev/null 2>&1 || PKGS+=(nodejs npm)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
# The viewer's vendor files: web/leaflet.js and web/leaflet.css, copied out of
# web/node_modules/ by the postinstall script of web/package.json.
web="$(cd "$(dirname "$0")/.." && pwd)/web"
if [ ! -f "$web/leaflet.js" ] || [ ! -f "$web/leaflet.css" ]; then
  (cd "$web" && npm ci --no-audit --no-fund)
fi
