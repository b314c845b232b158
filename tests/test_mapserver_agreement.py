#!/usr/bin/python3
"""Agreement of lagebild's tiles with MapServer's (AGG) rendering of the same store.

    test_mapserver_agreement.py LAGEBILD_BINARY SOURCE_DIR

Run with Debian's /usr/bin/python3 (python3-mapscript, python3-gdal, numpy).

1. Copies the demo (demo/lagebild.yaml + demo/data) into a temporary folder,
   gives every layer ONE uniform style (opaque fill for polygons, a 2 px line
   for lines and polygon outlines, a circle of radius 4 px for points) and
   ingests it with `lagebild ingest`.
2. Chooses a fixed list of tiles (WebMercatorQuad, zooms 8-16, alternately
   256 px and @2x) from the data itself: per zoom the densest, a middle and
   the sparsest tile by number of feature vertices (tiles with at least
   MIN_VERTICES vertices).  The data is fixed, so the list is deterministic.
3. Renders every tile with `lagebild render` and with MapServer (mapscript,
   AGG, transparent PNG) from the same SpatiaLite store (CONNECTIONTYPE OGR,
   one MapServer layer per store table and geometry family) with the
   equivalent symbology: solid fill plus a 2 px outline (lagebild's line
   layer also strokes polygon rings), 2 px lines with round caps and joins,
   a filled "circle" symbol of SIZE 8 (a 64-gon, see CIRCLE_POINTS); all
   sizes doubled for @2x.  MapServer only draws features whose box meets the
   map extent, so a marker centred just outside a tile would be missing; it
   therefore renders the tile with a margin of MARGIN_PX on every side (a
   "meta-buffer"), which is cut off before comparing.
4. Compares the coverage masks (alpha > 0) A (lagebild) and B (MapServer):
     IoU   |A n B| / |A u B|                                    must be >= 0.97
     cen   largest centroid offset over the blobs (px)          must be <= 1
     bd99  99th percentile of the boundary distance (px)        must be <= 1
   Position is checked two ways, both robust against anti-aliasing fringes
   (the odd pixel of faint coverage that one rasterizer touches and the
   other does not):
   - cen: the union A u B is split into blobs (8-connected components); in
     every blob the alpha-weighted centroid of lagebild's and MapServer's
     coverage are compared.  A shape drawn shifted moves its blob's centroid
     by the shift; a shape drawn a little fatter or thinner (fringes,
     rasterizer rounding) does not move it, because the extra coverage is
     symmetric.  Per blob rather than over the whole tile, because mass
     moving between distant shapes (say a marker 0.5 % larger and a line
     0.5 % thinner 190 px apart) shifts a tile-wide centroid by a pixel
     without anything being misplaced.  A blob present in only one image
     (covering at least BLOB_MIN_PX pixels) counts as infinitely far off.
   - bd99: for every boundary pixel of one mask (a covered pixel with an
     uncovered 4-neighbour inside the tile) the chessboard distance to the
     nearest boundary pixel of the other mask, pooled over both directions;
     its 99th percentile catches part of a shape in the wrong place while
     tolerating a few stray fringe pixels.  bdmax (the Hausdorff distance of
     the boundaries) is printed too, not gated.

MapServer's pixel convention (verified with axis-aligned squares and points
on exact pixel corners): it maps EXTENT.minx to the left edge of the first
pixel but computes the cell size as (maxx - minx) / (width - 1), i.e. EXTENT
names the *centres* of the corner pixels for the size while AGG draws from the
pixel corner.  A tile with edges [x0, x1] x [y0, y1] and resolution r is
therefore EXTENT x0 (y0 + r) (x1 - r) y1.  AGG polygon gamma is set to 1.0
so that coverage is linear like lagebild's.

Prints a per-tile table; the last line is "N passed, N failed".  Exit status
0 when every tile passes.  Set LB_KEEP_TMP=1 to keep the temporary folder
(with both renderings of every tile and a difference image per failure).
No network access, nothing bound.
"""

import math
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile

try:
    import numpy as np
    from osgeo import gdal, ogr
    import mapscript
except ImportError as e:  # the CI installs them (.ci/deps.sh)
    print(f"test_mapserver_agreement: missing Python module: {e} "
          "(apt-get install python3-mapscript python3-gdal python3-numpy)")
    print("0 passed, 1 failed")
    sys.exit(1)

