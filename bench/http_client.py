#!/usr/bin/python3
"""HTTP helper of bench/http_bench.sh and bench/roles_bench.sh (Python standard library only).

  http_client.py tiles   --store S --zooms 10-16 --n 300 [--retina-every 4] [--salt X]
      "z x y scale" lines: tiles with content, chosen with equal content density
      (feature boxes touching the tile, binned in powers of two, the same number
      of tiles from every bin, picked by a hash of z/x/y).
  http_client.py coldlist --store S --zooms 15-18 --tokens a,b --n N --exclude FILE
      "token path" lines of distinct tiles (content tiles x tokens x 256/512 px)
      in a deterministic shuffled order, none of them in FILE.
  http_client.py urls    --tiles FILE --map M --token T
      "token path" lines for wrk (bench/http_urls.lua).
  http_client.py fetch   --base URL --urls FILE [--root DIR] [--compare URL]
      GET every URL once (a new connection each), require 200 image/png, write
      the bytes to DIR/path (a static file tree for nginx) or compare them with
      the bytes another server returns for the same path.
  http_client.py roles   --base URL --tiles FILE --map M --tokens a,b,... [--conns 2]
      The timed client of roles_bench.sh: every tile for every token; workers
      take whole tiles from a queue and fetch them for each token in turn.
      Prints one "ROLES key=value ..." line.
"""
import argparse
import hashlib
import http.client
import math
import os
import queue
import sqlite3
import struct
import sys
import threading
import time

ORIGIN = 20037508.342789244
MAXLAT = 85.0511287798


def parse_range(s):
    a, _, b = s.partition("-")
    return range(int(a), int(b or a) + 1)


def boxes(store):
    """Web-Mercator boxes of every feature of every layer in the store, read
    from the MBR in the header of each SpatiaLite geometry blob (not from the
    R*Tree, so a damaged spatial index does not matter here)."""
    db = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
    tabs = [r[0] for r in db.execute("SELECT f_table_name FROM geometry_columns")]

    def merc(lon, lat):
        lat = max(-MAXLAT, min(MAXLAT, lat))
        return (6378137.0 * math.radians(lon),
                6378137.0 * math.log(math.tan(math.pi / 4 + math.radians(lat) / 2)))

    out = []
    for t in tabs:
        for (g,) in db.execute(f'SELECT geom FROM "{t}" WHERE geom IS NOT NULL'):
            # SpatiaLite blob: 0x00, endianness (1 = little), SRID (4), MBR (4 doubles), 0x7C
            if len(g) < 39 or g[0] != 0 or g[38] != 0x7C:
                continue
            xmin, ymin, xmax, ymax = struct.unpack("<4d" if g[1] == 1 else ">4d", g[6:38])
            out.append(merc(xmin, ymin) + merc(xmax, ymax))
    db.close()
    if not out:
        sys.exit("http_client: no features in " + store)
    return out


