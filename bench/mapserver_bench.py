#!/usr/bin/python3
"""MapServer (mapscript, AGG) tile rendering benchmark (bench/tile_bench.sh).

    mapserver_bench.py --store FILE --layers A,B,... --tiles FILE [--label TEXT]
                       [--png-level N] [--out DIR]

Renders every tile of the tile list (one per line: "z x y scale"; WebMercatorQuad
XYZ numbering; scale 2 = 512 px @2x) from the lagebild SpatiaLite store, one at a
time in this process: one MapServer layer per store table and geometry family
(CONNECTIONTYPE OGR on the sqlite file, R*Tree spatial filter; tables holding
several families are split with an OGR native attribute filter on
GeometryType(geom)), drawn bottom to top in the order given, with the uniform
style of the agreement test: opaque fill + 2 px outline for polygons, 2 px
round lines, circles of 8 px diameter; all sizes doubled for @2x.  Output is
an RGBA PNG (AGG/PNG, zlib level --png-level, default 2 like lagebild) kept in
memory.

Times per tile (monotonic clock): draw (msDrawMap) and encode (getBytes)
separately.  The first tile is rendered once untimed beforehand (it opens the
OGR connections, which stay open: CLOSE_CONNECTION=DEFER), as lagebild's
snapshot build is not timed either.  MapServer renders exactly the tile
extent (no meta-buffer), its usual behaviour for a WMS/tile request; markers
of features just outside the tile are therefore not drawn (lagebild and
Mapnik draw them).

Prints median/p95 ms and a machine-readable line "TILEBENCH tool=mapserver ...".
"""

import sys
import time

try:
    import mapscript
    from osgeo import ogr
except ImportError as e:
    sys.exit(f"mapserver_bench: {e} (apt-get install python3-mapscript python3-gdal)")

from benchtiles import TILE, parse_args, read_tiles, run, tile_bounds

ogr.UseExceptions()

COLOR = (31, 120, 180)     # the uniform style (tests/test_mapserver_agreement.py)
LINE_WIDTH = 2.0
CIRCLE_DIAMETER = 8.0


FAMILIES = (("point", "POINT", "'POINT','MULTIPOINT'"),
            ("line", "LINE", "'LINESTRING','MULTILINESTRING'"),
            ("polygon", "POLYGON", "'POLYGON','MULTIPOLYGON'"))


def families_of(store, table):
    ds = ogr.Open(store)
    lyr = ds.ExecuteSQL(f'SELECT DISTINCT GeometryType(geom) AS t FROM "{table}"')
    present = {f.GetField(0) for f in lyr}
    ds.ReleaseResultSet(lyr)
    out = [fam for fam, _, sql in FAMILIES if any(f"'{t}'" in sql for t in present if t)]
    unknown = {t for t in present if t and not any(f"'{t}'" in s for _, _, s in FAMILIES)}
    if unknown:
        sys.exit(f"mapserver_bench: {table}: unsupported geometry types {sorted(unknown)}")
    return out


def mapfile(store, layers, scale, level):
    r, g, b = COLOR
    width = LINE_WIDTH * scale
    size = CIRCLE_DIAMETER * scale
    out = [f"""MAP
  NAME "tilebench"
  SIZE {TILE * scale} {TILE * scale}
  EXTENT -20037508.3427892 -20037508.3427892 20037508.3427892 20037508.3427892
  UNITS METERS
  PROJECTION "init=epsg:3857" END
  IMAGETYPE "png32"
  OUTPUTFORMAT
    NAME "png32"
    DRIVER "AGG/PNG"
    MIMETYPE "image/png"
    IMAGEMODE RGBA
    EXTENSION "png"
    TRANSPARENT ON
    FORMATOPTION "GAMMA=1.0"
    FORMATOPTION "COMPRESSION={level}"
  END
  SYMBOL NAME "circle" TYPE ELLIPSE FILLED TRUE POINTS 1 1 END END
"""]
    for table, fams in layers:
        for fam, mstype, sql in FAMILIES:
            if fam not in fams:
                continue
            native = (f'PROCESSING "NATIVE_FILTER=GeometryType(geom) IN ({sql})"'
                      if len(fams) > 1 else "")
            if fam == "point":
                styles = f'STYLE SYMBOL "circle" SIZE {size:g} COLOR {r} {g} {b} END'
            elif fam == "line":
                styles = (f"STYLE COLOR {r} {g} {b} WIDTH {width:g} "
                          "LINECAP ROUND LINEJOIN ROUND END")
            else:
                styles = (f"STYLE COLOR {r} {g} {b} END "
                          f"STYLE OUTLINECOLOR {r} {g} {b} WIDTH {width:g} "
                          "LINECAP ROUND LINEJOIN ROUND END")
            out.append(f"""  LAYER
    NAME "{table}_{fam}"
    TYPE {mstype}
    STATUS ON
    CONNECTIONTYPE OGR
    CONNECTION "{store}"
    DATA "{table}"
    PROCESSING "CLOSE_CONNECTION=DEFER"
    {native}
    PROJECTION "init=epsg:4326" END
    CLASS {styles} END
  END
""")
    out.append("END\n")
    return "".join(out)


def main():
    a = parse_args(__doc__)
    store = a.store
    tiles = read_tiles(a.tiles)
    layers = [(t, families_of(store, t)) for t in a.layers.split(",") if t]
    maps = {s: mapscript.fromstring(mapfile(store, layers, s, a.png_level)) for s in (1, 2)}

    def render(z, x, y, s):
        m = maps[s]
        px = TILE * s
        minx, miny, maxx, maxy = tile_bounds(z, x, y)
        res = (maxx - minx) / px
        m.setSize(px, px)
        # MapServer: cell size = (maxx - minx) / (width - 1), drawn from the
        # pixel corner: EXTENT x0 (y0 + r) (x1 - r) y1 is the tile exactly
        m.setExtent(minx, miny + res, maxx - res, maxy)
        t0 = time.perf_counter()
        img = m.draw()
        t1 = time.perf_counter()
        png = img.getBytes()
        t2 = time.perf_counter()
        return png, (t1 - t0) * 1e3, (t2 - t1) * 1e3

    title = (f"mapserver_bench: {mapscript.msGetVersion().split(' OUTPUT')[0]}, {len(tiles)} "
             f"tiles, {len(layers)} tables")
    return run("mapserver", title, "draw", tiles, render, a)


if __name__ == "__main__":
    sys.exit(main())