gdal.UseExceptions()
ogr.UseExceptions()

MAP_ID = "lage"
ZOOMS = range(8, 17)
MIN_VERTICES = 3      # a candidate tile holds at least this many vertices
MIN_TILES = 20
IOU_MIN = 0.97
CENTROID_MAX_PX = 1.0
BOUNDARY_P99_MAX_PX = 1.0
BOUNDARY_SEARCH_PX = 16  # distances beyond this are reported as this
BLOB_MIN_PX = 1.0        # blobs with less coverage (in full pixels) are ignored
# MapServer queries only features whose box meets the map extent, so a marker
# centred just outside a tile would be missing; it renders a margin this wide
# (CSS px) around the tile, which is then cut off (a "meta-buffer").
MARGIN_PX = 32

# The uniform style (docs/styles.md): one colour, fully opaque.
COLOR = (31, 120, 180)
LINE_WIDTH = 2.0
CIRCLE_RADIUS = 4.0
STYLE_JSON = """{
  "version": 8,
  "name": "uniform (test_mapserver_agreement)",
  "layers": [
    {"id": "areas", "type": "fill",
     "paint": {"fill-color": "#%02x%02x%02x"}},
    {"id": "lines", "type": "line",
     "layout": {"line-cap": "round", "line-join": "round"},
     "paint": {"line-color": "#%02x%02x%02x", "line-width": %g}},
    {"id": "points", "type": "circle",
     "paint": {"circle-color": "#%02x%02x%02x", "circle-radius": %g}}
  ]
}
""" % (COLOR + COLOR + (LINE_WIDTH,) + COLOR + (CIRCLE_RADIUS,))

# WebMercatorQuad (OGC TMS 2.0), as tiler/tms.c
ORIGIN = 20037508.3427892
TILE = 256


def tile_bounds(z, x, y):
    span = 2 * ORIGIN / (1 << z)
    minx = -ORIGIN + x * span
    maxy = ORIGIN - y * span
    return minx, maxy - span, minx + span, maxy


def mercator(lon, lat):
    lat = max(-85.0511287798, min(85.0511287798, lat))
    r = 6378137.0
    return (r * math.radians(lon),
            r * math.log(math.tan(math.pi / 4 + math.radians(lat) / 2)))


def tile_of(mx, my, z):
    n = 1 << z
    span = 2 * ORIGIN / n
    tx = int(math.floor((mx + ORIGIN) / span))
    ty = int(math.floor((ORIGIN - my) / span))
    return min(max(tx, 0), n - 1), min(max(ty, 0), n - 1)


# ---- setup -------------------------------------------------------------------

class SetupError(Exception):
    """The test could not get as far as comparing tiles."""


def run(cmd, what):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if p.returncode != 0:
        sys.stdout.write(p.stdout)
        sys.stdout.write(p.stderr)
        raise SetupError(f"{what} failed (exit {p.returncode}): {' '.join(cmd)}")
    return p


def derive_config(text, style_name):
    """The demo config with `style: STYLE` for every layer of `layers:` (any
    style the demo gives a layer is dropped)."""
    out, section = [], None
    for line in text.splitlines():
        m = re.match(r"^([A-Za-z_][A-Za-z0-9_]*):", line)
        if m:
            section = m.group(1)
        if section == "layers" and re.match(r"^    style:", line):
            continue
        out.append(line)
        if section == "layers" and re.match(r"^  [a-z][a-z0-9_]*:\s*(#.*)?$", line):
            out.append(f"    style: {style_name}")
    return "\n".join(out) + "\n"


def map_layers(text, map_id):
    """The layer ids of map map_id (flow list `layers: [...]`, maybe over several lines)."""
    i = text.find("\nmaps:")
    m = re.search(r"\n  %s:.*?\n    layers:\s*\[(.*?)\]" % re.escape(map_id), text[i:], re.S)
    if i < 0 or not m:
        raise SetupError(f"cannot find map '{map_id}' in the demo config")
    body = re.sub(r"#[^\n]*", "", m.group(1))
    return [s.strip() for s in body.split(",") if s.strip()]


FAMILY = {ogr.wkbPoint: "point", ogr.wkbMultiPoint: "point",
          ogr.wkbLineString: "line", ogr.wkbMultiLineString: "line",
          ogr.wkbPolygon: "polygon", ogr.wkbMultiPolygon: "polygon"}


