#!/usr/bin/python3
"""Real GIS clients against `lagebild serve`: GDAL (WMTS driver, WMS driver in
TMS mode, gdal_translate) and OWSLib fetch tiles of the demo map `lage` for
demo-lagezentrum; every tile must be pixel-identical to `lagebild render` of
the same tile.

Usage: test_gis_clients.py LAGEBILD_BINARY SOURCE_DIR

Run with Debian's /usr/bin/python3 (python3-gdal, python3-numpy,
python3-owslib, gdal-bin).

1. Copies the demo (demo/lagebild.yaml + demo/data) into a temporary folder
   and adds one role `nobody` that is granted no layers, with the token
   `demo-nobody` (demo convention: the token is the principal's name).
   Ingests it, starts `lagebild serve --listen 127.0.0.1:0 --audit FILE`.
2. Chooses tiles from the data itself (per grid and zoom: the tile with the
   most feature vertices and a middle one), renders each with
   `lagebild render` (full rights; demo-lagezentrum sees every demo feature,
   so its tiles must equal these; the other roles are the leak test's
   business) and requires the reference to have content, so that a
   transparent answer cannot pass by accident.
3. Clients:
   - GDAL's WMTS driver ("WMTS:<capabilities URL>,layer=,tilematrixset=,
     tilematrix="), both tile matrix sets.  The chosen tile matrix is the
     dataset's full resolution; the pixel window of a tile is computed from
     the dataset's geotransform and the capabilities' TopLeftCorner /
     ScaleDenominator and must be whole pixels.  Read with the Python API
     and, once per set, with the gdal_translate program (-srcwin).
   - GDAL's WMS driver in TMS mode (local XML service description on
     /maps/lage/${z}/${x}/${y}.png, TileLevel 18, YOrigin top): a tile at
     level 18 read from the full-resolution raster and tiles of lower zooms
     read from the matching overview.
   - OWSLib's WebMapTileService: capabilities (contents, both sets), gettile
     (KVP) and the layer's REST ResourceURL template; a principal with no
     visible map gets capabilities without layers; QGIS's probe
     SERVICE=WMS&REQUEST=GetCapabilities answers the WMTS document.
   Every tile a client fetched must appear in the audit log as released to
   demo-lagezentrum (so the pixels did come from the server).
4. KVP robustness: keys in any case, URL-encoded values, shuffled order,
   token as header give the same tile; a bad TILEMATRIX / TILEMATRIXSET /
   TILEROW gives the very same 404 (status, headers, body) as an unknown
   layer; missing parameters give a 400 OWS ExceptionReport naming them.

GDAL_ENABLE_WMS_CACHE=NO everywhere; nothing but 127.0.0.1 is contacted.
The server is always stopped with SIGTERM.  Prints 'N passed, N failed'
last; exits non-zero on failure.  LB_KEEP_TMP=1 keeps the temporary folder.
"""
import hashlib
import http.client
import json
import math
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import urllib.parse
import xml.etree.ElementTree as ET

# Loopback only: no proxy may be asked for 127.0.0.1 (requests, urllib, curl).
for _k in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "all_proxy"):
    os.environ.pop(_k, None)
os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"
os.environ["GDAL_ENABLE_WMS_CACHE"] = "NO"
os.environ["GDAL_HTTP_TIMEOUT"] = "30"

passed = 0
failed = 0


