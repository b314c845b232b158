#!/usr/bin/python3
"""Browser test of the viewer (web/index.html, viewer.js, viewer.css).

Usage: test_viewer.py LAGEBILD_BINARY SOURCE_DIR

Copies the demo to a temporary folder, ingests it, starts `lagebild serve`
on 127.0.0.1 (port 0), and opens /view/lage in Debian's headless Chromium as
a wall display (?wall=1) for two principals:

  demo-lagezentrum  sees the VS-VERTRAULICH military features: red banners
  demo-kritis       sees at most VS-NfD: blue banners, no military layers

For each it checks the screenshot (banner colours at top and bottom, the
colours of styles/*.json in the map area, the legend panel), the DOM after
the page has run (banner class, legend layers with update times, the token
nowhere in the DOM), and that every tile the page requested (from the
server's audit log) is served with 200.  The server is always stopped with
SIGTERM at the end.  Set LB_VIEWER_SHOTS=DIR to keep the screenshots.

Prints 'N passed, N failed' last; exits non-zero on failure.
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

import numpy as np
from osgeo import gdal

gdal.UseExceptions()

# The demo's area (demo/README.md: everything within 9.15-9.60 E, 51.95-52.25 N).
DEMO_BBOX = "9.15,51.95,9.6,52.25"
WIDTH, HEIGHT = 1280, 800

passed = 0
failed = 0


def check(name, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print(f"ok   {name}" + (f" ({detail})" if detail and len(detail) < 60 else ""))
    else:
        failed += 1
        print(f"FAIL {name}" + (f": {detail}" if detail else ""))
    return ok


# --------------------------------------------------------------------------
# Server
# --------------------------------------------------------------------------

class Server:
    def __init__(self, binary, config, audit, web_dir, log):
        env = dict(os.environ, LAGEBILD_WEB_DIR=web_dir)
        self.log = open(log, "w")
        self.proc = subprocess.Popen(
            [binary, "serve", "--config", config, "--listen", "127.0.0.1:0", "--audit", audit],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, text=True)
        self.base = None
        found = threading.Event()

        def pump():
            for line in self.proc.stdout:
                self.log.write(line)
                self.log.flush()
                m = re.search(r"listening on (http://127\.0\.0\.1:\d+)", line)
                if m and not self.base:
                    self.base = m.group(1)
                    found.set()
            found.set()

        self.thread = threading.Thread(target=pump, daemon=True)
        self.thread.start()
        found.wait(60)

    def stop(self):
        """SIGTERM, then wait; returns the exit code (None if it had to be killed)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                code = None
            else:
                code = self.proc.returncode
        else:
            code = self.proc.returncode
        self.thread.join(5)
        self.log.close()
        return code


def http(url, token=None):
    req = urllib.request.Request(url)
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


# --------------------------------------------------------------------------
# Chromium
# --------------------------------------------------------------------------

def chromium_binary():
    for c in ("/usr/bin/chromium", shutil.which("chromium") or ""):
        if c and os.access(c, os.X_OK):
            return c
    return None


def run_chromium(chrome, tmp, url, *, screenshot=None, dump_dom=False):
    """Runs headless Chromium on url; returns (returncode, stdout)."""
    udd = tempfile.mkdtemp(prefix="chromium-", dir=tmp)
    args = [chrome, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
            "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", f"--user-data-dir={udd}",
            f"--window-size={WIDTH},{HEIGHT}", "--virtual-time-budget=8000",
            "--hide-scrollbars",
            # nothing but this server can be reached: the page must not need it
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"]
    if screenshot:
        args.append(f"--screenshot={screenshot}")
    if dump_dom:
        args.append("--dump-dom")
    args.append(url)
    env = dict(os.environ, HOME=udd)
    p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                         text=True, start_new_session=True)
    try:
        out, err = p.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        out, err = p.communicate()
        return None, out
    shutil.rmtree(udd, ignore_errors=True)
    return p.returncode, out


# --------------------------------------------------------------------------
# Images and colours
# --------------------------------------------------------------------------

def read_png(path):
    """The image as an (h, w, 3) uint8 array."""
    ds = gdal.Open(path)
    a = ds.ReadAsArray()  # (bands, h, w)
    ds = None
    if a.ndim == 2:
        a = np.stack([a, a, a])
    return np.transpose(a[:3], (1, 2, 0)).astype(np.int16)


def hex_rgb(h):
    h = h.lstrip("#")
    return tuple(int(h[i:i + 2], 16) for i in (0, 2, 4))


