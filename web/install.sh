#!/bin/sh
# Copies the vendor files the viewer needs out of node_modules/ into this
# flat folder (the server's /web/ route serves no subfolders).  Run by npm
# as the "postinstall" script of package.json; safe to run again.
set -eu
cd "$(dirname "$0")"
src=node_modules/leaflet/dist
if [ ! -f "$src/leaflet.js" ]; then
  echo "install.sh: $src/leaflet.js missing; run 'npm ci' in web/ first" >&2
  exit 1
fi
cp "$src/leaflet.js" leaflet.js
cp "$src/leaflet.css" leaflet.css