def check(name, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print(f"ok   {name}" + (f" ({detail})" if detail and len(detail) < 90 else ""))
    else:
        failed += 1
        print(f"FAIL {name}" + (f": {detail}" if detail else ""))
    return bool(ok)


try:
    import numpy as np
    from osgeo import gdal, ogr, osr
    from owslib.wmts import WebMapTileService
except ImportError as e:  # the CI installs them (.ci/deps.sh)
    print(f"test_gis_clients: missing Python module: {e} "
          "(apt-get install python3-gdal python3-numpy python3-owslib)")
    print("0 passed, 1 failed")
    sys.exit(1)

gdal.UseExceptions()
ogr.UseExceptions()
osr.UseExceptions()
gdal.SetConfigOption("GDAL_ENABLE_WMS_CACHE", "NO")

MAP_ID = "lage"
TOKEN = "demo-lagezentrum"
PRINCIPAL = "demo-lagezentrum"
NOBODY = "demo-nobody"
TILE = 256
PIXEL_M = 0.00028          # OGC standardised rendering pixel size
MIN_CONTENT_PX = 50        # a reference tile must cover at least this many pixels

# The tile matrix sets as docs/http.md defines them (independent of the server).
GRIDS = {
    "WebMercatorQuad": {"epsg": 3857, "ox": -20037508.3427892, "oy": 20037508.3427892,
                        "scale0": 559082264.0287178, "max": 22},
    "DE_EPSG_25832_ADV": {"epsg": 25832, "ox": -46133.17, "oy": 6301219.54,
                          "scale0": 17471320.75089746, "max": 17},
}
# Zooms at which tiles are chosen per grid (first: dense + middle tile, rest: dense).
GDAL_ZOOMS = {"WebMercatorQuad": (14, 17), "DE_EPSG_25832_ADV": (10, 13)}
TMS_LEVEL = 18
TMS_ZOOMS = (14, 16, 18)

NS = {"w": "http://www.opengis.net/wmts/1.0", "ows": "http://www.opengis.net/ows/1.1"}


class SetupError(Exception):
    """The test could not get as far as its clients."""


# --------------------------------------------------------------------------
# Server and HTTP
# --------------------------------------------------------------------------

class Server:
    def __init__(self, binary, config, audit, log):
        self.log = open(log, "w")
        self.proc = subprocess.Popen(
            [binary, "serve", "--config", config, "--listen", "127.0.0.1:0", "--audit", audit],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.base = None
        self.port = None
        found = threading.Event()

        def pump():
            for line in self.proc.stdout:
                self.log.write(line)
                self.log.flush()
                m = re.search(r"listening on http://127\.0\.0\.1:(\d+)", line)
                if m and not self.base:
                    self.port = int(m.group(1))
                    self.base = f"http://127.0.0.1:{self.port}"
                    found.set()
            found.set()

        self.thread = threading.Thread(target=pump, daemon=True)
        self.thread.start()
        found.wait(60)

    def stop(self):
        """SIGTERM, then wait; the exit code (None if it had to be killed)."""
        code = self.proc.poll()
        if code is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                code = self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                code = None
        self.thread.join(5)
        self.log.close()
        return code


class Resp:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def __repr__(self):
        return f"HTTP {self.status} {self.header('Content-Type')} {len(self.body)} bytes"


def get(port, path, token=None):
    """GET path exactly as given (no re-encoding); token as Bearer header if given."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        hdrs = {"Authorization": f"Bearer {token}"} if token else {}
        c.request("GET", path, headers=hdrs)
        r = c.getresponse()
        return Resp(r.status, r.getheaders(), r.read())
    finally:
        c.close()


# --------------------------------------------------------------------------
# Images
# --------------------------------------------------------------------------

_mem = 0


def rgba(png):
    """Decoded PNG bytes as an (h, w, 4) uint8 array (palette, grey, RGB expanded)."""
    global _mem
    _mem += 1
    path = f"/vsimem/gis_clients_{_mem}.png"
    gdal.FileFromMemBuffer(path, png)
    try:
        ds = gdal.Open(path)
        n = ds.RasterCount
        bands = [ds.GetRasterBand(i + 1).ReadAsArray() for i in range(n)]
        ct = ds.GetRasterBand(1).GetColorTable()
        if n == 1 and ct is not None:
            lut = np.zeros((256, 4), dtype=np.uint8)
            for i in range(ct.GetCount()):
                lut[i] = ct.GetColorEntry(i)
            out = lut[bands[0]]
        elif n == 1:
            out = np.stack([bands[0]] * 3 + [np.full_like(bands[0], 255)], axis=-1)
        elif n == 2:
            out = np.stack([bands[0]] * 3 + [bands[1]], axis=-1)
        elif n == 3:
            out = np.stack(bands + [np.full_like(bands[0], 255)], axis=-1)
        else:
            out = np.stack(bands[:4], axis=-1)
        ds = None
        return out.astype(np.uint8)
    finally:
        gdal.Unlink(path)


def dataset_window(ds_or_bands, xoff, yoff, size=TILE):
    """A window of a GDAL dataset (or list of 4 bands) as an (h, w, 4) array."""
    if isinstance(ds_or_bands, list):
        arrs = [b.ReadAsArray(xoff, yoff, size, size) for b in ds_or_bands]
    else:
        a = ds_or_bands.ReadAsArray(xoff, yoff, size, size)
        arrs = [a[i] for i in range(a.shape[0])]
    if len(arrs) == 3:
        arrs.append(np.full_like(arrs[0], 255))
    return np.stack(arrs[:4], axis=-1).astype(np.uint8)


def diff_text(a, b):
    """Why two RGBA arrays differ (empty when they are equal)."""
    if a is None or b is None:
        return "no image"
    if a.shape != b.shape:
        return f"shape {a.shape} vs {b.shape}"
    d = np.any(a != b, axis=-1)
    if not d.any():
        return ""
    ys, xs = np.nonzero(d)
    return (f"{int(d.sum())} pixels differ (rows {ys.min()}-{ys.max()}, cols {xs.min()}-{xs.max()}), "
            f"max channel difference {int(np.abs(a.astype(int) - b.astype(int)).max())}; "
            f"client alpha>0: {int((a[..., 3] > 0).sum())}, reference alpha>0: "
            f"{int((b[..., 3] > 0).sum())}")


# --------------------------------------------------------------------------
# Setup: demo copy, variant config, tiles
# --------------------------------------------------------------------------

def run(cmd, what, **kw):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=300, **kw)
    if p.returncode != 0:
        raise SetupError(f"{what} failed (exit {p.returncode}): {' '.join(cmd)}\n"
                         f"{p.stdout[-1500:]}{p.stderr[-1500:]}")
    return p


def variant_config(text):
    """The demo config plus role `nobody` (no layers) and its token demo-nobody."""
    if "\nroles:\n" not in text:
        raise SetupError("demo config has no 'roles:' section")
    tops = re.findall(r"^([A-Za-z_][A-Za-z0-9_]*):", text, re.M)
    if not tops or tops[-1] != "tokens":
        raise SetupError("demo config does not end with the 'tokens:' section")
    role = ("roles:\n"
            "  nobody:                      # test_gis_clients: granted no layer at all\n"
            "    title: Ohne Freigabe\n"
            "    clearance: {level: OFFEN, groups: [landkreis]}\n"
            "    layers: []\n")
    text = text.replace("\nroles:\n", "\n" + role, 1)
    h = hashlib.sha256(NOBODY.encode()).hexdigest()
    if not text.endswith("\n"):
        text += "\n"
    return text + f'  {NOBODY}:      {{hash: "sha256:{h}", roles: [nobody]}}\n'


def map_layers(text):
    i = text.find("\nmaps:")
    m = re.search(r"\n  %s:.*?\n    layers:\s*\[(.*?)\]" % re.escape(MAP_ID), text[i:], re.S)
    if i < 0 or not m:
        raise SetupError(f"cannot find map '{MAP_ID}' in the demo config")
    body = re.sub(r"#[^\n]*", "", m.group(1))
    return [s.strip() for s in body.split(",") if s.strip()]


def store_vertices(store, layers):
    """All feature vertices (lon, lat) of the map's layers."""
    ds = ogr.Open(store)
    out = []
    for name in layers:
        lyr = ds.GetLayerByName(name)
        if lyr is None:
            raise SetupError(f"store has no table '{name}'")
        defn = lyr.GetLayerDefn()  # only geometries are needed
        lyr.SetIgnoredFields([defn.GetFieldDefn(i).GetName() for i in range(defn.GetFieldCount())])
        for f in lyr:
            g = f.GetGeometryRef()
            stack = [g] if g is not None else []
            while stack:
                h = stack.pop()
                if h.GetGeometryCount() > 0:
                    stack.extend(h.GetGeometryRef(i) for i in range(h.GetGeometryCount()))
                else:
                    out.extend((p[0], p[1]) for p in (h.GetPoints() or []))
    return out


def project(verts, epsg):
    src, dst = osr.SpatialReference(), osr.SpatialReference()
    src.ImportFromEPSG(4326)
    dst.ImportFromEPSG(epsg)
    for s in (src, dst):
        s.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    ct = osr.CoordinateTransformation(src, dst)
    pts = ct.TransformPoints([(x, min(max(y, -85.05), 85.05)) for x, y in verts])
    return [(p[0], p[1]) for p in pts]


def span(grid, z):
    g = GRIDS[grid]
    return g["scale0"] * PIXEL_M / (1 << z) * TILE


def pick_tiles(pts, grid, z, middle):
    """(z, x, y) of the tile with the most vertices (and a middle one)."""
    g, s = GRIDS[grid], span(grid, z)
    count = {}
    for px, py in pts:
        t = (int(math.floor((px - g["ox"]) / s)), int(math.floor((g["oy"] - py) / s)))
        count[t] = count.get(t, 0) + 1
    cand = sorted((t for t, c in count.items() if c >= 3), key=lambda t: (-count[t], t))
    if not cand:
        return []
    picks = [cand[0]]
    if middle and cand[len(cand) // 2] not in picks:
        picks.append(cand[len(cand) // 2])
    return [(z, x, y) for x, y in picks]


class Reference:
    """`lagebild render` of tiles, cached."""

    def __init__(self, binary, config, tmp):
        self.binary, self.config, self.tmp = binary, config, tmp
        self.cache = {}

    def png(self, grid, z, x, y):
        key = (grid, z, x, y)
        if key not in self.cache:
            out = os.path.join(self.tmp, f"ref_{grid}_{z}_{x}_{y}.png")
            cmd = [self.binary, "render", "--config", self.config, "--map", MAP_ID,
                   "--z", str(z), "--x", str(x), "--y", str(y), "-o", out]
            if grid != "WebMercatorQuad":
                cmd[-2:-2] = ["--grid", grid]
            p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               timeout=120)
            if p.returncode != 0:
                self.cache[key] = None
                print(f"     lagebild render {grid} {z}/{x}/{y} failed: {p.stderr.strip()[-500:]}")
            else:
                with open(out, "rb") as f:
                    self.cache[key] = f.read()
        return self.cache[key]

    def image(self, grid, z, x, y):
        b = self.png(grid, z, x, y)
        return rgba(b) if b else None


# --------------------------------------------------------------------------
# Audit log
# --------------------------------------------------------------------------

class Audit:
    def __init__(self, path):
        self.path = path
        self.seq = 0

    def tiles_since_mark(self):
        """{(grid, z, x, y): set(outcomes)} of PRINCIPAL's tile records after the mark."""
        out, last = {}, self.seq
        try:
            with open(self.path, encoding="utf-8") as f:
                for line in f:
                    try:
                        rec = json.loads(line)
                    except ValueError:
                        continue
                    s = rec.get("seq", 0)
                    last = max(last, s)
                    if s <= self.seq or rec.get("principal") != PRINCIPAL:
                        continue
                    m = re.match(r"tile %s/([^/]+)/(\d+)/(\d+)/(\d+)$" % MAP_ID,
                                 rec.get("resource", ""))
                    if m:
                        k = (m.group(1),) + tuple(int(v) for v in m.groups()[1:])
                        out.setdefault(k, set()).add(rec.get("outcome"))
        except OSError:
            pass
        self.seq = last
        return out

    def mark(self):
        self.tiles_since_mark()


def check_audited(tag, audit, wanted):
    """Every (grid, z, x, y) in wanted was released to PRINCIPAL since the mark."""
    got = audit.tiles_since_mark()
    missing = [t for t in wanted if "released" not in got.get(t, set())]
    check(f"{tag}: the server's audit log shows every compared tile released to {PRINCIPAL}",
          wanted and not missing,
          "" if wanted and not missing else
          f"not in the audit log: {missing or wanted}; seen: {sorted(got)[:10]}")


# --------------------------------------------------------------------------
# Capabilities (parsed independently of the clients)
# --------------------------------------------------------------------------

def parse_caps(body):
    root = ET.fromstring(body)
    layers = [e.text for e in root.findall("w:Contents/w:Layer/ows:Identifier", NS)]
    sets = {}
    for tms in root.findall("w:Contents/w:TileMatrixSet", NS):
        sid = tms.find("ows:Identifier", NS).text
        mats = {}
        for tm in tms.findall("w:TileMatrix", NS):
            tlx, tly = (float(v) for v in tm.find("w:TopLeftCorner", NS).text.split())
            mats[tm.find("ows:Identifier", NS).text] = {
                "scale": float(tm.find("w:ScaleDenominator", NS).text), "tlx": tlx, "tly": tly,
                "tw": int(tm.find("w:TileWidth", NS).text),
                "mw": int(tm.find("w:MatrixWidth", NS).text),
                "mh": int(tm.find("w:MatrixHeight", NS).text)}
        sets[sid] = mats
    return root, layers, sets


def check_caps_geometry(sets):
    """Every tile matrix of the capabilities places its tiles where the set's
    definition does (within 0.5 px at that level's resolution)."""
    for grid, g in GRIDS.items():
        mats = sets.get(grid, {})
        ok = sorted(int(k) for k in mats) == list(range(0, g["max"] + 1))
        worst, bad = 0.0, []
        for z in range(0, g["max"] + 1):
            m = mats.get(str(z))
            if m is None:
                continue
            res = g["scale0"] * PIXEL_M / (1 << z)
            cres = m["scale"] * PIXEL_M
            n = 1 << z
            if (m["tw"], m["mw"], m["mh"]) != (TILE, n, n):
                bad.append(f"level {z}: tile {m['tw']}, matrix {m['mw']}x{m['mh']}")
            # the far corner of the matrix as the client computes it
            ex = abs((m["tlx"] + n * TILE * cres) - (g["ox"] + n * TILE * res)) / res
            ey = abs((m["tly"] - n * TILE * cres) - (g["oy"] - n * TILE * res)) / res
            e0 = max(abs(m["tlx"] - g["ox"]), abs(m["tly"] - g["oy"])) / res
            worst = max(worst, ex, ey, e0)
        check(f"capabilities: {grid} has levels 0-{g['max']}, 256 px tiles, 2^z x 2^z matrices",
              ok and not bad, "; ".join(bad[:3]) or f"levels {sorted(int(k) for k in mats)}")
        check(f"capabilities: {grid} TopLeftCorner/ScaleDenominator place every level's tiles "
              f"within 0.5 px of the definition", worst <= 0.5, f"worst {worst:.3f} px")


def window_of(ds, caps_set, z, x, y):
    """Pixel offset of tile (x, y) of level z in a GDAL WMTS dataset whose full
    resolution is level z, from its geotransform and the capabilities."""
    gt = ds.GetGeoTransform()
    m = caps_set[str(z)]
    res = m["scale"] * PIXEL_M
    fx = x * TILE - (gt[0] - m["tlx"]) / res
    fy = y * TILE - (m["tly"] - gt[3]) / res
    ix, iy = int(round(fx)), int(round(fy))
    whole = (abs(fx - ix) < 1e-3 and abs(fy - iy) < 1e-3 and abs(gt[1] - res) / res < 1e-9
             and abs(-gt[5] - res) / res < 1e-9 and gt[2] == 0 and gt[4] == 0)
    return ix, iy, whole, (fx, fy, gt)


# --------------------------------------------------------------------------
# 1. GDAL WMTS driver
# --------------------------------------------------------------------------

def wmts_conn(base, token, grid, z):
    return (f"WMTS:{base}/wmts?SERVICE=WMTS&REQUEST=GetCapabilities&token={token},"
            f"layer={MAP_ID},tilematrixset={grid},tilematrix={z}")


def test_gdal_wmts(base, tiles, ref, caps_sets, audit, tmp):
    for grid, zs in GDAL_ZOOMS.items():
        for z in zs:
            ztiles = [t for t in tiles[grid] if t[0] == z]
            if not ztiles:
                continue
            tag = f"GDAL WMTS {grid} level {z}"
            conn = wmts_conn(base, TOKEN, grid, z)
            audit.mark()
            try:
                ds = gdal.Open(conn)
            except RuntimeError as e:
                check(f"{tag}: gdal.Open", False, f"{conn}: {e}")
                continue
            check(f"{tag}: opened, 4 bands, EPSG:{GRIDS[grid]['epsg']}",
                  ds.RasterCount == 4 and
                  osr.SpatialReference(wkt=ds.GetProjection()).GetAuthorityCode(None)
                  == str(GRIDS[grid]["epsg"]),
                  f"{ds.RasterCount} bands, {ds.GetProjection()[:60]}")
            done = []
            for (tz, x, y) in ztiles:
                ix, iy, whole, info = window_of(ds, caps_sets[grid], z, x, y)
                name = f"{tag}: tile {z}/{x}/{y} (pixel window {ix},{iy} 256x256)"
                if not check(f"{name} is whole pixels at the native resolution", whole,
                             f"offset {info[0]:.6f},{info[1]:.6f}, geotransform {info[2]}"):
                    continue
                if not (0 <= ix and 0 <= iy and ix + TILE <= ds.RasterXSize
                        and iy + TILE <= ds.RasterYSize):
                    check(f"{name} inside the dataset", False,
                          f"dataset {ds.RasterXSize}x{ds.RasterYSize}")
                    continue
                try:
                    got = dataset_window(ds, ix, iy)
                except RuntimeError as e:
                    check(f"{name}: read", False, str(e))
                    continue
                want = ref.image(grid, z, x, y)
                d = diff_text(got, want)
                check(f"{name} equals lagebild render", not d, d)
                done.append((grid, z, x, y))
            ds = None
            check_audited(tag, audit, done)

        # gdal_translate (the program) with -srcwin, the first tile of the set
        if not tiles[grid]:
            continue
        z, x, y = tiles[grid][0]
        tag = f"gdal_translate WMTS {grid} {z}/{x}/{y}"
        conn = wmts_conn(base, TOKEN, grid, z)
        ds = gdal.Open(conn)
        ix, iy, whole, _ = window_of(ds, caps_sets[grid], z, x, y)
        ds = None
        out = os.path.join(tmp, f"gdal_translate_{grid}.png")
        audit.mark()
        p = subprocess.run(["gdal_translate", "-q", "-of", "PNG", "-srcwin", str(ix), str(iy),
                            str(TILE), str(TILE), conn, out],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=120,
                           env=dict(os.environ, GDAL_ENABLE_WMS_CACHE="NO"))
        if check(f"{tag}: gdal_translate -srcwin {ix} {iy} {TILE} {TILE}",
                 whole and p.returncode == 0 and os.path.isfile(out),
                 f"exit {p.returncode}: {p.stderr.strip()[-500:]}"):
            with open(out, "rb") as f:
                got = rgba(f.read())
            d = diff_text(got, ref.image(grid, z, x, y))
            check(f"{tag}: output equals lagebild render", not d, d)
            check_audited(tag, audit, [(grid, z, x, y)])


# --------------------------------------------------------------------------
# 2. GDAL WMS driver, TMS mode
# --------------------------------------------------------------------------

def test_gdal_tms(base, tiles, ref, audit, tmp):
    o = GRIDS["WebMercatorQuad"]["oy"]
    xml = f"""<GDAL_WMS>
  <Service name="TMS">
    <ServerUrl>{base}/maps/{MAP_ID}/${{z}}/${{x}}/${{y}}.png?token={TOKEN}</ServerUrl>
  </Service>
  <DataWindow>
    <UpperLeftX>{-o!r}</UpperLeftX>
    <UpperLeftY>{o!r}</UpperLeftY>
    <LowerRightX>{o!r}</LowerRightX>
    <LowerRightY>{-o!r}</LowerRightY>
    <TileLevel>{TMS_LEVEL}</TileLevel>
    <TileCountX>1</TileCountX>
    <TileCountY>1</TileCountY>
    <YOrigin>top</YOrigin>
  </DataWindow>
  <Projection>EPSG:3857</Projection>
  <BlockSizeX>256</BlockSizeX>
  <BlockSizeY>256</BlockSizeY>
  <BandsCount>4</BandsCount>
  <ZeroBlockHttpCodes>204</ZeroBlockHttpCodes>
  <Cache><Path>{os.path.join(tmp, "gdalwmscache")}</Path></Cache>
</GDAL_WMS>
"""
    path = os.path.join(tmp, "tms.xml")
    with open(path, "w", encoding="utf-8") as f:
        f.write(xml)
    tag = "GDAL WMS/TMS"
    audit.mark()
    try:
        ds = gdal.Open(path)
    except RuntimeError as e:
        check(f"{tag}: open {path}", False, str(e))
        return
    full = TILE << TMS_LEVEL
    check(f"{tag}: {full}x{full}, 4 bands, level {TMS_LEVEL} full resolution",
          (ds.RasterXSize, ds.RasterYSize, ds.RasterCount) == (full, full, 4),
          f"{ds.RasterXSize}x{ds.RasterYSize}, {ds.RasterCount} bands")
    done = []
    for z, x, y in tiles["tms"]:
        name = f"{tag}: tile {z}/{x}/{y}"
        if z == TMS_LEVEL:
            src, what = ds, "full resolution"
        else:
            k = TMS_LEVEL - z - 1
            b1 = ds.GetRasterBand(1)
            if k >= b1.GetOverviewCount() or b1.GetOverview(k).XSize != TILE << z:
                check(f"{name}: overview for level {z}", False,
                      f"{b1.GetOverviewCount()} overviews")
                continue
            src = [ds.GetRasterBand(i + 1).GetOverview(k) for i in range(4)]
            what = f"overview {k} ({TILE << z} px)"
        try:
            got = dataset_window(src, x * TILE, y * TILE)
        except RuntimeError as e:
            check(f"{name}: read", False, str(e))
            continue
        d = diff_text(got, ref.image("WebMercatorQuad", z, x, y))
        check(f"{name} read at window {x * TILE},{y * TILE} of the {what} equals lagebild render",
              not d, d)
        done.append(("WebMercatorQuad", z, x, y))
    ds = None
    check_audited(tag, audit, done)


# --------------------------------------------------------------------------
# 3. OWSLib
# --------------------------------------------------------------------------

def test_owslib(base, port, tiles, ref, audit):
    tag = "OWSLib"
    url = f"{base}/wmts?token={TOKEN}"
    try:
        wmts = WebMapTileService(url, timeout=30)
    except Exception as e:  # noqa: BLE001 - any failure is the finding
        check(f"{tag}: WebMapTileService({url})", False, f"{type(e).__name__}: {e}")
        return
    check(f"{tag}: identification is OGC WMTS 1.0.0",
          wmts.identification.type == "OGC WMTS" and wmts.identification.version == "1.0.0",
          f"{wmts.identification.type} {wmts.identification.version}")
    check(f"{tag}: contents has '{MAP_ID}' (and only it)", list(wmts.contents) == [MAP_ID],
          str(list(wmts.contents)))
    check(f"{tag}: tilematrixsets has both sets", set(GRIDS) <= set(wmts.tilematrixsets),
          str(list(wmts.tilematrixsets)))
    if MAP_ID not in wmts.contents:
        return
    lyr = wmts.contents[MAP_ID]
    check(f"{tag}: layer links both sets", set(GRIDS) <= set(lyr.tilematrixsetlinks),
          str(list(lyr.tilematrixsetlinks)))
    check(f"{tag}: layer format image/png", lyr.formats == ["image/png"], str(lyr.formats))
    wgs = lyr.boundingBoxWGS84
    check(f"{tag}: WGS84 bounding box is the fixed service area (Germany)",
          wgs is not None and tuple(round(v, 3) for v in wgs) == (5.8, 47.2, 15.1, 55.1), str(wgs))
    tms = wmts.tilematrixsets.get("DE_EPSG_25832_ADV")
    check(f"{tag}: DE_EPSG_25832_ADV is EPSG:25832 with 18 levels",
          tms is not None and tms.crs.endswith("25832") and len(tms.tilematrix) == 18,
          f"{tms.crs if tms else None}, {len(tms.tilematrix) if tms else 0} levels")
    templates = [r["template"] for r in lyr.resourceURLs if r.get("resourceType") == "tile"]
    check(f"{tag}: layer has a tile ResourceURL on this server",
          len(templates) == 1 and templates[0].startswith(base + "/"), str(templates))

    audit.mark()
    done = []
    for grid in GRIDS:
        for z, x, y in tiles[grid][:2]:
            want = ref.image(grid, z, x, y)
            name = f"{tag}: gettile {grid} {z}/{x}/{y}"
            try:
                r = wmts.gettile(layer=MAP_ID, tilematrixset=grid, tilematrix=str(z), row=y,
                                 column=x, format="image/png")
                body, ctype = r.read(), r.info()["Content-Type"]
            except Exception as e:  # noqa: BLE001
                check(name, False, f"{type(e).__name__}: {e}")
                continue
            if check(f"{name}: image/png", ctype == "image/png" and body[:4] == b"\x89PNG",
                     f"Content-Type {ctype}, {body[:40]!r}"):
                d = diff_text(rgba(body), want)
                check(f"{name} (KVP) equals lagebild render", not d, d)
                done.append((grid, z, x, y))
            if templates:  # the REST template as OWSLib parsed it
                u = urllib.parse.urlsplit(wmts.buildTileResource(
                    layer=MAP_ID, tilematrixset=grid, tilematrix=str(z), row=y, column=x))
                r = get(port, u.path + (f"?{u.query}" if u.query else ""))
                ok = r.status == 200 and r.body[:4] == b"\x89PNG"
                if check(f"{tag}: REST ResourceURL {grid} {z}/{x}/{y}: 200 image/png", ok,
                         f"GET {u.path}?{u.query}: {r}"):
                    d = diff_text(rgba(r.body), want)
                    check(f"{tag}: REST ResourceURL {grid} {z}/{x}/{y} equals lagebild render",
                          not d, d)
    check_audited(tag, audit, done)

    # A principal who may see no layer: no map in its capabilities.
    try:
        w2 = WebMapTileService(f"{base}/wmts?token={NOBODY}", timeout=30)
        check(f"{tag}: {NOBODY} (role granted no layers): capabilities without layers",
              len(w2.contents) == 0, str(list(w2.contents)))
    except Exception as e:  # noqa: BLE001
        check(f"{tag}: {NOBODY} capabilities", False, f"{type(e).__name__}: {e}")
    z, x, y = tiles["WebMercatorQuad"][0]
    q = (f"/wmts?SERVICE=WMTS&REQUEST=GetTile&LAYER={MAP_ID}&TILEMATRIXSET=WebMercatorQuad"
         f"&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}&FORMAT=image/png")
    r_nb = get(port, q + f"&token={NOBODY}")
    r_unk = get(port, q.replace(f"LAYER={MAP_ID}", "LAYER=nosuchmap") + f"&token={NOBODY}")
    check(f"{tag}: {NOBODY}: GetTile of '{MAP_ID}' is the same 404 as an unknown layer",
          r_nb.status == 404 and (r_nb.status, r_nb.headers, r_nb.body)
          == (r_unk.status, r_unk.headers, r_unk.body), f"{r_nb} vs {r_unk}")

    # QGIS's first probe: SERVICE=WMS&REQUEST=GetCapabilities gets the WMTS document.
    ref_caps = get(port, f"/wmts?SERVICE=WMTS&REQUEST=GetCapabilities&token={TOKEN}")
    for q in (f"/wmts?SERVICE=WMS&REQUEST=GetCapabilities&token={TOKEN}",
              f"/wmts?SERVICE=WMS&REQUEST=GetCapabilities&VERSION=1.3.0&token={TOKEN}"):
        r = get(port, q)
        check(f"QGIS probe GET {q.replace(TOKEN, 'TOKEN')}: the WMTS capabilities document",
              r.status == 200 and r.body == ref_caps.body and ref_caps.status == 200
              and (r.header("Content-Type") or "").startswith("application/xml"),
              f"{r} vs {ref_caps}")
    try:
        w3 = WebMapTileService(f"{base}/wmts?token={TOKEN}", xml=r.body)
        check("QGIS probe answer parses as WMTS in OWSLib with layer 'lage'",
              MAP_ID in w3.contents, str(list(w3.contents)))
    except Exception as e:  # noqa: BLE001
        check("QGIS probe answer parses as WMTS in OWSLib", False, f"{type(e).__name__}: {e}")


# --------------------------------------------------------------------------
# 4. KVP robustness
# --------------------------------------------------------------------------

def enc_all(s):
    return "".join(f"%{b:02X}" for b in s.encode())


def test_kvp(port, tiles, ref):
    tag = "KVP"
    z, x, y = tiles["WebMercatorQuad"][0]
    want = ref.image("WebMercatorQuad", z, x, y)
    std = [("SERVICE", "WMTS"), ("REQUEST", "GetTile"), ("LAYER", MAP_ID),
           ("TILEMATRIXSET", "WebMercatorQuad"), ("TILEMATRIX", str(z)), ("TILEROW", str(y)),
           ("TILECOL", str(x)), ("FORMAT", "image/png")]

    def q(pairs, token=True):
        s = "&".join(f"{k}={v}" for k, v in pairs)
        return "/wmts?" + s + (f"&token={TOKEN}" if token else "")

    def cap(k):
        return {"TILEMATRIXSET": "TileMatrixSet", "TILEMATRIX": "TileMatrix",
                "TILEROW": "TileRow", "TILECOL": "TileCol"}.get(k, k.capitalize())

    def weird(k):
        return "".join(c.lower() if i % 2 else c for i, c in enumerate(k))

    variants = [
        ("upper-case keys", q(std), False),
        ("lower-case keys", q([(k.lower(), v) for k, v in std]), False),
        ("capitalised keys (Service, TileMatrixSet, ...)", q([(cap(k), v) for k, v in std]),
         False),
        ("alternating-case keys (SeRvIcE, ...)", q([(weird(k), v) for k, v in std]), False),
        ("shuffled order, extra VERSION and STYLE",
         q(list(reversed(std)) + [("VERSION", "1.0.0"), ("STYLE", "default")]), False),
        ("LAYER=%6Cage, TILEMATRIXSET and FORMAT URL-encoded",
         q([(k, {"LAYER": "%6Cage", "TILEMATRIXSET": enc_all("WebMercatorQuad"),
                 "FORMAT": "image%2Fpng"}.get(k, v)) for k, v in std]), False),
        ("every value fully URL-encoded", q([(k, enc_all(v)) for k, v in std]), False),
        ("lower-case values (service=wmts, request=gettile, tilematrixset=webmercatorquad)",
         q([(k.lower(), v.lower() if k in ("SERVICE", "REQUEST", "TILEMATRIXSET") else v)
            for k, v in std]), False),
        ("token as Authorization header", q(std, token=False), True),
    ]
    first = None
    for what, path, header in variants:
        r = get(port, path, TOKEN if header else None)
        name = f"{tag}: {what}"
        shown = path.replace(TOKEN, "TOKEN")
        if not check(f"{name}: 200 image/png",
                     r.status == 200 and r.header("Content-Type") == "image/png",
                     f"GET {shown}: expected 200 image/png, got {r} {r.body[:200]!r}"):
            continue
        d = diff_text(rgba(r.body), want)
        check(f"{name}: tile equals lagebild render {z}/{x}/{y}", not d, f"GET {shown}: {d}")
        if first is None:
            first = r
        else:
            check(f"{name}: same bytes and ETag as the upper-case request",
                  r.body == first.body and r.header("ETag") == first.header("ETag"),
                  f"ETag {r.header('ETag')} vs {first.header('ETag')}")

    # Not found: a bad TILEMATRIX (etc.) answers exactly like an unknown layer.
    unknown = get(port, q([(k, "nosuchmap" if k == "LAYER" else v) for k, v in std]))
    check(f"{tag}: unknown layer is 404 {{\"error\":\"not found\"}} without ETag/Date",
          unknown.status == 404 and unknown.body.strip() == b'{"error":"not found"}'
          and unknown.header("ETag") is None and unknown.header("Date") is None,
          f"{unknown} {unknown.body!r} {unknown.headers}")
    bad = [
        ("TILEMATRIX=abc", "TILEMATRIX", "abc"),
        ("TILEMATRIX=23 (above WebMercatorQuad's 22)", "TILEMATRIX", "23"),
        ("TILEMATRIX=-1", "TILEMATRIX", "-1"),
        ("TILEMATRIX=14.0", "TILEMATRIX", f"{z}.0"),
        ("TILEMATRIX of 13 digits", "TILEMATRIX", "1" * 13),
        ("TILEMATRIX=%00", "TILEMATRIX", "%00"),
        ("TILEMATRIXSET=NoSuchSet", "TILEMATRIXSET", "NoSuchSet"),
        ("TILEROW beyond the matrix", "TILEROW", str(1 << z)),
        ("TILECOL=-5", "TILECOL", "-5"),
    ]
    for what, key, val in bad:
        path = q([(k, val if k == key else v) for k, v in std])
        r = get(port, path)
        same = (r.status, r.headers, r.body) == (unknown.status, unknown.headers, unknown.body)
        check(f"{tag}: {what} gives the same 404 as an unknown layer", same,
              f"GET {path.replace(TOKEN, 'TOKEN')}: expected {unknown} {unknown.headers} "
              f"{unknown.body!r}, got {r} {r.headers} {r.body[:200]!r}")
    # the ADV set ends at 17
    path = q([(k, {"TILEMATRIXSET": "DE_EPSG_25832_ADV", "TILEMATRIX": "18", "TILEROW": "0",
                   "TILECOL": "0"}.get(k, v)) for k, v in std])
    r = get(port, path)
    check(f"{tag}: DE_EPSG_25832_ADV TILEMATRIX=18 gives the same 404 as an unknown layer",
          (r.status, r.headers, r.body) == (unknown.status, unknown.headers, unknown.body),
          f"GET {path.replace(TOKEN, 'TOKEN')}: got {r} {r.body[:200]!r}")

    # Missing parameters: 400 and an OWS ExceptionReport naming the parameter.
    def exception_of(r):
        try:
            root = ET.fromstring(r.body)
        except ET.ParseError:
            return None
        if root.tag != "{http://www.opengis.net/ows/1.1}ExceptionReport":
            return None
        e = root.find("{http://www.opengis.net/ows/1.1}Exception")
        return None if e is None else (e.get("exceptionCode"), e.get("locator"))

    for key in ("LAYER", "TILEMATRIXSET", "TILEMATRIX", "TILEROW", "TILECOL"):
        path = q([(k, v) for k, v in std if k != key])
        r = get(port, path)
        ex = exception_of(r)
        check(f"{tag}: without {key}: 400 OWS ExceptionReport MissingParameterValue/{key}",
              r.status == 400 and (r.header("Content-Type") or "").startswith("application/xml")
              and ex == ("MissingParameterValue", key),
              f"GET {path.replace(TOKEN, 'TOKEN')}: expected 400 ExceptionReport "
              f"(MissingParameterValue, {key}), got {r} {ex} {r.body[:300]!r}")
    for key in ("REQUEST", "SERVICE"):
        path = q([(k, v) for k, v in std if k != key])
        r = get(port, path)
        ex = exception_of(r)
        check(f"{tag}: without {key}: 400 OWS ExceptionReport (locator {key})",
              r.status == 400 and ex is not None and (ex[1] or "").upper() == key,
              f"GET {path.replace(TOKEN, 'TOKEN')}: got {r} {ex} {r.body[:300]!r}")
        if ex:
            print(f"     (exceptionCode for a missing {key}: {ex[0]})")
    # No token at all: 401 with WWW-Authenticate, not a tile.
    r = get(port, q(std, token=False))
    check(f"{tag}: no token: 401 with WWW-Authenticate: Bearer",
          r.status == 401 and (r.header("WWW-Authenticate") or "").startswith("Bearer"), str(r))


# --------------------------------------------------------------------------

def main():
    if len(sys.argv) != 3:
        print("usage: test_gis_clients.py LAGEBILD_BINARY SOURCE_DIR", file=sys.stderr)
        return 2
    binary, src = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    keep = os.environ.get("LB_KEEP_TMP") == "1"
    tmp = tempfile.mkdtemp(prefix="lb-gis-clients-")
    server = None
    try:
        demo = os.path.join(tmp, "demo")
        shutil.copytree(os.path.join(src, "demo"), demo,
                        ignore=shutil.ignore_patterns("*.sqlite*", "*.audit.jsonl*",
                                                      "__pycache__"))
        config = os.path.join(demo, "lagebild.yaml")
        with open(config, encoding="utf-8") as f:
            text = f.read()
        with open(config, "w", encoding="utf-8") as f:
            f.write(variant_config(text))
        run([binary, "check", "--config", config], "lagebild check")
        run([binary, "ingest", "--config", config, "--quiet"], "lagebild ingest", cwd=tmp)
        store = os.path.join(demo, "lagebild.sqlite")
        with sqlite3.connect(store) as db:
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        verts = store_vertices(store, map_layers(text))
        if not verts:
            raise SetupError("no vertices in the store")

        # tiles per client, chosen from the data
        ref = Reference(binary, config, tmp)
        tiles = {}
        for grid, zs in GDAL_ZOOMS.items():
            pts = project(verts, GRIDS[grid]["epsg"])
            tiles[grid] = [t for i, z in enumerate(zs) for t in pick_tiles(pts, grid, z, i == 0)]
        pts = project(verts, 3857)
        tiles["tms"] = [t for z in TMS_ZOOMS for t in pick_tiles(pts, "WebMercatorQuad", z,
                                                                  z == TMS_ZOOMS[0])]
        seen = set()
        for key, lst in tiles.items():
            grid = "WebMercatorQuad" if key == "tms" else key
            for z, x, y in lst:
                if (grid, z, x, y) in seen:
                    continue
                seen.add((grid, z, x, y))
                img = ref.image(grid, z, x, y)
                n = int((img[..., 3] > 0).sum()) if img is not None else -1
                c = len(np.unique(img.reshape(-1, 4), axis=0)) if img is not None else 0
                check(f"reference: lagebild render {grid} {z}/{x}/{y} has content (not uniform)",
                      n >= MIN_CONTENT_PX and c >= 2, f"{n} covered pixels, {c} colours")

        audit_path = os.path.join(tmp, "audit.jsonl")
        server = Server(binary, config, audit_path, os.path.join(tmp, "serve.log"))
        if not check("server started", server.base is not None,
                     server.base or open(os.path.join(tmp, "serve.log")).read()[-2000:]):
            return 1
        base, port = server.base, server.port
        audit = Audit(audit_path)

        caps = get(port, f"/wmts?SERVICE=WMTS&REQUEST=GetCapabilities&token={TOKEN}")
        if not check("capabilities for demo-lagezentrum: 200 application/xml",
                     caps.status == 200 and
                     (caps.header("Content-Type") or "").startswith("application/xml"), str(caps)):
            return 1
        _, layers, caps_sets = parse_caps(caps.body)
        check("capabilities list layer 'lage' and both tile matrix sets",
              layers == [MAP_ID] and set(GRIDS) <= set(caps_sets),
              f"{layers}, {list(caps_sets)}")
        urls = re.findall(rb'(?:href|template)="([^"]*)"', caps.body)
        check("every URL in the capabilities points at this server",
              urls and all(u.decode().startswith(base + "/") for u in urls),
              str([u for u in urls if not u.decode().startswith(base + "/")][:3]))
        check_caps_geometry(caps_sets)

        print("-- 1. GDAL WMTS driver")
        test_gdal_wmts(base, tiles, ref, caps_sets, audit, tmp)
        print("-- 2. GDAL WMS driver, TMS mode")
        test_gdal_tms(base, tiles, ref, audit, tmp)
        print("-- 3. OWSLib")
        test_owslib(base, port, tiles, ref, audit)
        print("-- 4. KVP robustness")
        test_kvp(port, tiles, ref)
    except SetupError as e:
        check("setup", False, str(e))
    except Exception as e:  # noqa: BLE001 - report, count, and still stop the server
        import traceback
        traceback.print_exc()
        check("test ran to the end", False, f"{type(e).__name__}: {e}")
    finally:
        if server is not None:
            code = server.stop()
            check("server stopped on SIGTERM with exit 0", code == 0,
                  "had to be killed" if code is None else f"exit {code}")
        if keep:
            print(f"(kept {tmp})")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
        print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