def style_colours(path):
    """The distinct chromatic #rrggbb colours of a style file (white and
    greys are left out: they are everywhere)."""
    found = set()

    def walk(v):
        if isinstance(v, str) and re.fullmatch(r"#[0-9a-fA-F]{6}", v):
            r, g, b = hex_rgb(v)
            if max(r, g, b) - min(r, g, b) > 40:
                found.add((r, g, b))
        elif isinstance(v, list):
            for x in v:
                walk(x)
        elif isinstance(v, dict):
            for x in v.values():
                walk(x)

    with open(path, encoding="utf-8") as f:
        walk(json.load(f).get("layers", []))
    return sorted(found)


def count_colours(region, colours, tol=10):
    mask = np.zeros(region.shape[:2], dtype=bool)
    for c in colours:
        mask |= np.all(np.abs(region - np.array(c, dtype=np.int16)) <= tol, axis=-1)
    return int(mask.sum())


def banner_colours(css_path):
    with open(css_path, encoding="utf-8") as f:
        css = f.read()
    return {m.group(1): hex_rgb(m.group(2))
            for m in re.finditer(r"--lb-level-([a-z-]+)-bg:\s*(#[0-9a-fA-F]{6})", css)}


LEVEL_KEY = {"OFFEN": "offen", "VS-NfD": "vs-nfd", "VS-VERTRAULICH": "vs-vertraulich",
             "GEHEIM": "geheim", None: "none"}


# --------------------------------------------------------------------------
# The checks of one page
# --------------------------------------------------------------------------

def check_screenshot(tag, png, level, banners, present, absent):
    """present/absent: {name: colours} expected in / not in the map area."""
    img = read_png(png)
    h, w = img.shape[:2]
    if not check(f"{tag}: screenshot is {WIDTH}x{HEIGHT}", (w, h) == (WIDTH, HEIGHT), f"{w}x{h}"):
        return
    want = banners[LEVEL_KEY[level]]
    for where, strip in (("top", img[3:28]), ("bottom", img[h - 28:h - 3])):
        frac = count_colours(strip, [want], tol=12) / (strip.shape[0] * strip.shape[1])
        check(f"{tag}: {where} banner has the {level} colour {want}", frac > 0.6,
              f"{frac:.0%} of the strip")
        for other, c in banners.items():
            if c != want and other in ("offen", "vs-nfd", "vs-vertraulich", "geheim"):
                n = count_colours(strip, [c], tol=6)
                check(f"{tag}: {where} banner has no {other} colour", n < 20, f"{n} pixels")

    # The legend: top right below the banner (viewer.css: right 12px,
    # width 400px in wall mode); the map: everything left of it.
    legend = img[60:h - 60, w - 400:w - 20]
    panel = img[60:380, w - 400:w - 20]  # the panel is at least this tall
    white = np.all(panel >= 235, axis=-1).mean()
    dark = int(np.all(panel <= 90, axis=-1).sum())
    check(f"{tag}: legend panel drawn (light panel with text)", white > 0.5 and dark > 800,
          f"{white:.0%} light, {dark} dark pixels")
    mapping = img[50:h - 50, 0:w - 430]
    for name, cols in present.items():
        n = count_colours(mapping, cols)
        check(f"{tag}: {name} colours in the map area", n >= 25, f"{n} pixels")
        n = count_colours(legend, cols)
        check(f"{tag}: {name} symbols in the legend", n >= 8, f"{n} pixels")
    for name, cols in absent.items():
        n = count_colours(mapping, cols)
        check(f"{tag}: no {name} colours in the map area", n < 5, f"{n} pixels")
        n = count_colours(legend, cols)
        check(f"{tag}: no {name} symbols in the legend", n < 5, f"{n} pixels")


def check_dom(tag, dom, token, level, layers_json, want_titles, absent_titles):
    check(f"{tag}: DOM dumped", bool(dom and "<body" in dom), (dom or "")[:200])
    check(f"{tag}: token not in the DOM", token not in dom)
    m = re.search(r'<div id="banner-top" class="banner ([^"]*)"', dom)
    cls = f"lvl-{LEVEL_KEY[level]}"
    check(f"{tag}: top banner shows {level}", bool(m) and m.group(1) == cls,
          m.group(1) if m else "no banner")
    m = re.search(r'<div id="banner-bottom" class="banner ([^"]*)"', dom)
    check(f"{tag}: bottom banner shows {level}", bool(m) and m.group(1) == cls,
          m.group(1) if m else "no banner")
    rows = re.findall(r'<li class="legend-layer"><span class="legend-layer-title">([^<]*)</span>'
                      r'<time class="legend-layer-time"[^>]*datetime="([^"]*)"', dom)
    titles = [t for t, _ in rows]
    expected = [(L["title"], L["updated_at"]) for L in layers_json["layers"]]
    check(f"{tag}: legend lists every visible layer with its update time",
          sorted(rows) == sorted(expected), f"{rows} vs {expected}")
    for t in want_titles:
        check(f"{tag}: legend shows {t!r}", t in titles)
    for t in absent_titles:
        check(f"{tag}: legend does not show {t!r}", t not in titles)
    ext = [u for u in re.findall(r'(?:src|href)="([^"]*)"', dom)
           if re.match(r"[a-z]+:", u) and not u.startswith(("blob:http://127.0.0.1", "http://127.0.0.1"))]
    check(f"{tag}: nothing in the DOM points outside the server", not ext, str(ext[:5]))


