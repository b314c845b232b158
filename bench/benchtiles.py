"""What the Python tile benchmarks (mapnik_bench.py, mapserver_bench.py) share:
the tile list, WebMercatorQuad tile bounds, the command line, the timed loop
over the list and the report (a table and the machine-readable TILEBENCH line
that bench/tile_bench.sh reads)."""

import argparse
import os
import resource
import statistics
import sys

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


def percentile(v, p):
    v = sorted(v)
    r = p / 100 * (len(v) - 1)
    i = int(r)
    return v[-1] if i + 1 >= len(v) else v[i] + (r - i) * (v[i + 1] - v[i])


def parse_args(doc):
    ap = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    ap.add_argument("--store", required=True)
    ap.add_argument("--layers", required=True, help="store tables, bottom first, comma-separated")
    ap.add_argument("--tiles", required=True)
    ap.add_argument("--label", default="-")
    ap.add_argument("--png-level", type=int, default=2)
    ap.add_argument("--out", help="also write the tiles to DIR/z_x_y_scale.png")
    a = ap.parse_args()
    a.store = os.path.abspath(a.store)
    return a


def run(tool, title, draw_name, tiles, render, a):
    """Render tiles[0] once untimed (opening the data), then every tile once;
    render(z, x, y, s) returns (png, draw ms, encode ms).  Prints the report."""
    render(*tiles[0])
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
    print(f"{title}, {nbytes / len(tiles) / 1024:.1f} kB PNG on average")
    print(f"{'ms':<8} {'median':>10} {'p95':>10} {'mean':>10} {'max':>10}")
    for name, v in ((draw_name, t_draw), ("encode", t_enc), ("total", t_tot)):
        print(f"{name:<8} {statistics.median(v):>10.3f} {percentile(v, 95):>10.3f} "
              f"{statistics.fmean(v):>10.3f} {max(v):>10.3f}")
    print(f"TILEBENCH tool={tool} label={a.label} tiles={len(tiles)} "
          f"median_ms={statistics.median(t_tot):.4f} p95_ms={percentile(t_tot, 95):.4f} "
          f"mean_ms={statistics.fmean(t_tot):.4f} "
          f"render_median_ms={statistics.median(t_draw):.4f} "
          f"encode_median_ms={statistics.median(t_enc):.4f} encode_share={share:.4f} "
          f"vmhwm_kb={rss}")
    return 0