def read_store(store, layers):
    """Per layer: the geometry families present; and all vertices in EPSG:3857."""
    ds = ogr.Open(store)
    families, verts = {}, []
    for name in layers:
        lyr = ds.GetLayerByName(name)
        if lyr is None:
            raise SetupError(f"store {store} has no table '{name}'")
        fams = set()
        for f in lyr:
            g = f.GetGeometryRef()
            if g is None:
                continue
            fam = FAMILY.get(ogr.GT_Flatten(g.GetGeometryType()))
            if fam is None:
                raise SetupError(f"{name}: unexpected geometry {g.GetGeometryName()}")
            fams.add(fam)
            stack = [g]
            while stack:
                h = stack.pop()
                if h.GetGeometryCount() > 0:
                    stack.extend(h.GetGeometryRef(i) for i in range(h.GetGeometryCount()))
                else:
                    verts.extend(mercator(p[0], p[1]) for p in h.GetPoints() or [])
        families[name] = sorted(fams)
    return families, verts


def choose_tiles(verts):
    """Per zoom the densest, a middle and the sparsest tile (by vertex count)."""
    tiles = []
    for z in ZOOMS:
        count = {}
        for mx, my in verts:
            t = tile_of(mx, my, z)
            count[t] = count.get(t, 0) + 1
        cand = sorted((t for t, c in count.items() if c >= MIN_VERTICES),
                      key=lambda t: (-count[t], t))
        picks = []
        for i in (0, len(cand) // 2, len(cand) - 1):
            if cand and cand[i] not in picks:
                picks.append(cand[i])
        tiles.extend((z, x, y) for x, y in picks)
    # alternate 256 px and @2x over the whole list
    return [(z, x, y, 1 + (i % 2)) for i, (z, x, y) in enumerate(tiles)]


# ---- MapServer ---------------------------------------------------------------

# MapServer's circle symbol: a 64-gon of diameter SIZE, not TYPE ELLIPSE.  AGG
# draws an ELLIPSE of 8 px as a 13-gon with 3.4 % less area than the circle
# (48.6 instead of 50.3 px^2), which alone puts marker-only tiles at an IoU of
# about 0.97; the 64-gon is within 0.4 % of the circle and exactly centred.
CIRCLE_POINTS = " ".join(f"{1 + math.cos(a):.6f} {1 + math.sin(a):.6f}"
                         for a in (math.pi * k / 32 for k in range(64)))


def mapfile(store, layers, families, scale):
    r, g, b = COLOR
    width = LINE_WIDTH * scale
    size = 2 * CIRCLE_RADIUS * scale
    out = [f"""MAP
  NAME "agreement"
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
  END
  SYMBOL NAME "circle" TYPE VECTOR FILLED TRUE POINTS {CIRCLE_POINTS} END END
"""]
    types = {"point": "POINT", "line": "LINE", "polygon": "POLYGON"}
    sqltypes = {"point": "'POINT','MULTIPOINT'", "line": "'LINESTRING','MULTILINESTRING'",
                "polygon": "'POLYGON','MULTIPOLYGON'"}
    for name in layers:
        fams = families[name]
        for fam in fams:
            # a table holding several geometry families is drawn once per
            # family: OGR attribute filter in SQLite's (SpatiaLite's) dialect
            native = "" if len(fams) == 1 else \
                f'PROCESSING "NATIVE_FILTER=GeometryType(geom) IN ({sqltypes[fam]})"'
            if fam == "point":
                styles = f"STYLE SYMBOL \"circle\" SIZE {size:g} COLOR {r} {g} {b} END"
            elif fam == "line":
                styles = (f"STYLE COLOR {r} {g} {b} WIDTH {width:g} "
                          "LINECAP ROUND LINEJOIN ROUND END")
            else:  # the style's fill, and its line layer on the polygon's rings
                styles = (f"STYLE COLOR {r} {g} {b} END\n"
                          f"      STYLE OUTLINECOLOR {r} {g} {b} WIDTH {width:g} "
                          "LINECAP ROUND LINEJOIN ROUND END")
            out.append(f"""  LAYER
    NAME "{name}_{fam}"
    TYPE {types[fam]}
    STATUS ON
    CONNECTIONTYPE OGR
    CONNECTION "{store}"
    DATA "{name}"
    PROCESSING "CLOSE_CONNECTION=DEFER"
    {native}
    PROJECTION "init=epsg:4326" END
    CLASS
      {styles}
    END
  END
""")
    out.append("END\n")
    return "".join(out)


def mapserver_png(maps, z, x, y, scale):
    """MapServer's rendering of the tile plus MARGIN_PX * scale on every side."""
    m = maps[scale]
    px = TILE * scale
    mg = MARGIN_PX * scale
    minx, miny, maxx, maxy = tile_bounds(z, x, y)
    res = (maxx - minx) / px
    minx, miny, maxx, maxy = minx - mg * res, miny - mg * res, maxx + mg * res, maxy + mg * res
    m.setSize(px + 2 * mg, px + 2 * mg)
    m.setExtent(minx, miny + res, maxx - res, maxy)  # see the module docstring
    return m.draw().getBytes()


def crop(a, scale):
    mg = MARGIN_PX * scale
    return a[mg:a.shape[0] - mg, mg:a.shape[1] - mg]


# ---- comparison ----------------------------------------------------------------

_n = 0


def alpha_of(png):
    global _n
    _n += 1
    path = f"/vsimem/agreement_{_n}.png"
    gdal.FileFromMemBuffer(path, png)
    try:
        ds = gdal.Open(path)
        bands = ds.RasterCount
        if bands == 4:
            a = ds.GetRasterBand(4).ReadAsArray()
        elif bands == 2:
            a = ds.GetRasterBand(2).ReadAsArray()
        elif bands == 1 and ds.GetRasterBand(1).GetColorTable() is not None:
            ct = ds.GetRasterBand(1).GetColorTable()
            lut = np.array([ct.GetColorEntry(i)[3] for i in range(ct.GetCount())] +
                           [255] * (256 - ct.GetCount()), dtype=np.uint8)
            a = lut[ds.GetRasterBand(1).ReadAsArray()]
        else:
            a = np.full((ds.RasterYSize, ds.RasterXSize), 255, dtype=np.uint8)
        ds = None
        return a.astype(np.uint8)
    finally:
        gdal.Unlink(path)


def shift(m, dy, dx, fill=False):
    """m shifted by (dy, dx); pixels shifted in from outside get fill."""
    out = np.full_like(m, fill)
    h, w = m.shape
    out[max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = \
        m[max(-dy, 0):h + min(-dy, 0), max(-dx, 0):w + min(-dx, 0)]
    return out


def boundary(m):
    """Covered pixels with an uncovered 4-neighbour inside the image."""
    inner = m.copy()
    for dy, dx in ((1, 0), (-1, 0), (0, 1), (0, -1)):
        inner &= shift(m, dy, dx, fill=True)
    return m & ~inner


def distance_to(b):
    """Chessboard distance of every pixel to the nearest True of b (capped)."""
    d = np.full(b.shape, BOUNDARY_SEARCH_PX, dtype=np.int32)
    cur = b.copy()
    for k in range(BOUNDARY_SEARCH_PX):
        d[cur & (d == BOUNDARY_SEARCH_PX)] = k
        nxt = cur.copy()
        for dy in (-1, 0, 1):
            for dx in (-1, 0, 1):
                if dy or dx:
                    nxt |= shift(cur, dy, dx)
        cur = nxt
    return d


def blobs(m):
    """Connected components (8-neighbourhood) of mask m: (label image, count).

    Union-find over the horizontal runs of covered pixels of each row."""
    parent = []

    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    runs = []  # (row, start, end exclusive, run id)
    prev = []  # runs of the previous row: (start, end exclusive, run id)
    for yy in range(m.shape[0]):
        row = m[yy]
        cur = []
        if row.any():
            d = np.diff(np.concatenate(([0], row.astype(np.int8), [0])))
            j = 0
            for s0, e0 in zip(np.nonzero(d == 1)[0].tolist(), np.nonzero(d == -1)[0].tolist()):
                rid = len(parent)
                parent.append(rid)
                # previous-row runs touching columns s0-1 .. e0 (diagonals included)
                while j < len(prev) and prev[j][1] < s0:
                    j += 1
                k = j
                while k < len(prev) and prev[k][0] <= e0:
                    a, b = find(prev[k][2]), find(rid)
                    if a != b:
                        parent[max(a, b)] = min(a, b)
                    k += 1
                cur.append((s0, e0, rid))
                runs.append((yy, s0, e0, rid))
        prev = cur
    labels = np.zeros(m.shape, dtype=np.int32)
    roots = {}
    for yy, s0, e0, rid in runs:
        labels[yy, s0:e0] = roots.setdefault(find(rid), len(roots) + 1)
    return labels, len(roots)


def blob_offsets(a_lb, a_ms):
    """Per blob of the union of both masks: the distance of the two
    alpha-weighted centroids within the blob (inf: only one image has it)."""
    labels, n = blobs((a_lb > 0) | (a_ms > 0))
    if n == 0:
        return []
    wa = np.bincount(labels.ravel(), weights=a_lb.ravel().astype(np.float64), minlength=n + 1)
    wb = np.bincount(labels.ravel(), weights=a_ms.ravel().astype(np.float64), minlength=n + 1)
    ys, xs = np.indices(labels.shape)
    out = []
    cen = {}
    for name, img, wsum in (("a", a_lb, wa), ("b", a_ms, wb)):
        f = img.ravel().astype(np.float64)
        cx = np.bincount(labels.ravel(), weights=f * xs.ravel(), minlength=n + 1)
        cy = np.bincount(labels.ravel(), weights=f * ys.ravel(), minlength=n + 1)
        with np.errstate(invalid="ignore", divide="ignore"):
            cen[name] = (cx / wsum, cy / wsum)
    for i in range(1, n + 1):
        if max(wa[i], wb[i]) < BLOB_MIN_PX * 255:
            continue  # a speck of anti-aliasing fringe
        if wa[i] < BLOB_MIN_PX * 255 or wb[i] < BLOB_MIN_PX * 255:
            out.append(float("inf"))
            continue
        out.append(math.hypot(cen["a"][0][i] - cen["b"][0][i], cen["a"][1][i] - cen["b"][1][i]))
    return out


def compare(a_lb, a_ms):
    A, B = a_lb > 0, a_ms > 0
    union = int((A | B).sum())
    inter = int((A & B).sum())
    r = {"nA": int(A.sum()), "nB": int(B.sum()),
         "iou": inter / union if union else float("nan"), "blobs": 0,
         "cen": float("nan"), "bd99": float("nan"), "bdmax": float("nan")}
    if A.any() and B.any():
        offs = blob_offsets(a_lb, a_ms)
        r["blobs"] = len(offs)
        r["cen"] = max(offs) if offs else 0.0
        bA, bB = boundary(A), boundary(B)
        if bA.any() and bB.any():
            d = np.concatenate([distance_to(bB)[bA], distance_to(bA)[bB]])
            r["bd99"] = float(np.percentile(d, 99))
            r["bdmax"] = float(d.max())
        else:  # both cover the whole tile (or one does: then IoU decides)
            r["bd99"] = r["bdmax"] = 0.0 if bA.any() == bB.any() else float(BOUNDARY_SEARCH_PX)
    r["ok"] = (union > 0 and r["iou"] >= IOU_MIN and r["cen"] <= CENTROID_MAX_PX
               and r["bd99"] <= BOUNDARY_P99_MAX_PX)
    return r


def diff_image(path, a_lb, a_ms):
    """RGB: red = only lagebild, blue = only MapServer, grey = both."""
    A, B = a_lb > 0, a_ms > 0
    img = np.zeros((3,) + A.shape, dtype=np.uint8)
    img[:, A & B] = 160
    img[0][A & ~B] = 255
    img[2][B & ~A] = 255
    drv = gdal.GetDriverByName("MEM")
    ds = drv.Create("", A.shape[1], A.shape[0], 3, gdal.GDT_Byte)
    for i in range(3):
        ds.GetRasterBand(i + 1).WriteArray(img[i])
    gdal.GetDriverByName("PNG").CreateCopy(path, ds)


# ---- main ------------------------------------------------------------------------

def main():
    if len(sys.argv) != 3:
        print(__doc__.split("\n\n")[1])
        return 2
    lagebild, srcdir = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    keep = os.environ.get("LB_KEEP_TMP") == "1"
    tmp = tempfile.mkdtemp(prefix="lb_agreement_")
    try:
        return agreement(lagebild, srcdir, tmp, keep)
    except (SetupError, OSError, RuntimeError, mapscript.MapServerError) as e:
        print(f"test_mapserver_agreement: {e}")
        print("0 passed, 1 failed")
        return 1
    finally:
        if keep:
            print(f"(kept {tmp})", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def agreement(lagebild, srcdir, tmp, keep):
    demo = os.path.join(srcdir, "demo")
    shutil.copytree(os.path.join(demo, "data"), os.path.join(tmp, "data"))
    with open(os.path.join(demo, "lagebild.yaml"), encoding="utf-8") as f:
        text = f.read()
    with open(os.path.join(tmp, "uniform.json"), "w", encoding="utf-8") as f:
        f.write(STYLE_JSON)
    cfg = os.path.join(tmp, "agreement.yaml")
    with open(cfg, "w", encoding="utf-8") as f:
        f.write(derive_config(text, "uniform.json"))
    store = os.path.join(tmp, "lagebild.sqlite")
    layers = map_layers(text, MAP_ID)

    run([lagebild, "check", "--config", cfg], "lagebild check")
    run([lagebild, "ingest", "--config", cfg, "--quiet"], "lagebild ingest")
    # make the store self-contained for other readers (no -wal beside it)
    with sqlite3.connect(store) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    families, verts = read_store(store, layers)
    tiles = choose_tiles(verts)
    if len(tiles) < MIN_TILES:
        print(f"only {len(tiles)} tiles with demo data at zooms {ZOOMS[0]}-{ZOOMS[-1]} "
              f"(need {MIN_TILES})")
        print(f"0 passed, {len(tiles) or 1} failed")
        return 1

    maps = {s: mapscript.fromstring(mapfile(store, layers, families, s)) for s in (1, 2)}

    print(f"lagebild vs MapServer {mapscript.msGetVersion().split()[2]} (AGG), demo map "
          f"'{MAP_ID}', {len(layers)} layers, uniform style; {len(tiles)} tiles")
    print(f"pass: IoU >= {IOU_MIN}, centroid offset <= {CENTROID_MAX_PX} px, "
          f"boundary distance p99 <= {BOUNDARY_P99_MAX_PX} px (masks: alpha > 0)")
    print()
    hdr = (f"{'tile':<20} {'px':>4} {'lagebild':>9} {'mapserver':>9} {'IoU':>7} "
           f"{'blobs':>5} {'cen':>5} {'bd99':>5} {'bdmax':>5}  result")
    print(hdr)
    print("-" * len(hdr))
    passed = failed = 0
    ious = []
    for z, x, y, s in tiles:
        name = f"{z}/{x}/{y}" + ("@2x" if s == 2 else "")
        out = os.path.join(tmp, f"lb_{z}_{x}_{y}_{s}.png")
        p = subprocess.run([lagebild, "render", "--config", cfg, "--map", MAP_ID,
                            "--z", str(z), "--x", str(x), "--y", str(y), "--scale", str(s),
                            "-o", out], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True)
        if p.returncode != 0:
            failed += 1
            print(f"{name:<20} {TILE * s:>4}  lagebild render failed (exit {p.returncode}): "
                  f"{p.stderr.strip()}")
            continue
        with open(out, "rb") as f:
            a_lb = alpha_of(f.read())
        png_ms = mapserver_png(maps, z, x, y, s)
        a_ms = crop(alpha_of(png_ms), s)
        if keep:
            with open(os.path.join(tmp, f"ms_{z}_{x}_{y}_{s}.png"), "wb") as f:
                f.write(png_ms)
        if a_lb.shape != a_ms.shape:
            failed += 1
            print(f"{name:<20} {TILE * s:>4}  size differs: lagebild {a_lb.shape}, "
                  f"MapServer {a_ms.shape}")
            continue
        r = compare(a_lb, a_ms)
        ious.append(r["iou"])
        if r["ok"]:
            passed += 1
        else:
            failed += 1
            if keep:
                diff_image(os.path.join(tmp, f"diff_{z}_{x}_{y}_{s}.png"), a_lb, a_ms)
        print(f"{name:<20} {TILE * s:>4} {r['nA']:>9} {r['nB']:>9} {r['iou']:>7.4f} "
              f"{r['blobs']:>5} {r['cen']:>5.2f} {r['bd99']:>5.1f} {r['bdmax']:>5.0f}  "
              f"{'ok' if r['ok'] else 'FAIL'}")
    print()
    if ious:
        v = sorted(ious)
        print(f"IoU over {len(v)} tiles: min {v[0]:.4f}, median {v[len(v) // 2]:.4f}, "
              f"max {v[-1]:.4f}")
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