def audit_tiles(audit, principal, after_seq):
    """Tiles (z, x, y) the principal requested after after_seq; last seq."""
    tiles, outcomes, last = [], set(), after_seq
    try:
        with open(audit, encoding="utf-8") as f:
            for line in f:
                try:
                    rec = json.loads(line)
                except ValueError:
                    continue
                last = max(last, rec.get("seq", 0))
                if rec.get("seq", 0) <= after_seq or rec.get("principal") != principal:
                    continue
                m = re.match(r"tile lage/[^/]+/(\d+)/(\d+)/(\d+)$", rec.get("resource", ""))
                if m:
                    tiles.append(tuple(int(v) for v in m.groups()))
                    outcomes.add(rec.get("outcome"))
    except OSError:
        pass
    return sorted(set(tiles)), outcomes, last


def check_tiles(tag, base, token, tiles, outcomes):
    check(f"{tag}: the page requested tiles", len(tiles) >= 4, f"{len(tiles)} tiles")
    check(f"{tag}: every tile request was released", outcomes <= {"released"}, str(outcomes))
    bad = []
    for z, x, y in tiles[:80]:
        st, hd, body = http(f"{base}/maps/lage/{z}/{x}/{y}.png", token)
        if st != 200 or not body.startswith(b"\x89PNG"):
            bad.append((z, x, y, st))
    check(f"{tag}: the page's tiles are served with 200 (checked {min(len(tiles), 80)})",
          not bad, str(bad[:5]))


# --------------------------------------------------------------------------

