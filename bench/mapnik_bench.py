#!/usr/bin/python3
"""Mapnik tile rendering benchmark (bench/tile_bench.sh).

    mapnik_bench.py --store FILE --layers A,B,... --tiles FILE [--label TEXT]
                    [--png-level N] [--out DIR]

Renders every tile of the tile list (one per line: "z x y scale"; WebMercatorQuad
XYZ numbering; scale 2 = 512 px @2x, rendered with scale_factor 2) from the
lagebild SpatiaLite store, one at a time in this process: one Mapnik layer per
store table (sqlite input plugin, SpatiaLite WKB, the store's R*Tree as
spatial index), bottom to top in the order given, with the uniform style of
the agreement test, rules filtered by geometry type: opaque fill + 2 px
outline for polygons, 2 px round lines, circles of 8 px diameter.  The map's
buffer-size (32 px) makes features just outside the tile contribute, like
lagebild's query margin.  Output is an RGBA PNG ("png32", zlib level
--png-level, default 2 like lagebild) kept in memory.

Times per tile (monotonic clock): mapnik.render and encode (Image.tostring)
separately.  The first tile is rendered once untimed beforehand (it opens the
data sources), as lagebild's snapshot build is not timed either.

Prints median/p95 ms and a machine-readable line "TILEBENCH tool=mapnik ...".
"""

import argparse
import os
import resource
import sqlite3
import statistics
import sys
import time
from xml.sax.saxutils import escape, quoteattr

try:
    import mapnik
except ImportError as e:
    sys.exit(f"mapnik_bench: {e} (apt-get install python3-mapnik)")

COLOR = "#1f78b4"          # the uniform style (tests/test_mapserver_agreement.py)
LINE_WIDTH = 2.0
CIRCLE_DIAMETER = 8.0
BUFFER_PX = 32
ORIGIN = 20037508.3427892  # WebMercatorQuad
TILE = 256


def tile_bounds(z, x, y):
    span = 2 * ORIGIN / (1 << z)
    minx = -ORIGIN + x * span
    maxy = ORIGIN - y * span
    return minx, maxy - span, minx + span, maxy


def read_tiles(path):
    tiles = []
    with open(path, encoding="ascii") as f:
        for n, line in enumerate(f, 1):
            line = line.split("#")[0].strip()
            if not line:
                continue
            try:
                z, x, y, s = (int(v) for v in line.split())
            except ValueError:
                sys.exit(f"{path}:{n}: expected 'z x y scale'")
            if s not in (1, 2):
                sys.exit(f"{path}:{n}: scale must be 1 or 2")
            tiles.append((z, x, y, s))
    if not tiles:
        sys.exit(f"{path}: no tiles")
    return tiles


def map_xml(store, tables):
    line = (f'<LineSymbolizer stroke="{COLOR}" stroke-width="{LINE_WIDTH:g}" '
            'stroke-linecap="round" stroke-linejoin="round"/>')
    out = [f"""<Map srs="epsg:3857" background-color="transparent" buffer-size="{BUFFER_PX}">
  <Style name="uniform">
    <Rule>
      <Filter>[mapnik::geometry_type]=polygon</Filter>
      <PolygonSymbolizer fill="{COLOR}" gamma="1"/>
      {line}
    </Rule>
    <Rule>
      <Filter>[mapnik::geometry_type]=linestring</Filter>
      {line}
    </Rule>
    <Rule>
      <Filter>[mapnik::geometry_type]=point</Filter>
      <MarkersSymbolizer fill="{COLOR}" width="{CIRCLE_DIAMETER:g}" height="{CIRCLE_DIAMETER:g}"
        stroke-width="0" allow-overlap="true" ignore-placement="true" placement="point"/>
    </Rule>
  </Style>
"""]
    db = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
    for t in tables:
        # key_field must be the table's INTEGER PRIMARY KEY (the rowid, which
        # the R*Tree's pkid refers to); read from the schema, so that a store
        # of another layout fails loudly instead of matching nothing
        keys = [r[1] for r in db.execute(f'PRAGMA table_info("{t}")') if r[5] == 1]
        if len(keys) != 1:
            sys.exit(f"mapnik_bench: table {t} has no single-column primary key")
        params = {"type": "sqlite", "file": store, "table": t, "geometry_field": "geom",
                  "key_field": keys[0], "wkb_format": "spatialite", "use_spatial_index": "true"}
        ps = "".join(f"<Parameter name={quoteattr(k)}>{escape(v)}</Parameter>"
                     for k, v in params.items())
        out.append(f'  <Layer name={quoteattr(t)} srs="epsg:4326">'
                   f"<StyleName>uniform</StyleName><Datasource>{ps}</Datasource></Layer>\n")
    db.close()
    out.append("</Map>\n")
    return "".join(out)