def tile_counts(bxs, z):
    """{(x, y): number of feature boxes touching the tile}; a box covering more
    than 1024 tiles of this zoom is left out (a background-like area)."""
    n = 1 << z
    span = 2 * ORIGIN / n
    counts = {}

    def col(mx):
        return min(n - 1, max(0, int((mx + ORIGIN) // span)))

    def row(my):
        return min(n - 1, max(0, int((ORIGIN - my) // span)))

    for x0, y0, x1, y1 in bxs:
        c0, c1, r0, r1 = col(x0), col(x1), row(y1), row(y0)
        if (c1 - c0 + 1) * (r1 - r0 + 1) > 1024:
            continue
        for x in range(c0, c1 + 1):
            for y in range(r0, r1 + 1):
                counts[(x, y)] = counts.get((x, y), 0) + 1
    return counts


def h(s):
    return hashlib.blake2b(s.encode(), digest_size=8).digest()


def cmd_tiles(a):
    pts = boxes(a.store)
    bins = {}
    for z in parse_range(a.zooms):
        for (x, y), c in tile_counts(pts, z).items():
            b = int(math.log2(c))
            bins.setdefault(b, []).append((h(f"{a.salt}{z}/{x}/{y}"), z, x, y))
    for b in bins:
        bins[b].sort()
    cap, take = 1, {}
    while True:
        take = {b: min(cap, len(v)) for b, v in bins.items()}
        if sum(take.values()) >= a.n or all(take[b] == len(bins[b]) for b in bins):
            break
        cap += 1
    tiles = []
    for b in sorted(bins):
        tiles += [t[1:] for t in bins[b][:take[b]]]
    tiles.sort(key=lambda t: h(f"order{t}"))
    tiles = tiles[:a.n]
    for i, (z, x, y) in enumerate(tiles):
        scale = 2 if a.retina_every and i % a.retina_every == a.retina_every - 1 else 1
        print(z, x, y, scale)
    zh = {}
    for t in tiles:
        zh[t[0]] = zh.get(t[0], 0) + 1
    print(f"   {len(tiles)} tiles; per zoom " + " ".join(f"{z}:{zh[z]}" for z in sorted(zh)) +
          "; per density bin (features) " +
          " ".join(f"{1 << b}-{(2 << b) - 1}:{take[b]}" for b in sorted(take) if take[b]),
          file=sys.stderr)


def tile_path(m, z, x, y, scale):
    return f"/maps/{m}/{z}/{x}/{y}{'@2x' if int(scale) == 2 else ''}.png"


def cmd_coldlist(a):
    pts = boxes(a.store)
    exclude = set()
    if a.exclude:
        with open(a.exclude) as f:
            exclude = {tuple(line.split()[:2]) for line in f if line.strip()}
    tokens = a.tokens.split(",")
    cands = []
    for z in parse_range(a.zooms):
        n = 1 << z
        for (x, y) in tile_counts(pts, z):
            # the tile with content and its 8 neighbours (edges, labels, halos)
            for dx in (-1, 0, 1):
                for dy in (-1, 0, 1):
                    if 0 <= x + dx < n and 0 <= y + dy < n:
                        cands.append((z, x + dx, y + dy))
    cands = sorted(set(cands))
    out = []
    for z, x, y in cands:
        for t in tokens:
            for s in (1, 2):
                line = (t, tile_path(a.map, z, x, y, s))
                if line not in exclude:
                    out.append((h(f"{line}"), line))
    out.sort()
    if len(out) < a.n:
        print(f"   note: only {len(out)} distinct cold tiles", file=sys.stderr)
    for _, (t, p) in out[:a.n]:
        print(t, p)


def cmd_urls(a):
    with open(a.tiles) as f:
        for line in f:
            z, x, y, s = line.split()[:4]
            print(a.token, tile_path(a.map, z, x, y, s))


def get(host, port, path, token, timeout=120, conn=None):
    """One GET; on a new connection (closed afterwards), or on conn (kept alive)."""
    c = conn or http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        hdr = {"Authorization": f"Bearer {token}"}
        if conn is None:
            hdr["Connection"] = "close"
        c.request("GET", path, headers=hdr)
        r = c.getresponse()
        body = r.read()
        return r.status, r.getheader("Content-Type", ""), body
    finally:
        if conn is None:
            c.close()


def hostport(url):
    u = url.split("//", 1)[-1].rstrip("/")
    host, _, port = u.partition(":")
    return host, int(port)


def cmd_fetch(a):
    host, port = hostport(a.base)
    cmp = hostport(a.compare) if a.compare else None
    n = nbytes = 0
    sizes = []
    with open(a.urls) as f:
        lines = [line.split() for line in f if line.strip()]
    for tok, path in lines:
        st, ct, body = get(host, port, path, tok)
        if st != 200 or ct != "image/png":
            sys.exit(f"http_client: {path} ({tok}) answered {st} {ct}")
        if a.root:
            dst = os.path.join(a.root, path.lstrip("/"))
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            with open(dst, "wb") as out:
                out.write(body)
        if cmp:
            st2, ct2, body2 = get(cmp[0], cmp[1], path, tok)
            if st2 != 200 or body2 != body or ct2 != ct:
                sys.exit(f"http_client: {path}: {a.compare} answered {st2} {ct2} "
                         f"{len(body2)} bytes, {a.base} {len(body)} bytes")
        n += 1
        nbytes += len(body)
        sizes.append(len(body))
    sizes.sort()
    print(f"FETCH urls={n} bytes={nbytes} median_png={sizes[len(sizes) // 2]} "
          f"max_png={sizes[-1]} distinct_sizes={len(set(sizes))}")


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(math.ceil(p / 100 * len(v))) - 1)] if v else float("nan")


def cmd_roles(a):
    host, port = hostport(a.base)
    tokens = a.tokens.split(",")
    with open(a.tiles) as f:
        tiles = [line.split()[:4] for line in f if line.strip()]
    q = queue.Queue()
    for t in tiles:
        q.put(t)
    lat = {t: [] for t in tokens}
    statuses, nbytes, errors = {}, [0], []
    lock = threading.Lock()

    def worker():
        conn = http.client.HTTPConnection(host, port, timeout=120) if a.keepalive else None
        while True:
            try:
                z, x, y, s = q.get_nowait()
            except queue.Empty:
                if conn is not None:
                    conn.close()
                return
            path = tile_path(a.map, z, x, y, s)
            for tok in tokens:
                t0 = time.perf_counter()
                try:
                    st, _, body = get(host, port, path, tok, conn=conn)
                except Exception as e:  # noqa: BLE001 - counted and reported
                    with lock:
                        errors.append(f"{path} {tok}: {e}")
                    if conn is not None:  # start over on a fresh connection
                        conn.close()
                        conn = http.client.HTTPConnection(host, port, timeout=120)
                    continue
                dt = time.perf_counter() - t0
                with lock:
                    lat[tok].append(dt)
                    statuses[st] = statuses.get(st, 0) + 1
                    nbytes[0] += len(body)

    t0 = time.perf_counter()
    ws = [threading.Thread(target=worker) for _ in range(a.conns)]
    for w in ws:
        w.start()
    for w in ws:
        w.join()
    wall = time.perf_counter() - t0
    alll = [v for t in tokens for v in lat[t]]
    n = len(alll)
    per_tok = ",".join(f"{t}:{1000 * sum(lat[t]) / max(1, len(lat[t])):.2f}" for t in tokens)
    st = ",".join(f"{k}:{v}" for k, v in sorted(statuses.items()))
    print(f"ROLES principals={len(tokens)} tiles={len(tiles)} requests={n} errors={len(errors)} "
          f"statuses={st} wall_s={wall:.3f} ms_per_req={1000 * wall / max(1, n):.3f} "
          f"lat_median_ms={1000 * pct(alll, 50):.2f} lat_p95_ms={1000 * pct(alll, 95):.2f} "
          f"lat_max_ms={1000 * max(alll, default=0):.2f} bytes={nbytes[0]} mean_ms_by_principal={per_tok}")
    for e in errors[:5]:
        print("   error:", e, file=sys.stderr)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sp = p.add_subparsers(dest="cmd", required=True)
    t = sp.add_parser("tiles")
    t.add_argument("--store", required=True)
    t.add_argument("--zooms", required=True)
    t.add_argument("--n", type=int, default=300)
    t.add_argument("--retina-every", type=int, default=0)
    t.add_argument("--salt", default="")
    c = sp.add_parser("coldlist")
    c.add_argument("--store", required=True)
    c.add_argument("--zooms", required=True)
    c.add_argument("--map", required=True)
    c.add_argument("--tokens", required=True)
    c.add_argument("--n", type=int, required=True)
    c.add_argument("--exclude")
    u = sp.add_parser("urls")
    u.add_argument("--tiles", required=True)
    u.add_argument("--map", required=True)
    u.add_argument("--token", required=True)
    f = sp.add_parser("fetch")
    f.add_argument("--base", required=True)
    f.add_argument("--urls", required=True)
    f.add_argument("--root")
    f.add_argument("--compare")
    r = sp.add_parser("roles")
    r.add_argument("--base", required=True)
    r.add_argument("--tiles", required=True)
    r.add_argument("--map", required=True)
    r.add_argument("--tokens", required=True)
    r.add_argument("--conns", type=int, default=2)
    r.add_argument("--keepalive", action="store_true",
                   help="each connection stays open for all its requests (as map clients do)")
    a = p.parse_args()
    {"tiles": cmd_tiles, "coldlist": cmd_coldlist, "urls": cmd_urls, "fetch": cmd_fetch,
     "roles": cmd_roles}[a.cmd](a)


if __name__ == "__main__":
    main()
