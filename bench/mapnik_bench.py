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

import sqlite3
import sys
import time
from xml.sax.saxutils import escape, quoteattr

from benchtiles import TILE, parse_args, read_tiles, run, tile_bounds

try:
    import mapnik
except ImportError as e:
    sys.exit(f"mapnik_bench: {e} (apt-get install python3-mapnik)")

COLOR = "#1f78b4"          # the uniform style (tests/test_mapserver_agreement.py)
LINE_WIDTH = 2.0
CIRCLE_DIAMETER = 8.0
BUFFER_PX = 32


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


def main():
    a = parse_args(__doc__)
    store = a.store
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

    title = f"mapnik_bench: Mapnik {mapnik.mapnik_version()}, {len(tiles)} tiles, {len(tables)} tables"
    return run("mapnik", title, "render", tiles, render, a)


if __name__ == "__main__":
    sys.exit(main())