def percentile(v, p):
    v = sorted(v)
    r = p / 100 * (len(v) - 1)
    i = int(r)
    return v[-1] if i + 1 >= len(v) else v[i] + (r - i) * (v[i + 1] - v[i])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--store", required=True)
    ap.add_argument("--layers", required=True, help="store tables, bottom first, comma-separated")
    ap.add_argument("--tiles", required=True)
    ap.add_argument("--label", default="-")
    ap.add_argument("--png-level", type=int, default=2)
    ap.add_argument("--out", help="also write the tiles to DIR/z_x_y_scale.png")
    a = ap.parse_args()
    store = os.path.abspath(a.store)
    tiles = read_tiles(a.tiles)
    tables = [t for t in a.layers.split(",") if t]
    m = mapnik.Map(TILE, TILE)
    mapnik.load_map_from_string(m, map_xml(store, tables))
    fmt = f"png32:z={a.png_level}"

    def render(z, x, y, s):
        px = TILE * s
        if m.width != px:
            m.resize(px, px)
        m.zoom_to_box(mapnik.Box2d(*tile_bounds(z, x, y)))
        im = mapnik.Image(px, px)
        t0 = time.perf_counter()
        mapnik.render(m, im, float(s))
        t1 = time.perf_counter()
        png = im.tostring(fmt)
        t2 = time.perf_counter()
        return png, (t1 - t0) * 1e3, (t2 - t1) * 1e3

    render(*tiles[0])  # warm-up: open the data sources
    t_draw, t_enc, t_tot = [], [], []
    nbytes = 0
    for z, x, y, s in tiles:
        png, d, e = render(z, x, y, s)
        t_draw.append(d)
        t_enc.append(e)
        t_tot.append(d + e)
        nbytes += len(png)
        if a.out:
            with open(os.path.join(a.out, f"{z}_{x}_{y}_{s}.png"), "wb") as f:
                f.write(png)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    share = sum(t_enc) / sum(t_tot) if sum(t_tot) > 0 else 0
    print(f"mapnik_bench: Mapnik {mapnik.mapnik_version()}, {len(tiles)} tiles, {len(tables)} "
          f"tables, {nbytes / len(tiles) / 1024:.1f} kB PNG on average")
    print(f"{'ms':<8} {'median':>10} {'p95':>10} {'mean':>10} {'max':>10}")
    for name, v in (("render", t_draw), ("encode", t_enc), ("total", t_tot)):
        print(f"{name:<8} {statistics.median(v):>10.3f} {percentile(v, 95):>10.3f} "
              f"{statistics.fmean(v):>10.3f} {max(v):>10.3f}")
    print(f"TILEBENCH tool=mapnik label={a.label} tiles={len(tiles)} "
          f"median_ms={statistics.median(t_tot):.4f} p95_ms={percentile(t_tot, 95):.4f} "
          f"mean_ms={statistics.fmean(t_tot):.4f} "
          f"render_median_ms={statistics.median(t_draw):.4f} "
          f"encode_median_ms={statistics.median(t_enc):.4f} encode_share={share:.4f} "
          f"vmhwm_kb={rss}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