def main():
    if len(sys.argv) != 3:
        print("usage: test_viewer.py LAGEBILD_BINARY SOURCE_DIR", file=sys.stderr)
        return 2
    binary, src = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    web = os.path.join(src, "web")
    tmp = tempfile.mkdtemp(prefix="lb-viewer-")
    keep = os.environ.get("LB_VIEWER_SHOTS")
    server = None
    try:
        # ---- static files ------------------------------------------------
        for f in ("index.html", "viewer.js", "viewer.css", "package.json", "package-lock.json"):
            check(f"web/{f} exists", os.path.isfile(os.path.join(web, f)))
        vendored = all(os.path.isfile(os.path.join(web, f)) for f in ("leaflet.js", "leaflet.css"))
        if not check("web/leaflet.js and web/leaflet.css installed", vendored,
                     "run: (cd web && npm ci --no-audit --no-fund)"):
            return 1
        for f in ("index.html", "viewer.js", "viewer.css"):
            with open(os.path.join(web, f), encoding="utf-8") as fh:
                text = fh.read()
            urls = [u for u in re.findall(r"(?:https?:)?//[A-Za-z0-9.-]+\.[a-z]{2,}[^\s\"')]*", text)
                    if "www.w3.org/2000/svg" not in u]
            check(f"web/{f} loads nothing from outside", not urls, str(urls[:3]))
        with open(os.path.join(web, "index.html"), encoding="utf-8") as fh:
            html = fh.read()
        check("index.html has no inline scripts",
              all(re.search(r'\bsrc="', s) for s in re.findall(r"<script[^>]*>", html)))
        chrome = chromium_binary()
        if not check("chromium installed", chrome is not None, "apt-get install -y chromium"):
            return 1
        banners = banner_colours(os.path.join(web, "viewer.css"))
        check("viewer.css defines the banner colours",
              all(k in banners for k in LEVEL_KEY.values()), str(banners))
        styles = {n: style_colours(os.path.join(src, "styles", f"{n}.json"))
                  for n in ("police", "fire", "military", "kritis")}
        check("style colours found", all(styles.values()), str(styles))

        # ---- demo and server ---------------------------------------------
        shutil.copytree(os.path.join(src, "demo"), os.path.join(tmp, "demo"),
                        ignore=shutil.ignore_patterns("*.sqlite*", "*.audit.jsonl*", "__pycache__"))
        config = os.path.join(tmp, "demo", "lagebild.yaml")
        r = subprocess.run([binary, "ingest", "--config", config], cwd=tmp,
                           capture_output=True, text=True, timeout=300)
        if not check("demo ingested", r.returncode == 0, r.stderr[-2000:]):
            return 1
        audit = os.path.join(tmp, "audit.jsonl")
        server = Server(binary, config, audit, web, os.path.join(tmp, "serve.log"))
        if not check("server started", server.base is not None,
                     open(os.path.join(tmp, "serve.log")).read()[-2000:]):
            return 1
        base = server.base

        st, hd, body = http(f"{base}/view/lage")
        check("/view/lage serves web/index.html without a token",
              st == 200 and hd.get("Content-Type", "").startswith("text/html")
              and body.decode("utf-8") == html, f"HTTP {st}")
        for f in ("viewer.js", "viewer.css", "leaflet.js", "leaflet.css"):
            st, _, _ = http(f"{base}/web/{f}")
            check(f"/web/{f} served", st == 200, f"HTTP {st}")

        # ---- the two principals ------------------------------------------
        cases = [
            # principal, expected level, colours present, colours absent,
            # legend titles present, legend titles absent
            ("demo-lagezentrum", "VS-VERTRAULICH",
             {k: styles[k] for k in ("police", "fire", "military", "kritis")}, {},
             ["Evakuierungszonen", "Einsatzabschnitte Feuerwehr", "Einheiten Bundeswehr",
              "Hochspannungsleitungen"], []),
            ("demo-kritis", "VS-NfD",
             {k: styles[k] for k in ("police", "fire", "kritis")}, {"military": styles["military"]},
             ["Evakuierungszonen", "Hochspannungsleitungen", "Umspannwerke"],
             ["Einheiten Bundeswehr", "Marschstraßen Bundeswehr", "Verfügungsräume Bundeswehr"]),
        ]
        seq = 0
        for token, level, present, absent, want_titles, absent_titles in cases:
            tag = token
            st, _, body = http(f"{base}/maps/lage/classification?bbox={DEMO_BBOX}", token)
            got = json.loads(body).get("level") if st == 200 else f"HTTP {st}"
            check(f"{tag}: server classification of the demo area is {level}", got == level, str(got))
            st, _, body = http(f"{base}/maps/lage/layers.json", token)
            if not check(f"{tag}: layers.json", st == 200, f"HTTP {st}"):
                continue
            layers_json = json.loads(body)

            url = f"{base}/view/lage?token={token}&wall=1&bbox={DEMO_BBOX}"
            png = os.path.join(tmp, f"{token}-wall.png")
            rc, _ = run_chromium(chrome, tmp, url, screenshot=png)
            if check(f"{tag}: chromium took a screenshot", rc == 0 and os.path.isfile(png), f"rc {rc}"):
                check_screenshot(tag, png, level, banners, present, absent)
            tiles, outcomes, seq = audit_tiles(audit, token, seq)
            check_tiles(tag, base, token, tiles, outcomes)

            rc, dom = run_chromium(chrome, tmp, url, dump_dom=True)
            check_dom(tag, dom or "", token, level, layers_json, want_titles, absent_titles)
            _, _, seq = audit_tiles(audit, token, seq)

        # The wall URL without bbox= (the view comes from the TileJSON).
        token = "demo-lagezentrum"
        png = os.path.join(tmp, f"{token}-wall-tilejson.png")
        rc, _ = run_chromium(chrome, tmp, f"{base}/view/lage?token={token}&wall=1", screenshot=png)
        if check("wall=1 without bbox: screenshot", rc == 0 and os.path.isfile(png), f"rc {rc}"):
            img = read_png(png)
            want = banners["vs-vertraulich"]
            frac = count_colours(img[3:28], [want], tol=12) / (25 * img.shape[1])
            check("wall=1 without bbox: VS-VERTRAULICH banner", frac > 0.6, f"{frac:.0%}")
        tiles, outcomes, seq = audit_tiles(audit, token, seq)
        check_tiles("wall=1 without bbox", base, token, tiles, outcomes)

        # A bad token: no data, a message, neutral banners.
        rc, dom = run_chromium(chrome, tmp, f"{base}/view/lage?token=no-such-token&wall=1", dump_dom=True)
        dom = dom or ""
        m = re.search(r'<div id="banner-top" class="banner ([^"]*)"', dom)
        check("bad token: neutral KEINE DATEN banner",
              bool(m) and m.group(1) == "lvl-none" and "KEINE DATEN" in dom,
              m.group(1) if m else "no banner")
        check("bad token: message shown",
              re.search(r'<div id="message" class="message" role="alert">Zugang verweigert', dom)
              is not None)
        check("bad token: not in the DOM", "no-such-token" not in dom)

        if keep:
            os.makedirs(keep, exist_ok=True)
            for f in os.listdir(tmp):
                if f.endswith(".png"):
                    shutil.copy(os.path.join(tmp, f), keep)
            print(f"screenshots kept in {keep}")
    finally:
        if server is not None:
            code = server.stop()
            check("server stopped on SIGTERM", code is not None,
                  "had to be killed" if code is None else f"exit {code}")
        shutil.rmtree(tmp, ignore_errors=True)
        print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
