#!/usr/bin/python3
"""Client of bench/push_bench.sh: latency and throughput of push ingest.

  push_client.py --port P --writer TOKEN --reader TOKEN --admin TOKEN
                 --source ID --server-pid PID --baseline-db FILE [--updates 200]

1. latency: UPDATES times, one feature POSTed at a random place in Germany;
   measured from just before the POST to (a) the 2xx answer (durable
   commit), (b) the Server-Sent Event naming the change on an /events
   stream held open by a reader, (c) the end of the first GET of the z14
   tile holding the feature that shows it (differs from before the POST).
2. throughput: batches of 1, 100 and 10,000 features POSTed one after the
   other; features/s = features / wall time of the POSTs.
3. baselines, side by side in the same run: the same batches written
   straight into a SpatiaLite table by Python's sqlite3 (one transaction per
   batch, WAL, synchronous=FULL: the storage floor); and the way a change
   reached the screen before pushes: a SIGHUP reload of every layer (time
   until lagebild_reloads_total moves).
Prints one JSON object on stdout.
"""
import argparse
import http.client
import json
import math
import os
import queue
import random
import signal
import socket
import sqlite3
import statistics
import threading
import time


def pct(v, p):
    s = sorted(v)
    k = (len(s) - 1) * p / 100.0
    f, c = math.floor(k), math.ceil(k)
    return s[f] if f == c else s[f] + (s[c] - s[f]) * (k - f)


def tile_of(lon, lat, z):
    n = 2 ** z
    x = int((lon + 180.0) / 360.0 * n)
    r = math.radians(lat)
    y = int((1.0 - math.log(math.tan(r) + 1.0 / math.cos(r)) / math.pi) / 2.0 * n)
    return x, y


class Client:
    def __init__(self, port):
        self.port = port
        self.c = None

    def req(self, method, path, token, body=None, ctype=None):
        for attempt in range(2):
            if self.c is None:
                self.c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
            h = {"Authorization": "Bearer " + token}
            if ctype:
                h["Content-Type"] = ctype
            try:
                self.c.request(method, path, body=body, headers=h)
                r = self.c.getresponse()
                data = r.read()
                if r.getheader("Connection", "").lower() == "close":
                    self.c.close()
                    self.c = None
                return r.status, data
            except (http.client.HTTPException, OSError):
                self.c.close()
                self.c = None
                if attempt:
                    raise
        raise RuntimeError("unreachable")


def features(prefix, n, rnd):
    out = []
    for i in range(n):
        lon, lat = rnd.uniform(6.5, 14.5), rnd.uniform(47.8, 54.5)
        out.append({"type": "Feature",
                    "properties": {"id": "%s-%d" % (prefix, i), "typ": "Lagemeldung",
                                   "bezeichnung": "Push %s %d" % (prefix, i), "status": "aktiv",
                                   "einstufung": "OFFEN", "freigabe": "police"},
                    "geometry": {"type": "Point", "coordinates": [round(lon, 7), round(lat, 7)]}})
    return out


def body(feats):
    return json.dumps({"type": "FeatureCollection", "features": feats}).encode()


class Events(threading.Thread):
    """An /events stream; every message with its arrival time goes to q."""

    def __init__(self, port, token):
        super().__init__(daemon=True)
        self.q = queue.Queue()
        self.s = socket.create_connection(("127.0.0.1", port))
        self.s.sendall(("GET /events?token=%s HTTP/1.1\r\nHost: x\r\n\r\n" % token).encode())
        self.ready = threading.Event()

    def run(self):
        buf = b""
        while True:
            d = self.s.recv(65536)
            if not d:
                return
            now = time.monotonic()
            buf += d
            while b"\n\n" in buf:
                msg, buf = buf.split(b"\n\n", 1)
                if b": connected" in msg:
                    self.ready.set()
                for line in msg.split(b"\n"):
                    if line.startswith(b"data: "):
                        self.q.put((now, json.loads(line[6:])))


