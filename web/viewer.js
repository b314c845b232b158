/*
 * lagebild viewer: one map of the server, for browsers and wall displays.
 *
 * The page is served at {prefix}/view/{map}; it reads the map id from its
 * own path and the access token from the ?token= parameter of its own URL.
 * The token is kept in this closure only: every request carries it as an
 * "Authorization: Bearer" header, tiles are fetched by script and shown
 * through blob: URLs, so it never appears in the DOM.
 *
 * URL parameters:
 *   token=TOKEN      access token (required)
 *   wall=1           wall display: no zoom/attribution controls, no legend
 *                    toggle; the legend stays visible
 *   bbox=W,S,E,N     area to fit (degrees); default: the TileJSON bounds,
 *                    else its center
 *   refresh=SECONDS  reload tiles, legend and classification periodically
 *                    (at least 5 s)
 *
 * Plain ES2017, no framework; Leaflet comes from the npm registry and is
 * copied next to this file (see package.json / install.sh).
 */
(() => {
  'use strict';

  /* ---------------------------------------------------------------- */
  /* Parameters                                                       */
  /* ---------------------------------------------------------------- */

  const params = new URLSearchParams(window.location.search);
  const token = params.get('token') || '';
  const wall = /^(1|true|yes|ja|on)$/i.test(params.get('wall') || '');

  function parseBbox(s) {
    if (!s) return null;
    const v = s.split(',').map(Number);
    if (v.length !== 4 || !v.every(Number.isFinite)) return null;
    const [w, so, e, n] = v;
    if (!(e > w && n > so) || w < -180 || e > 180 || so < -90 || n > 90) return null;
    return v;
  }

  function parseRefresh(s) {
    const n = Number(s);
    if (!s || !Number.isFinite(n) || n <= 0) return 0;
    return Math.max(5, n);
  }

  const bboxParam = parseBbox(params.get('bbox'));
  const refreshSeconds = parseRefresh(params.get('refresh'));

  /* The page lives at {prefix}/view/{map} (or {prefix}/web/index.html?map=). */
  function locate() {
    const path = window.location.pathname;
    let m = /^(.*)\/view\/([^/]+)\/?$/.exec(path);
    if (m) return { prefix: m[1], map: decodeURIComponent(m[2]) };
    m = /^(.*)\/web\/[^/]*$/.exec(path);
    return { prefix: m ? m[1] : '', map: params.get('map') || '' };
  }
  const { prefix, map: mapId } = locate();

  /* ---------------------------------------------------------------- */
  /* Requests                                                         */
  /* ---------------------------------------------------------------- */

  class HttpError extends Error {
    constructor(status, url) {
      super(`HTTP ${status}`);
      this.status = status;
      this.url = url;
    }
  }

  function authHeaders() {
    return { Authorization: `Bearer ${token}` };
  }

  function apiUrl(path) {
    return `${prefix}/maps/${encodeURIComponent(mapId)}${path}`;
  }

  async function getJSON(url, cache) {
    const res = await fetch(url, { headers: authHeaders(), cache: cache || 'no-cache' });
    if (!res.ok) throw new HttpError(res.status, url);
    return res.json();
  }

  /* A tile URL template without its token parameter (the header carries it). */
  function withoutToken(template) {
    const q = template.indexOf('?');
    if (q < 0) return template;
    const rest = new URLSearchParams(template.slice(q + 1));
    rest.delete('token');
    const qs = rest.toString();
    return template.slice(0, q) + (qs ? `?${qs}` : '');
  }

  /* ---------------------------------------------------------------- */
  /* Classification banners                                           */
  /* ---------------------------------------------------------------- */

  const LEVELS = {
    'OFFEN': { cls: 'lvl-offen', text: 'OFFEN' },
    'VS-NfD': { cls: 'lvl-vs-nfd', text: 'VS – NUR FÜR DEN DIENSTGEBRAUCH' },
    'VS-VERTRAULICH': { cls: 'lvl-vs-vertraulich', text: 'VS – VERTRAULICH' },
    'GEHEIM': { cls: 'lvl-geheim', text: 'GEHEIM' },
  };
  const banners = [document.getElementById('banner-top'), document.getElementById('banner-bottom')];

  function showBanner(cls, text, title) {
    for (const b of banners) {
      b.className = `banner ${cls}`;
      b.textContent = text;
      b.title = title || '';
    }
  }

  function setLevel(level) {
    if (level === null || level === undefined) {
      showBanner('lvl-none', 'KEINE DATEN', 'Im Kartenausschnitt sind keine Daten sichtbar.');
      return;
    }
    /* A level this viewer does not know is treated like the highest one. */
    const l = LEVELS[level] || { cls: 'lvl-geheim', text: String(level).toUpperCase() };
    showBanner(l.cls, l.text, 'Höchste Einstufung der Daten im Kartenausschnitt');
  }

  function setLevelUnknown(why) {
    showBanner('lvl-unknown', 'EINSTUFUNG UNBEKANNT', why);
  }

  /* ---------------------------------------------------------------- */
  /* Messages                                                         */
  /* ---------------------------------------------------------------- */

  const messageEl = document.getElementById('message');

  function showMessage(text) {
    messageEl.textContent = text;
    messageEl.hidden = !text;
  }

  function describe(err, what) {
    if (err instanceof HttpError) {
      if (err.status === 401) return 'Zugang verweigert: Token fehlt, ist ungültig oder wurde widerrufen.';
      if (err.status === 404) return `${what} nicht gefunden oder für diesen Zugang nicht freigegeben.`;
      return `${what}: Serverfehler (HTTP ${err.status}).`;
    }
    return `${what}: Server nicht erreichbar.`;
  }

  /* ---------------------------------------------------------------- */
  /* Time                                                             */
  /* ---------------------------------------------------------------- */

  const dateTimeFmt = new Intl.DateTimeFormat('de-DE', {
    day: '2-digit', month: '2-digit', year: 'numeric', hour: '2-digit', minute: '2-digit',
  });
  const timeFmt = new Intl.DateTimeFormat('de-DE', {
    hour: '2-digit', minute: '2-digit', second: '2-digit',
  });

  const dayFmt = new Intl.DateTimeFormat('de-DE', { day: '2-digit', month: '2-digit', year: 'numeric' });
  const dmFmt = new Intl.DateTimeFormat('de-DE', { day: '2-digit', month: '2-digit' });
  const hmFmt = new Intl.DateTimeFormat('de-DE', { hour: '2-digit', minute: '2-digit' });

  /* An ISO 8601 time in local time: {short: "heute 17:03", "25.11. 17:03"
   * or "25.11.2025 17:03"; full: "26.11.2026, 17:03 Uhr"}. */
  function localTime(iso) {
    if (!iso) return null;
    const d = new Date(iso);
    if (Number.isNaN(d.getTime())) return null;
    const now = new Date();
    const full = `${dateTimeFmt.format(d)} Uhr`;
    let day;
    if (dayFmt.format(d) === dayFmt.format(now)) day = 'heute';
    else if (d.getFullYear() === now.getFullYear()) day = `${dmFmt.format(d)}.`;
    else day = dayFmt.format(d);
    return { short: `${day} ${hmFmt.format(d)}`, full };
  }

  /* ---------------------------------------------------------------- */
  /* Legend                                                           */
  /* ---------------------------------------------------------------- */

  const SVG = 'http://www.w3.org/2000/svg';
  const legendEl = document.getElementById('legend');
  const legendBody = document.getElementById('legend-body');
  const legendTitle = document.getElementById('legend-title');
  const legendFoot = document.getElementById('legend-foot');
  const legendToggle = document.getElementById('legend-toggle');
  const legendColHead = document.getElementById('legend-colhead');

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  /* parent's content becomes node (a node or fragment) */
  function setContent(parent, node) {
    while (parent.firstChild) parent.removeChild(parent.firstChild);
    parent.appendChild(node);
  }

  function svgEl(tag, attrs) {
    const e = document.createElementNS(SVG, tag);
    for (const k of Object.keys(attrs)) e.setAttribute(k, String(attrs[k]));
    return e;
  }

  /* Colours come from the server as "rgba(r,g,b,a)", "#rrggbb" or
   * "transparent"; anything else is not used. */
  function colour(c) {
    if (typeof c !== 'string') return 'none';
    if (c === 'transparent') return 'none';
    if (/^rgba?\(\s*[\d.]+\s*,\s*[\d.]+\s*,\s*[\d.]+\s*(,\s*[\d.]+\s*)?\)$/.test(c)) return c;
    if (/^#[0-9a-fA-F]{3,8}$/.test(c)) return c;
    return 'none';
  }

  function num(v, lo, hi, dflt) {
    const n = Number(v);
    return Number.isFinite(n) ? Math.min(hi, Math.max(lo, n)) : dflt;
  }

  /* The outline of a point marker of radius r centred at (cx, cy). */
  function markerShape(shape, cx, cy, r) {
    switch (shape) {
      case 'square':
        return svgEl('rect', { x: cx - r, y: cy - r, width: 2 * r, height: 2 * r });
      case 'triangle': {
        const hx = r * Math.sqrt(3) / 2;
        const pts = [[cx, cy - r], [cx + hx, cy + r / 2], [cx - hx, cy + r / 2]];
        return svgEl('polygon', { points: pts.map((p) => p.join(',')).join(' ') });
      }
      case 'cross': {
        const a = r / 5; /* bars r/2.5 thick */
        const p = [[a, -r], [a, -a], [r, -a], [r, a], [a, a], [a, r],
          [-a, r], [-a, a], [-r, a], [-r, -a], [-a, -a], [-a, -r]];
        return svgEl('polygon', { points: p.map(([x, y]) => `${cx + x},${cy + y}`).join(' ') });
      }
      default:
        return svgEl('circle', { cx, cy, r });
    }
  }

  /* A 28 x 20 swatch for one legend entry. */
  function swatch(entry) {
    const W = 28;
    const H = 20;
    const s = svgEl('svg', { width: W, height: H, viewBox: `0 0 ${W} ${H}`, 'aria-hidden': 'true' });
    s.classList.add('swatch');
    let shape;
    if (entry.type === 'fill') {
      shape = svgEl('rect', { x: 3, y: 3, width: W - 6, height: H - 6, rx: 1 });
      shape.style.fill = colour(entry.color);
      shape.style.stroke = colour(entry.outline);
      shape.style.strokeWidth = '1.5';
    } else if (entry.type === 'line') {
      shape = svgEl('path', { d: `M3,${H / 2} L${W - 3},${H / 2}` });
      const w = num(entry.width, 1, 7, 2);
      shape.style.fill = 'none';
      shape.style.stroke = colour(entry.color);
      shape.style.strokeWidth = String(w);
      shape.style.strokeLinecap = entry.dashed ? 'butt' : 'round';
      if (entry.dashed) shape.style.strokeDasharray = `${Math.max(3, 2 * w)} ${Math.max(2, 1.2 * w)}`;
    } else if (entry.type === 'circle') {
      const r = num(entry.radius, 3, 8, 5);
      shape = markerShape(entry.shape, W / 2, H / 2 + (entry.shape === 'triangle' ? r / 6 : 0), r);
      shape.style.fill = colour(entry.color);
      shape.style.stroke = colour(entry.outline);
      shape.style.strokeWidth = '1.2';
    } else {
      return s;
    }
    s.appendChild(shape);
    return s;
  }

  /* Layers drawn with the same symbols (the same style) share one block:
   * their titles and update times, then the symbols once. */
  function groupLayers(layers) {
    const groups = new Map();
    for (const layer of layers) {
      const legend = Array.isArray(layer.legend) ? layer.legend : [];
      const key = JSON.stringify(legend);
      if (!groups.has(key)) groups.set(key, { legend, layers: [] });
      groups.get(key).layers.push(layer);
    }
    return Array.from(groups.values());
  }

  function renderLegend(data) {
    legendTitle.textContent = data.title || data.map || mapId;
    document.title = `${data.title || mapId} – Lagebild`;
    const frag = document.createDocumentFragment();
    const layers = Array.isArray(data.layers) ? data.layers : [];
    for (const group of groupLayers(layers)) {
      const sec = el('section', 'legend-group');
      const names = el('ul', 'legend-layers');
      for (const layer of group.layers) {
        const li = el('li', 'legend-layer');
        li.appendChild(el('span', 'legend-layer-title', layer.title || layer.id));
        const when = localTime(layer.updated_at);
        const t = el('time', 'legend-layer-time', when ? when.short : 'unbekannt');
        if (when) t.dateTime = layer.updated_at;
        t.title = when ? `Daten zuletzt aktualisiert: ${when.full}` : 'Zeitpunkt der letzten Aktualisierung unbekannt';
        li.appendChild(t);
        names.appendChild(li);
      }
      sec.appendChild(names);
      const list = el('ul', 'legend-entries');
      for (const entry of group.legend) {
        const li = el('li', 'legend-entry');
        li.appendChild(swatch(entry));
        li.appendChild(el('span', 'legend-entry-title', entry.title || ''));
        list.appendChild(li);
      }
      sec.appendChild(list);
      frag.appendChild(sec);
    }
    if (layers.length) {
      legendColHead.hidden = false;
    } else {
      frag.appendChild(el('p', 'legend-note', 'Keine Ebenen freigegeben.'));
    }
    setContent(legendBody, frag);
    fitLegend();
  }

  /* On a wall nobody can scroll: if the legend does not fit, use a
   * smaller type, then two columns. */
  function fitLegend() {
    if (!wall) return;
    const steps = [[], ['small'], ['tiny'], ['cols-2'], ['cols-2', 'small'], ['cols-2', 'tiny']];
    for (const classes of steps) {
      legendEl.classList.remove('cols-2', 'small', 'tiny');
      legendEl.classList.add(...classes);
      if (legendBody.scrollHeight <= legendBody.clientHeight + 1) return;
    }
  }

  function stampRefresh() {
    legendFoot.textContent = `Anzeige aktualisiert: ${timeFmt.format(new Date())} Uhr`;
  }

  let mapLayerIds = null; /* the map's layers visible to us (for live events) */

  async function loadLegend() {
    try {
      const data = await getJSON(apiUrl('/layers.json'));
      if (data && Array.isArray(data.layers)) mapLayerIds = new Set(data.layers.map((l) => l.id));
      renderLegend(data);
      stampRefresh();
      return true;
    } catch (err) {
      setContent(legendBody, el('p', 'legend-note', describe(err, 'Legende')));
      return false;
    }
  }

  if (wall) {
    document.body.classList.add('wall');
    legendToggle.remove();
  } else {
    legendToggle.addEventListener('click', () => {
      const collapsed = legendEl.classList.toggle('collapsed');
      legendToggle.setAttribute('aria-expanded', String(!collapsed));
      legendToggle.textContent = collapsed ? 'Legende einblenden' : 'Legende ausblenden';
    });
  }

  /* ---------------------------------------------------------------- */
  /* Tiles: fetched with the token in a header, shown via blob: URLs  */
  /* ---------------------------------------------------------------- */

  const TokenTiles = L.GridLayer.extend({
    options: { cacheMode: 'default' },

    initialize(template, options) {
      this._template = template;
      L.GridLayer.prototype.initialize.call(this, options);
      this.on('tileunload', (e) => {
        if (e.tile.lbAbort) e.tile.lbAbort.abort();
      });
    },

    tileUrl(c) {
      const t = L.Browser.retina ? this._template.replace('{y}.png', '{y}@2x.png') : this._template;
      return t.replace('{z}', c.z).replace('{x}', c.x).replace('{y}', c.y);
    },

    createTile(coords, done) {
      const img = document.createElement('img');
      img.alt = '';
      img.setAttribute('role', 'presentation');
      const ctl = new AbortController();
      img.lbAbort = ctl;
      fetch(this.tileUrl(coords), {
        headers: authHeaders(), cache: this.options.cacheMode, signal: ctl.signal,
      }).then((res) => {
        if (res.status === 204 || res.status === 404) return null; /* nothing there */
        if (!res.ok) throw new HttpError(res.status, res.url);
        return res.blob();
      }).then((blob) => {
        img.lbAbort = null;
        if (!blob) {
          img.style.visibility = 'hidden';
          done(null, img);
          return;
        }
        const u = URL.createObjectURL(blob);
        img.onload = () => { URL.revokeObjectURL(u); done(null, img); };
        img.onerror = () => { URL.revokeObjectURL(u); done(new Error('Kachel nicht lesbar'), img); };
        img.src = u;
      }).catch((err) => {
        if (err.name === 'AbortError') return; /* tile removed meanwhile */
        img.style.visibility = 'hidden';
        if (err instanceof HttpError && err.status === 401) showMessage(describe(err, 'Kacheln'));
        done(err, img);
      });
      return img;
    },

    /* Fetch the tiles meeting bounds again (revalidated: unchanged tiles
     * answer 304) and swap each image in once it has loaded. */
    refreshIn(bounds) {
      for (const key of Object.keys(this._tiles)) {
        const t = this._tiles[key];
        if (!t.current || !this._tileCoordsToBounds(t.coords).intersects(bounds)) continue;
        const img = t.el;
        fetch(this.tileUrl(t.coords), { headers: authHeaders(), cache: 'no-cache' })
          .then((res) => {
            if (res.status === 404) return null;
            if (!res.ok) throw new HttpError(res.status, res.url);
            return res.blob();
          }).then((blob) => {
            if (!blob) { img.style.visibility = 'hidden'; return; }
            const u = URL.createObjectURL(blob);
            img.onload = () => { URL.revokeObjectURL(u); img.style.visibility = ''; };
            img.onerror = () => URL.revokeObjectURL(u);
            img.src = u;
          }).catch(() => { /* the next event or refresh tries again */ });
      }
    },
  });

  /* ---------------------------------------------------------------- */
  /* Start                                                            */
  /* ---------------------------------------------------------------- */

  function escapeHtml(s) {
    return String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  }

  function fail(text) {
    showMessage(text);
    showBanner('lvl-none', 'KEINE DATEN', text);
    setContent(legendBody, el('p', 'legend-note', 'Keine Legende.'));
  }

  async function start() {
    if (!mapId) { fail('Keine Karte angegeben.'); return; }
    if (!token) { fail('Kein Zugangstoken angegeben (URL-Parameter „token“).'); return; }

    const legendLoaded = loadLegend(); /* in parallel; its width matters for the fit */
    let tj;
    try {
      tj = await getJSON(`${prefix}/maps/${encodeURIComponent(mapId)}.json`);
    } catch (err) {
      fail(describe(err, `Karte „${mapId}“`));
      return;
    }
    const template = Array.isArray(tj.tiles) && typeof tj.tiles[0] === 'string' ? withoutToken(tj.tiles[0]) : null;
    if (!template) { fail('Die Karte liefert keine Kacheladresse.'); return; }

    const minZoom = num(tj.minzoom, 0, 24, 0);
    const maxZoom = num(tj.maxzoom, minZoom, 24, 20);
    const map = L.map('map', {
      crs: L.CRS.EPSG3857,
      zoomControl: !wall,
      attributionControl: !wall,
      minZoom,
      maxZoom,
      zoomSnap: wall ? 0.25 : 1,
      zoomDelta: wall ? 0.5 : 1,
      worldCopyJump: false,
    });
    if (!wall) {
      map.attributionControl.setPrefix('Leaflet');
      L.control.scale({ imperial: false, position: 'bottomleft' }).addTo(map);
    }

    const b = Array.isArray(tj.bounds) && tj.bounds.length === 4 && tj.bounds.every(Number.isFinite) ? tj.bounds : null;
    const tileOptions = {
      tileSize: 256,
      minZoom,
      maxZoom,
      maxNativeZoom: maxZoom,
      attribution: tj.attribution ? escapeHtml(tj.attribution) : '',
    };
    if (b) tileOptions.bounds = L.latLngBounds([b[1], b[0]], [b[3], b[2]]);
    let tiles = new TokenTiles(template, tileOptions).addTo(map);

    /* The initial view: bbox= parameter, else the TileJSON bounds, else
     * its center; the area is fitted beside the legend, not under it.
     * Until someone touches the map, it is fitted again whenever the map
     * changes size (wall displays switch resolution; windows are resized). */
    await legendLoaded;
    const fitTo = bboxParam || b;
    const legendWidth = () => (legendEl.classList.contains('collapsed') ? 0 : legendEl.offsetWidth + 12);
    function initialView() {
      if (fitTo) {
        map.fitBounds([[fitTo[1], fitTo[0]], [fitTo[3], fitTo[2]]], {
          paddingTopLeft: [8, 8],
          paddingBottomRight: [legendWidth() + 8, 8],
          animate: false,
        });
      } else if (Array.isArray(tj.center) && tj.center.length >= 2) {
        map.setView([tj.center[1], tj.center[0]], num(tj.center[2], minZoom, maxZoom, 6), { animate: false });
      } else {
        map.setView([51.2, 10.4], 6, { animate: false });
      }
    }
    let touched = false;
    for (const ev of ['mousedown', 'touchstart', 'wheel', 'keydown']) {
      map.getContainer().addEventListener(ev, () => { touched = true; }, { passive: true });
    }
    initialView();
    let refit = 0;
    map.on('resize', () => {
      fitLegend();
      /* after the resizing has settled: a re-fit reloads every tile */
      clearTimeout(refit);
      refit = setTimeout(() => { if (!touched) initialView(); }, 1000);
    });

    /* The banner: the highest classification of what is in the map's
     * bounds now.  Answers to older requests are dropped. */
    let seq = 0;
    async function updateClassification() {
      const mine = ++seq;
      const bb = map.getBounds();
      const clamp = (v, lo, hi) => Math.min(hi, Math.max(lo, v));
      const w = clamp(bb.getWest(), -180, 180);
      const e = clamp(bb.getEast(), -180, 180);
      const s = clamp(bb.getSouth(), -85.06, 85.06);
      const n = clamp(bb.getNorth(), -85.06, 85.06);
      if (!(e > w && n > s)) { setLevel(null); return; }
      const bbox = [w, s, e, n].map((v) => v.toFixed(6)).join(',');
      try {
        const r = await getJSON(apiUrl(`/classification?bbox=${bbox}`));
        if (mine === seq) setLevel(r.level);
      } catch (err) {
        if (mine !== seq) return;
        setLevelUnknown(describe(err, 'Einstufung'));
        if (err instanceof HttpError && err.status === 401) showMessage(describe(err, 'Einstufung'));
      }
    }
    map.on('moveend', updateClassification);
    updateClassification();

    /* Live changes: the server sends, per change we may see, the layer and
     * the changed box; tiles meeting it are fetched again (events arriving
     * close together are merged).  EventSource reconnects by itself.  The
     * stream opens LIVE_DELAY_MS after start: an open stream is a request
     * that never ends, and headless renderers with a virtual time budget
     * (screenshots of the wall display) wait for the network to go idle.
     * On (re)connecting, the visible tiles are revalidated once, so nothing
     * that changed before the stream was open is missed. */
    const LIVE_DELAY_MS = 10000;
    if (window.EventSource) setTimeout(() => {
      let box = null;
      let timer = 0;
      const events = new EventSource(`${prefix}/events?token=${encodeURIComponent(token)}`);
      events.onopen = () => { tiles.refreshIn(L.latLngBounds([-90, -180], [90, 180])); };
      events.onmessage = (m) => {
        let ev;
        try { ev = JSON.parse(m.data); } catch (e) { return; }
        if (!ev || !Array.isArray(ev.bbox) || ev.bbox.length !== 4) return;
        if (mapLayerIds && !mapLayerIds.has(ev.layer)) return;
        const bb = L.latLngBounds([ev.bbox[1], ev.bbox[0]], [ev.bbox[3], ev.bbox[2]]);
        box = box ? box.extend(bb) : bb;
        clearTimeout(timer);
        timer = setTimeout(() => {
          const b2 = box;
          box = null;
          /* markers and strokes reach beyond a feature's box: as far as
           * the renderer reads around a tile (LB_RENDER_MARGIN_PX, 64 px) */
          const m = (64 * 360) / (256 * 2 ** map.getZoom());
          tiles.refreshIn(L.latLngBounds([b2.getSouth() - m, b2.getWest() - m],
            [b2.getNorth() + m, b2.getEast() + m]));
          updateClassification();
          stampRefresh();
        }, 150);
      };
    }, LIVE_DELAY_MS);

    /* Periodic refresh: a fresh tile layer replaces the old one once it
     * has loaded (no blank map in between). */
    if (refreshSeconds) {
      let pending = null;
      setInterval(() => {
        if (pending) map.removeLayer(pending);
        const fresh = new TokenTiles(template, Object.assign({}, tileOptions, { cacheMode: 'no-cache' }));
        pending = fresh;
        fresh.once('load', () => {
          if (pending !== fresh) return;
          map.removeLayer(tiles);
          tiles = fresh;
          pending = null;
        });
        fresh.addTo(map);
        updateClassification();
        loadLegend();
      }, refreshSeconds * 1000);
    }
  }

  start();
})();
