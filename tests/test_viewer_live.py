#!/usr/bin/python3
"""The viewer refreshes the affected tiles by itself after a push.

A headless Chromium (real time, no virtual time budget) shows the map; once
its event stream is open (it revalidates the visible tiles then: 304s), a
square is POSTed to a source.  The server's request log must then show the
viewer fetching again exactly the visible tiles that meet the square (with
new content, 200) and none of the others, without a page reload.

  test_viewer_live.py LAGEBILD_BINARY SOURCE_DIR
"""
import hashlib
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request


def tile_bounds(z, x, y):
    n = 2 ** z
    lon0, lon1 = x / n * 360 - 180, (x + 1) / n * 360 - 180
    lat = lambda t: math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * t / n))))
    return lon0, lat(y + 1), lon1, lat(y)


def main():
    binary, _src = sys.argv[1], sys.argv[2]
    chrome = "/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else shutil.which("chromium")
    if not chrome:
        print("FAIL: chromium not installed (apt-get install -y chromium)")
        return 1
    tmp = tempfile.mkdtemp(prefix="lbtest-viewer-live-")
    server = browser = None
    try:
        h = hashlib.sha256(b"t-w").hexdigest()
        with open(os.path.join(tmp, "empty.geojson"), "w") as f:
            f.write('{"type":"FeatureCollection","features":[]}')
        with open(os.path.join(tmp, "c.yaml"), "w") as f:
            f.write(f"""store: {{path: s.sqlite}}
groups: [police]
layers:
  incidents: {{title: Einsaetze, style: police}}
sources:
  p:
    path: empty.geojson
    crs: EPSG:4326
    layer: incidents
    agency: police
    fid: id
    mapping: {{kind: typ}}
    label: {{level: VS-NfD, releasable_to: [police]}}
maps:
  lage: {{title: Lage, layers: [incidents]}}
roles:
  w: {{title: W, clearance: {{level: VS-NfD, groups: [police]}}, layers: ["*"], write: [p]}}
tokens:
  t-w: {{hash: "sha256:{h}", roles: [w]}}
""")
        log = open(os.path.join(tmp, "server.err"), "w+")
        server = subprocess.Popen([binary, "serve", "--config", os.path.join(tmp, "c.yaml"),
                                   "--listen", "127.0.0.1:0", "--threads", "8"],
                                  stdout=subprocess.PIPE, stderr=log, text=True)
        line = server.stdout.readline()
        m = re.search(r"127\.0\.0\.1:(\d+)", line)
        if not m:
            print("FAIL: server did not start:", line)
            return 1
        base = f"http://127.0.0.1:{m.group(1)}"
        udd = os.path.join(tmp, "chromium")
        os.mkdir(udd)
        browser = subprocess.Popen(
            [chrome, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={udd}", "--window-size=800,600", "--remote-debugging-port=0",
             "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
             f"{base}/view/lage?token=t-w&bbox=9.2,52.0,9.6,52.2"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=dict(os.environ, HOME=udd),
            start_new_session=True)

        def requests():
            log.flush()
            with open(log.name) as f:
                return re.findall(r'lagebild: t-w GET "/maps/lage/(\d+)/(\d+)/(\d+)\.png" (\d+)',
                                  f.read())

        # the stream is open once the visible tiles were revalidated (304)
        deadline = time.time() + 60
        while time.time() < deadline and not any(r[3] == "304" for r in requests()):
            time.sleep(0.2)
        time.sleep(1.0)
        before = requests()
        visible = {(int(z), int(x), int(y)) for z, x, y, _ in before}
        if not visible or not any(r[3] == "304" for r in before):
            print("FAIL: the viewer did not load tiles and open its event stream", before)
            return 1
        body = ('{"type":"FeatureCollection","features":[{"type":"Feature","properties":'
                '{"id":"live1","typ":"a"},"geometry":{"type":"Polygon","coordinates":'
                '[[[9.3,52.05],[9.5,52.05],[9.5,52.15],[9.3,52.15],[9.3,52.05]]]}}]}')
        req = urllib.request.Request(f"{base}/sources/p/features", data=body.encode(),
                                     headers={"Authorization": "Bearer t-w"}, method="POST")
        with urllib.request.urlopen(req, timeout=30) as r:
            assert r.status == 200
        deadline = time.time() + 20
        after = []
        while time.time() < deadline:
            after = requests()[len(before):]
            if after:
                time.sleep(2.0)  # let every refetch of this event arrive
                after = requests()[len(before):]
                break
            time.sleep(0.2)
        zoom = next(iter(visible))[0]
        # the viewer widens the box by 32 px for markers and strokes
        m = 32 * 360 / (256 * 2 ** zoom)
        meets = set()
        for t in visible:
            w, s, e, n = tile_bounds(*t)
            if w <= 9.5 + m and e >= 9.3 - m and s <= 52.15 + m and n >= 52.05 - m:
                meets.add(t)
        refetched = {(int(z), int(x), int(y)) for z, x, y, st in after}
        fresh = {(int(z), int(x), int(y)) for z, x, y, st in after if st == "200"}
        ok = True
        if refetched != meets:
            print(f"FAIL: refetched {sorted(refetched)}, expected exactly {sorted(meets)}")
            ok = False
        if not fresh:
            print("FAIL: no refetched tile had new content")
            ok = False
        if len(meets) == len(visible):
            print("FAIL: the test square should not meet every visible tile")
            ok = False
        print(f"{'ok' if ok else 'FAIL'}: {len(visible)} tiles visible, {len(meets)} meet the "
              f"change, refetched {len(refetched)} ({len(fresh)} with new content)")
        return 0 if ok else 1
    finally:
        if browser:
            os.killpg(browser.pid, signal.SIGKILL)
            browser.wait()
        if server:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