def latency(a, cl, ev, rnd):
    ack, evt, tile = [], [], []
    for i in range(a.updates):
        f = features("BENCH-LAT-%d" % i, 1, rnd)[0]
        lon, lat = f["geometry"]["coordinates"]
        x, y = tile_of(lon, lat, 14)
        path = "/maps/lage/14/%d/%d.png" % (x, y)
        st, before = cl.req("GET", path, a.reader)
        assert st == 200, st
        while not ev.q.empty():
            ev.q.get_nowait()
        t0 = time.monotonic()
        st, data = cl.req("POST", "/sources/%s/features" % a.source, a.writer,
                          body([f]), "application/geo+json")
        t1 = time.monotonic()
        assert st == 200, (st, data)
        while True:
            t2, e = ev.q.get(timeout=60)
            b = e["bbox"]
            if e["layer"] == "police" and b[0] <= lon <= b[2] and b[1] <= lat <= b[3]:
                break
        while True:
            st, after = cl.req("GET", path, a.reader)
            t3 = time.monotonic()
            if st == 200 and after != before:
                break
            if t3 - t0 > 60:
                raise RuntimeError("tile %s did not change" % path)
        ack.append(t1 - t0)
        evt.append(t2 - t0)
        tile.append(t3 - t0)
    r = {}
    for name, v in (("ack", ack), ("event", evt), ("tile", tile)):
        r[name] = {"p50_ms": round(pct(v, 50) * 1e3, 1), "p99_ms": round(pct(v, 99) * 1e3, 1),
                   "max_ms": round(max(v) * 1e3, 1), "mean_ms": round(statistics.mean(v) * 1e3, 1)}
    return r


def baseline_db(path):
    for ext in ("", "-wal", "-shm"):
        try:
            os.unlink(path + ext)
        except FileNotFoundError:
            pass
    db = sqlite3.connect(path, isolation_level=None)
    db.enable_load_extension(True)
    db.load_extension("mod_spatialite")
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("SELECT InitSpatialMetadata(1)")
    db.execute("CREATE TABLE pts (pk INTEGER PRIMARY KEY, id TEXT UNIQUE, kind TEXT, name TEXT,"
               " status TEXT, level TEXT, groups TEXT)")
    db.execute("SELECT AddGeometryColumn('pts', 'geom', 4326, 'POINT', 'XY')")
    db.execute("SELECT CreateSpatialIndex('pts', 'geom')")
    return db


def baseline_batch(db, feats):
    db.execute("BEGIN IMMEDIATE")
    for f in feats:
        p = f["properties"]
        x, y = f["geometry"]["coordinates"]
        db.execute("INSERT OR REPLACE INTO pts(id, kind, name, status, level, groups, geom)"
                   " VALUES (?,?,?,?,?,?, MakePoint(?,?,4326))",
                   (p["id"], p["typ"], p["bezeichnung"], p["status"], p["einstufung"],
                    p["freigabe"], x, y))
    db.execute("COMMIT")


def throughput(a, cl, rnd):
    db = baseline_db(a.baseline_db)
    out = {}
    for size, posts in ((1, 200), (100, 30), (10000, 3)):
        batches = [features("BENCH-TP%d-%d" % (size, k), size, rnd) for k in range(posts)]
        bodies = [body(b) for b in batches]
        t0 = time.monotonic()
        for b in bodies:
            st, data = cl.req("POST", "/sources/%s/features" % a.source, a.writer, b,
                              "application/geo+json")
            assert st == 200, (st, data[:300])
        t = time.monotonic() - t0
        t0 = time.monotonic()
        for b in batches:
            baseline_batch(db, b)
        tb = time.monotonic() - t0
        n = size * posts
        out[str(size)] = {"posts": posts, "features": n, "seconds": round(t, 3),
                          "features_per_s": round(n / t, 1),
                          "baseline_seconds": round(tb, 3),
                          "baseline_features_per_s": round(n / tb, 1),
                          "ratio": round((n / t) / (n / tb), 3)}
    db.close()
    return out


def reload_baseline(a, cl, rounds=3):
    def reloads():
        st, data = cl.req("GET", "/metrics", a.admin)
        for line in data.decode().splitlines():
            if line.startswith("lagebild_reloads_total "):
                return int(line.split()[1])
        return -1
    v = []
    for _ in range(rounds):
        n0 = reloads()
        t0 = time.monotonic()
        os.kill(a.server_pid, signal.SIGHUP)
        while reloads() == n0:
            time.sleep(0.05)
            if time.monotonic() - t0 > 300:
                raise RuntimeError("no reload")
        v.append(time.monotonic() - t0)
    return {"rounds": rounds, "median_s": round(statistics.median(v), 3),
            "all_s": [round(x, 3) for x in v]}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--writer", required=True)
    ap.add_argument("--reader", required=True)
    ap.add_argument("--admin", required=True)
    ap.add_argument("--source", required=True)
    ap.add_argument("--server-pid", type=int, required=True)
    ap.add_argument("--baseline-db", required=True)
    ap.add_argument("--updates", type=int, default=200)
    a = ap.parse_args()
    rnd = random.Random(7)
    cl = Client(a.port)
    ev = Events(a.port, a.reader)
    ev.start()
    ev.ready.wait(10)
    res = {"latency": latency(a, cl, ev, rnd)}
    res["reload_baseline"] = reload_baseline(a, cl)
    res["throughput"] = throughput(a, cl, rnd)
    print(json.dumps(res))


if __name__ == "__main__":
    main()
