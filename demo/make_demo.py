#!/usr/bin/python3
"""
make_demo.py -- generate the lagebild demo scenario "Hochwasser Weser".

Scenario: a Weser flood around Hameln (Landkreis Hameln-Pyrmont,
Niedersachsen), 20/21 November 2026, with evacuations.  Four actors deliver
their data, each in its own format and coordinate reference system, the way
the real agencies would hand it over:

  police   (Polizei)                     GeoJSON          EPSG:4326
      data/police/roadblocks.geojson       Straßensperren (points)
      data/police/incidents.geojson        Ereignisse / Lagemeldungen (points)
      data/police/evacuation_zones.geojson Evakuierungszonen (polygons, one
                                           with a hole, one MultiPolygon)
  fire     (Feuerwehr/Katastrophenschutz) ESRI Shapefile   EPSG:25832
      data/fire/deployment_areas.shp       Einsatzabschnitte (polygons)
      data/fire/hydrants.shp               Hydranten (points)
      data/fire/staging_points.shp         Bereitstellungsräume etc. (points)
      data/fire/incidents.shp              Einsatzstellen (points)
  military (Bundeswehr)                   GeoPackage       EPSG:32632
      data/military/military.gpkg          layers convoy_routes (lines),
                                           assembly_areas (polygons),
                                           bridges (points)
      data/military/units.csv              unit positions as MGRS strings
                                           (no coordinates, no CRS)
  kritis   (KRITIS operators)             GML 3.2          EPSG:31467
      data/kritis/kritis.gml (+ .xsd)      layers power_lines (lines),
                                           substations, water_works (points)

Attributes are German, as the agencies would name them; every feature has a
stable "id".  Most features carry a classification ("einstufung": OFFEN,
VS-NfD, VS-VERTRAULICH) and a releasability list ("freigabe", comma-separated
groups).  A few reports are deliberate duplicates: police and fire both
report the dike breach at Tündern, the trapped car in the Ruthenstraße
underpass and the oil spill in the Hameln port, a few metres apart (input
for conflation).

All positions are written here in WGS 84 lon/lat (approximate positions of
real places) and transformed to each actor's CRS with OSR in traditional GIS
axis order (x = longitude/easting, y = latitude/northing).  The MGRS strings
in units.csv are computed with GeographicLib's GeoConvert (Debian package
geographiclib-tools: `GeoConvert -m -p 0`).  The hydrant positions come from
a seeded pseudo-random generator, so every run writes the same data.

Needs: Debian's python3-gdal (GDAL >= 3.x) and geographiclib-tools.
Run:   /usr/bin/python3 demo/make_demo.py     (overwrites demo/data/)
Check: /usr/bin/python3 demo/make_demo.py --check   (only the read-back checks)
"""

import csv
import math
import os
import random
import shutil
import subprocess
import sys

from osgeo import gdal, ogr, osr

gdal.UseExceptions()
ogr.UseExceptions()
osr.UseExceptions()

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "data")

# Fixed timestamps for files that embed one (GeoPackage gpkg_contents, DBF
# header), so re-runs write the same bytes.
gdal.SetConfigOption("OGR_CURRENT_DATE", "2026-11-21T06:00:00.000Z")
DBF_DATE = "2026-11-21"

# Bounding box the whole scenario stays in (lon/lat).
BBOX = (9.15, 51.95, 9.60, 52.25)

# Releasability groups (same names as in lagebild.yaml).
ALL = "police,fire,military,kritis,thw,lagezentrum,landkreis"
BLUE_LIGHT = "police,fire,thw,lagezentrum,landkreis"
MIL_ONLY = "military,lagezentrum"
MIL_NFD = "military,lagezentrum,landkreis,thw"
KRITIS_NFD = "kritis,lagezentrum,landkreis,fire,thw"

# ---------------------------------------------------------------------------
# Geometry helpers.  A geometry is (type, coords) in lon/lat:
#   ("Point", (lon, lat))
#   ("LineString", [(lon, lat), ...])
#   ("Polygon", [ring, ring, ...])           first ring outer, others holes
#   ("MultiPolygon", [polygon, polygon, ...])
# Rings are given open (first point not repeated); closing happens here.
# ---------------------------------------------------------------------------


def srs(epsg):
    s = osr.SpatialReference()
    s.ImportFromEPSG(epsg)
    s.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    return s


WGS84 = srs(4326)
_TRANSFORMS = {}


def transformer(epsg):
    if epsg not in _TRANSFORMS:
        _TRANSFORMS[epsg] = osr.CoordinateTransformation(WGS84, srs(epsg))
    return _TRANSFORMS[epsg]


def _xy(pt, epsg, ndig):
    if epsg == 4326:
        return (round(pt[0], ndig), round(pt[1], ndig))
    x, y, _ = transformer(epsg).TransformPoint(pt[0], pt[1])
    return (round(x, ndig), round(y, ndig))


def _ring(ring, epsg, ndig):
    pts = [_xy(p, epsg, ndig) for p in ring]
    if pts[0] != pts[-1]:
        pts.append(pts[0])
    return pts


def _fmt(pts):
    return ", ".join("%r %r" % p for p in pts)


def to_ogr(geom, epsg):
    """Build an OGR geometry in the target CRS (traditional x/y order)."""
    kind, c = geom
    ndig = 7 if epsg == 4326 else 2  # 1 cm in projected CRSs
    if kind == "Point":
        wkt = "POINT (%r %r)" % _xy(c, epsg, ndig)
    elif kind == "LineString":
        wkt = "LINESTRING (%s)" % _fmt([_xy(p, epsg, ndig) for p in c])
    elif kind == "Polygon":
        wkt = "POLYGON (%s)" % ", ".join("(%s)" % _fmt(_ring(r, epsg, ndig)) for r in c)
    elif kind == "MultiPolygon":
        wkt = "MULTIPOLYGON (%s)" % ", ".join(
            "(%s)" % ", ".join("(%s)" % _fmt(_ring(r, epsg, ndig)) for r in poly) for poly in c
        )
    else:
        raise ValueError(kind)
    return ogr.CreateGeometryFromWkt(wkt)


def pt(lon, lat):
    return ("Point", (lon, lat))


def line(*pts):
    return ("LineString", list(pts))


def poly(*rings):
    return ("Polygon", [list(r) for r in rings])


def rect(lon0, lat0, lon1, lat1):
    return [(lon0, lat0), (lon1, lat0), (lon1, lat1), (lon0, lat1)]


# ---------------------------------------------------------------------------
# Generic writer: fields = [(name, ogr type)], features = [dict(attrs..., geom=)]
# ---------------------------------------------------------------------------

FT = {"str": ogr.OFTString, "int": ogr.OFTInteger, "real": ogr.OFTReal}


def write_layer(ds, name, epsg, gtype, fields, features, lco=None):
    lyr = ds.CreateLayer(name, srs(epsg), gtype, options=lco or [])
    for fname, ftype in fields:
        fd = ogr.FieldDefn(fname, FT[ftype])
        if ftype == "str":
            fd.SetWidth(120)
        lyr.CreateField(fd)
    defn = lyr.GetLayerDefn()
    for f in features:
        feat = ogr.Feature(defn)
        for fname, _ in fields:
            v = f.get(fname)
            if v is None:
                feat.SetFieldNull(fname)
            else:
                feat.SetField(fname, v)
        feat.SetGeometry(to_ogr(f["geom"], epsg))
        lyr.CreateFeature(feat)
    return len(features)


def fresh_dir(path):
    if os.path.isdir(path):
        shutil.rmtree(path)
    os.makedirs(path)


# ---------------------------------------------------------------------------
# The Weser (reference only, not written): used to decide which hydrants are
# flooded.  Approximate centre line from Bodenwerder to Hessisch Oldendorf.
# ---------------------------------------------------------------------------

WESER = line(
    (9.518, 51.972), (9.490, 51.990), (9.450, 52.005), (9.415, 52.018),
    (9.405, 52.035), (9.400, 52.048), (9.392, 52.062), (9.380, 52.074),
    (9.365, 52.087), (9.355, 52.097), (9.351, 52.104), (9.345, 52.112),
    (9.330, 52.120), (9.305, 52.133), (9.285, 52.150), (9.262, 52.163),
    (9.245, 52.170),
)

# ---------------------------------------------------------------------------
# POLICE -- GeoJSON, EPSG:4326
# ---------------------------------------------------------------------------

POL_DST = "Polizeiinspektion Hameln-Pyrmont/Holzminden"

# id, bezeichnung, typ, status, strasse, lon, lat, zeit, genauigkeit_m, einstufung, freigabe
ROADBLOCKS = [
    ("POL-SP-01", "Sperrung Weserbrücke Thiewall", "Vollsperrung", "aktiv", "B217 Thiewall",
     9.35220, 52.09980, "2026-11-20T14:10:00+01:00", 5, "OFFEN", ALL),
    ("POL-SP-02", "Sperrung Münsterbrücke", "Vollsperrung", "aktiv", "B1 Münsterbrücke",
     9.35080, 52.10500, "2026-11-20T14:25:00+01:00", 5, "OFFEN", ALL),
    ("POL-SP-03", "Sperrung Weserpromenade/Hafenstraße", "Vollsperrung", "aktiv", "Hafenstraße",
     9.34980, 52.10880, "2026-11-20T15:05:00+01:00", 10, "OFFEN", ALL),
    ("POL-SP-04", "Sperrung Unterführung Ruthenstraße", "Vollsperrung", "aktiv", "Ruthenstraße",
     9.36000, 52.09550, "2026-11-20T16:40:00+01:00", 5, "OFFEN", ALL),
    ("POL-SP-05", "Sperrung B83 Ortseingang Tündern", "Vollsperrung", "aktiv", "B83",
     9.39050, 52.07720, "2026-11-20T18:30:00+01:00", 10, "OFFEN", ALL),
    ("POL-SP-06", "Sperrung Tündern Am Deich", "Vollsperrung", "aktiv", "Am Deich",
     9.38380, 52.07200, "2026-11-20T22:55:00+01:00", 15, "OFFEN", ALL),
    ("POL-SP-07", "Teilsperrung L431 Klein Berkel", "Teilsperrung", "aktiv", "L431",
     9.34000, 52.08400, "2026-11-20T17:15:00+01:00", 10, "OFFEN", ALL),
    ("POL-SP-08", "Teilsperrung Wangelist Ohsener Straße", "Teilsperrung", "aktiv", "Ohsener Straße",
     9.33800, 52.09600, "2026-11-20T17:20:00+01:00", 10, "OFFEN", ALL),
    ("POL-SP-09", "Sperrung B83 Wehrbergen", "Vollsperrung", "aktiv", "B83",
     9.32300, 52.12600, "2026-11-20T19:00:00+01:00", 10, "OFFEN", ALL),
    ("POL-SP-10", "Sperrung Ortsmitte Fischbeck", "Vollsperrung", "aktiv", "Weserstraße",
     9.27900, 52.15650, "2026-11-21T01:30:00+01:00", 20, "OFFEN", ALL),
    ("POL-SP-11", "Kontrollstelle Weserbrücke Hessisch Oldendorf", "Kontrollstelle", "aktiv", "B83",
     9.24700, 52.17050, "2026-11-21T02:00:00+01:00", 10, "VS-NfD", BLUE_LIGHT + ",military"),
    ("POL-SP-12", "Teilsperrung Weserbrücke Emmerthal", "Teilsperrung", "aktiv", "L424",
     9.40300, 52.04700, "2026-11-20T20:45:00+01:00", 10, "OFFEN", ALL),
    ("POL-SP-13", "Sperrung B83 Grohnde", "Vollsperrung", "geplant", "B83",
     9.41400, 52.02100, "2026-11-21T05:00:00+01:00", 25, "VS-NfD", BLUE_LIGHT + ",military,kritis"),
    ("POL-SP-14", "Kontrollstelle Weserbrücke Bodenwerder", "Kontrollstelle", "aufgehoben", "B240",
     9.51700, 51.97300, "2026-11-21T04:10:00+01:00", 10, "OFFEN", ALL),
    ("POL-SP-15", "Verkehrslenkung B1 Afferde (Evakuierungsverkehr)", "Kontrollstelle", "aktiv", "B1",
     9.39500, 52.09900, "2026-11-20T21:00:00+01:00", 10, "OFFEN", ALL),
]

# id, bezeichnung, typ, prioritaet, status, lon, lat, zeit, genauigkeit_m, einstufung, freigabe, bemerkung
INCIDENTS_POL = [
    ("POL-EL-01", "Deichbruch Tündern", "Deichbruch", 1, "laufend", 9.38342, 52.07055,
     "2026-11-20T22:40:00+01:00", 25, "OFFEN", ALL, "Bruchstelle ca. 20 m, Wasser strömt in Ortslage"),
    ("POL-EL-02", "Pkw in Unterführung Ruthenstraße eingeschlossen", "Menschenrettung", 1, "abgeschlossen",
     9.36012, 52.09538, "2026-11-20T16:32:00+01:00", 10, "OFFEN", ALL, "1 Person, an Feuerwehr übergeben"),
    ("POL-EL-03", "Ölaustritt Hafen Hameln", "Umweltgefahr", 2, "laufend", 9.34850, 52.11120,
     "2026-11-20T19:50:00+01:00", 30, "OFFEN", ALL, "Heizöltank aufgeschwommen"),
    ("POL-EL-04", "Räumung Seniorenheim Weserstraße", "Evakuierung", 1, "laufend", 9.35250, 52.10620,
     "2026-11-20T20:15:00+01:00", 10, "VS-NfD", BLUE_LIGHT, "62 Bewohner, davon 18 liegend"),
    ("POL-EL-05", "Diebstahl Sandsäcke Klein Berkel", "Eigentumsdelikt", 3, "aufgenommen", 9.34350, 52.08220,
     "2026-11-21T00:20:00+01:00", 50, "VS-NfD", "police,lagezentrum", "Täter flüchtig"),
    ("POL-EL-06", "Verkehrsunfall B1 Aerzen (Umleitungsverkehr)", "Verkehrsunfall", 2, "abgeschlossen",
     9.27500, 52.05000, "2026-11-20T18:05:00+01:00", 20, "OFFEN", ALL, "2 Leichtverletzte"),
    ("POL-EL-07", "Schaulustige Weserpromenade", "Ordnungsstörung", 3, "laufend", 9.35050, 52.10300,
     "2026-11-20T15:30:00+01:00", 50, "OFFEN", ALL, None),
    ("POL-EL-08", "Vermisste Person Fischbeck", "Vermisstensuche", 1, "laufend", 9.28350, 52.15400,
     "2026-11-21T03:10:00+01:00", 100, "VS-NfD", BLUE_LIGHT, "Mann, 78 J., zuletzt am Weserufer gesehen"),
    ("POL-EL-09", "Stromausfall Wehrbergen", "Infrastrukturausfall", 2, "laufend", 9.31800, 52.12500,
     "2026-11-21T01:45:00+01:00", 200, "OFFEN", ALL, None),
    ("POL-EL-10", "Einbruch in geräumtes Wohnhaus Tündern", "Eigentumsdelikt", 3, "aufgenommen", 9.38800, 52.07450,
     "2026-11-21T04:30:00+01:00", 20, "VS-NfD", "police,lagezentrum", None),
    ("POL-EL-11", "Gasgeruch Altstadt Bäckerstraße", "Gefahrstoff", 2, "abgeschlossen", 9.35600, 52.10200,
     "2026-11-20T21:35:00+01:00", 20, "OFFEN", ALL, "Entwarnung 22:10"),
    ("POL-EL-12", "Treibgut an Weserbrücke Emmerthal", "Gefahrenstelle", 2, "laufend", 9.40200, 52.04650,
     "2026-11-21T05:20:00+01:00", 30, "OFFEN", ALL, "Baumstämme am Pfeiler"),
]

# Evacuation zones (valid_from/valid_to as gueltig_ab/gueltig_bis).
EVAC_ZONES = [
    dict(id="POL-EZ-01", bezeichnung="Evakuierungszone 1 Hameln Weserufer", typ="Evakuierungszone",
         stufe="Räumung angeordnet", status="aktiv", einwohner=2350,
         gueltig_ab="2026-11-20T18:00:00+01:00", gueltig_bis=None,
         zeit="2026-11-20T17:30:00+01:00", genauigkeit_m=25, einstufung="OFFEN", freigabe=ALL,
         bemerkung="Ausgenommen: Schulzentrum (Notunterkunft, höher gelegen)",
         geom=poly([(9.340, 52.093), (9.358, 52.092), (9.362, 52.100), (9.360, 52.110),
                    (9.352, 52.116), (9.338, 52.114), (9.336, 52.104)],
                   # hole: higher ground with the emergency shelter, not evacuated
                   [(9.3410, 52.1040), (9.3410, 52.1070), (9.3450, 52.1070), (9.3450, 52.1040)])),
    dict(id="POL-EZ-02", bezeichnung="Evakuierungszone 2 Tündern", typ="Evakuierungszone",
         stufe="Räumung angeordnet", status="aktiv", einwohner=1480,
         gueltig_ab="2026-11-20T23:00:00+01:00", gueltig_bis=None,
         zeit="2026-11-20T22:50:00+01:00", genauigkeit_m=25, einstufung="OFFEN", freigabe=ALL,
         bemerkung="Nach Deichbruch erweitert",
         geom=poly([(9.372, 52.064), (9.392, 52.062), (9.398, 52.074), (9.392, 52.082),
                    (9.376, 52.080), (9.370, 52.072)])),
    dict(id="POL-EZ-03", bezeichnung="Evakuierungszone 3 Wehrbergen/Fischbeck", typ="Evakuierungszone",
         stufe="Räumung empfohlen", status="aktiv", einwohner=980,
         gueltig_ab="2026-11-21T02:00:00+01:00", gueltig_bis="2026-11-22T12:00:00+01:00",
         zeit="2026-11-21T01:40:00+01:00", genauigkeit_m=50, einstufung="OFFEN", freigabe=ALL,
         bemerkung="Zwei Teilflächen (Wehrbergen, Fischbeck)",
         geom=("MultiPolygon", [
             [[(9.312, 52.119), (9.330, 52.118), (9.332, 52.127), (9.316, 52.130)]],
             [[(9.270, 52.150), (9.292, 52.148), (9.294, 52.160), (9.274, 52.162)]],
         ])),
    dict(id="POL-EZ-04", bezeichnung="Evakuierungszone 4 Emmerthal/Kirchohsen", typ="Evakuierungszone",
         stufe="Vorwarnung", status="vorbereitet", einwohner=720,
         gueltig_ab="2026-11-21T08:00:00+01:00", gueltig_bis="2026-11-21T20:00:00+01:00",
         zeit="2026-11-21T05:30:00+01:00", genauigkeit_m=50, einstufung="VS-NfD", freigabe=BLUE_LIGHT + ",military,kritis",
         bemerkung="Räumung nur bei Pegel Hameln > 7,20 m",
         geom=poly([(9.392, 52.040), (9.410, 52.040), (9.412, 52.052), (9.394, 52.054)])),
]


def make_police():
    d = os.path.join(DATA, "police")
    fresh_dir(d)
    drv = ogr.GetDriverByName("GeoJSON")
    lco = ["RFC7946=YES", "WRITE_NAME=YES"]
    counts = {}

    fields = [("id", "str"), ("bezeichnung", "str"), ("typ", "str"), ("status", "str"),
              ("strasse", "str"), ("dienststelle", "str"), ("zeit", "str"), ("genauigkeit_m", "int"),
              ("einstufung", "str"), ("freigabe", "str")]
    feats = [dict(id=r[0], bezeichnung=r[1], typ=r[2], status=r[3], strasse=r[4], dienststelle=POL_DST,
                  zeit=r[7], genauigkeit_m=r[8], einstufung=r[9], freigabe=r[10], geom=pt(r[5], r[6]))
             for r in ROADBLOCKS]
    ds = drv.CreateDataSource(os.path.join(d, "roadblocks.geojson"))
    counts["police/roadblocks.geojson"] = write_layer(ds, "roadblocks", 4326, ogr.wkbPoint, fields, feats, lco)
    ds = None

    fields = [("id", "str"), ("bezeichnung", "str"), ("typ", "str"), ("prioritaet", "int"),
              ("status", "str"), ("zeit", "str"), ("genauigkeit_m", "int"), ("einstufung", "str"),
              ("freigabe", "str"), ("bemerkung", "str")]
    feats = [dict(id=r[0], bezeichnung=r[1], typ=r[2], prioritaet=r[3], status=r[4], zeit=r[7],
                  genauigkeit_m=r[8], einstufung=r[9], freigabe=r[10], bemerkung=r[11], geom=pt(r[5], r[6]))
             for r in INCIDENTS_POL]
    ds = drv.CreateDataSource(os.path.join(d, "incidents.geojson"))
    counts["police/incidents.geojson"] = write_layer(ds, "incidents", 4326, ogr.wkbPoint, fields, feats, lco)
    ds = None

    fields = [("id", "str"), ("bezeichnung", "str"), ("typ", "str"), ("stufe", "str"), ("status", "str"),
              ("einwohner", "int"), ("gueltig_ab", "str"), ("gueltig_bis", "str"), ("zeit", "str"),
              ("genauigkeit_m", "int"), ("einstufung", "str"), ("freigabe", "str"), ("bemerkung", "str")]
    ds = drv.CreateDataSource(os.path.join(d, "evacuation_zones.geojson"))
    counts["police/evacuation_zones.geojson"] = write_layer(
        ds, "evacuation_zones", 4326, ogr.wkbUnknown, fields, EVAC_ZONES, lco)
    ds = None
    return counts


# ---------------------------------------------------------------------------
# FIRE / CIVIL PROTECTION -- ESRI Shapefile, EPSG:25832
# DBF field names are at most 10 characters: "bezeichnun", "genauigk_m",
# "meldezeit" -- typical of agency shapefiles.
# ---------------------------------------------------------------------------

FW_FREIGABE = "fire,police,thw,lagezentrum,landkreis"

DEPLOYMENT_AREAS = [
    ("FW-EA-01", "EA 1 Hameln Mitte/Weserufer", "Stadtbrandmeister Hameln", 145, "aktiv",
     [(9.335, 52.088), (9.372, 52.088), (9.375, 52.103), (9.373, 52.118), (9.335, 52.120)]),
    ("FW-EA-02", "EA 2 Tündern/Hastenbeck", "Ortsbrandmeister Tündern", 96, "aktiv",
     [(9.365, 52.058), (9.412, 52.058), (9.414, 52.075), (9.410, 52.088), (9.372, 52.088), (9.365, 52.072)]),
    ("FW-EA-03", "EA 3 Klein Berkel/Wangelist", "Ortsbrandmeister Klein Berkel", 54, "aktiv",
     [(9.315, 52.066), (9.365, 52.066), (9.365, 52.072), (9.372, 52.088), (9.335, 52.088), (9.315, 52.090)]),
    ("FW-EA-04", "EA 4 Wehrbergen/Fischbeck", "Gemeindebrandmeister Hessisch Oldendorf", 72, "aktiv",
     [(9.265, 52.140), (9.300, 52.115), (9.335, 52.115), (9.335, 52.135), (9.300, 52.165), (9.265, 52.165)]),
    ("FW-EA-05", "EA 5 Hessisch Oldendorf", "Stadtbrandmeister Hessisch Oldendorf", 38, "Bereitschaft",
     [(9.225, 52.155), (9.265, 52.155), (9.265, 52.185), (9.225, 52.185)]),
    ("FW-EA-06", "EA 6 Emmerthal/Grohnde", "Gemeindebrandmeister Emmerthal", 61, "aktiv",
     [(9.385, 52.010), (9.428, 52.010), (9.432, 52.035), (9.425, 52.058), (9.385, 52.058)]),
]

# id, bezeichnun, typ, kapazitaet, status, lon, lat, meldezeit, einstufung, freigabe
STAGING = [
    ("FW-BR-01", "Bereitstellungsraum Hauptfeuerwache Hameln", "Bereitstellungsraum", 30, "belegt",
     9.37050, 52.11050, "2026-11-20T13:00:00+01:00", "OFFEN", ALL),
    ("FW-BR-02", "Sandsackfüllplatz Bauhof Hameln", "Sandsackfüllstelle", 12, "in Betrieb",
     9.37600, 52.11700, "2026-11-20T12:30:00+01:00", "OFFEN", ALL),
    ("FW-BR-03", "Bereitstellungsraum Schulzentrum Nord", "Bereitstellungsraum", 25, "frei",
     9.36500, 52.12000, "2026-11-20T19:00:00+01:00", "OFFEN", ALL),
    ("FW-BR-04", "Bereitstellungsraum Emmerthal Sportplatz", "Bereitstellungsraum", 20, "belegt",
     9.38800, 52.05000, "2026-11-20T21:10:00+01:00", "OFFEN", ALL),
    ("FW-BR-05", "Bereitstellungsraum Feuerwehrhaus Fischbeck", "Bereitstellungsraum", 10, "belegt",
     9.28700, 52.16200, "2026-11-21T01:00:00+01:00", "OFFEN", ALL),
    ("FW-BR-06", "Verpflegungsstelle Afferde", "Verpflegungsstelle", 300, "in Betrieb",
     9.40300, 52.10100, "2026-11-20T22:00:00+01:00", "OFFEN", ALL),
    ("FW-BR-07", "Behandlungsplatz BHP 50 Klinikum", "Behandlungsplatz", 50, "in Betrieb",
     9.37800, 52.09800, "2026-11-20T23:30:00+01:00", "VS-NfD", FW_FREIGABE + ",military"),
    ("FW-BR-08", "Bereitstellungsraum Bauhof Hessisch Oldendorf", "Bereitstellungsraum", 15, "frei",
     9.25200, 52.17800, "2026-11-21T02:30:00+01:00", "OFFEN", ALL),
]

# Fire incident reports (Einsatzstellen).  FW-ES-01..03 duplicate police
# incidents POL-EL-01..03 a few metres apart.
# id, bezeichnun, typ, status, kraefte, lon, lat, meldezeit, genauigk_m, einstufung, freigabe
INCIDENTS_FW = [
    ("FW-ES-01", "Deichbruch Tündern", "Deichbruch", "laufend", 48, 9.38350, 52.07060,
     "2026-11-20T22:43:00+01:00", 10, "OFFEN", ALL),
    ("FW-ES-02", "Menschenrettung Pkw Unterführung Ruthenstraße", "Menschenrettung", "abgeschlossen", 9,
     9.36018, 52.09541, "2026-11-20T16:35:00+01:00", 5, "OFFEN", ALL),
    ("FW-ES-03", "Ölsperre Hafen Hameln", "Umweltschutz", "laufend", 14, 9.34862, 52.11128,
     "2026-11-20T20:05:00+01:00", 15, "OFFEN", ALL),
    ("FW-ES-04", "Keller auspumpen Wangelist", "Technische Hilfe", "laufend", 12, 9.33600, 52.09900,
     "2026-11-21T00:45:00+01:00", 20, "OFFEN", ALL),
    ("FW-ES-05", "Sandsackverbau Deich Tündern Süd", "Deichverteidigung", "laufend", 60, 9.38700, 52.06600,
     "2026-11-20T19:20:00+01:00", 25, "OFFEN", ALL),
    ("FW-ES-06", "Wasserrettung Fischbeck", "Wasserrettung", "laufend", 16, 9.28120, 52.15550,
     "2026-11-21T03:25:00+01:00", 30, "VS-NfD", FW_FREIGABE),
    ("FW-ES-07", "Brand Trafostation Wehrbergen", "Brand", "abgeschlossen", 18, 9.31900, 52.12450,
     "2026-11-21T01:35:00+01:00", 10, "VS-NfD", FW_FREIGABE + ",kritis"),
    ("FW-ES-08", "Überflutung Tiefgarage Altstadt", "Technische Hilfe", "laufend", 11, 9.35450, 52.10350,
     "2026-11-20T21:50:00+01:00", 10, "OFFEN", ALL),
]

# Hydrant clusters: (centre lon, lat, count, place)
HYDRANT_CLUSTERS = [
    (9.3550, 52.1030, 14, "Hameln"),
    (9.3850, 52.0720, 6, "Tündern"),
    (9.3400, 52.0800, 5, "Klein Berkel"),
    (9.3200, 52.1230, 4, "Wehrbergen"),
    (9.2800, 52.1560, 5, "Fischbeck"),
    (9.4000, 52.0450, 6, "Emmerthal"),
]


def hydrant_features():
    rnd = random.Random(4711)
    weser = to_ogr(WESER, 25832)
    feats = []
    n = 0
    for lon0, lat0, count, place in HYDRANT_CLUSTERS:
        for _ in range(count):
            n += 1
            lon = round(lon0 + rnd.uniform(-0.006, 0.006), 6)
            lat = round(lat0 + rnd.uniform(-0.004, 0.004), 6)
            typ = "Unterflurhydrant" if rnd.random() < 0.75 else "Überflurhydrant"
            nw = rnd.choice([80, 100, 100, 150])
            dist = to_ogr(pt(lon, lat), 25832).Distance(weser)
            if dist < 150:
                status = "überflutet"
            elif n % 13 == 0:
                status = "außer Betrieb"
            else:
                status = "betriebsbereit"
            feats.append(dict(
                id="FW-HY-%03d" % n, bezeichnun="Hydrant %s %02d" % (place, n), typ=typ,
                nennweite=nw, leistung=int(nw * 12), status=status,
                meldezeit="2026-11-20T%02d:%02d:00+01:00" % (12 + n // 10, (n * 7) % 60),
                genauigk_m=1, geom=pt(lon, lat)))
    return feats


def make_fire():
    d = os.path.join(DATA, "fire")
    fresh_dir(d)
    drv = ogr.GetDriverByName("ESRI Shapefile")
    lco = ["ENCODING=UTF-8", "DBF_DATE_LAST_UPDATE=" + DBF_DATE, "SPATIAL_INDEX=NO"]
    counts = {}

    def shp(name, gtype, fields, feats):
        ds = drv.CreateDataSource(os.path.join(d, name + ".shp"))
        counts["fire/%s.shp" % name] = write_layer(ds, name, 25832, gtype, fields, feats, lco)

    fields = [("id", "str"), ("bezeichnun", "str"), ("typ", "str"), ("leitung", "str"), ("kraefte", "int"),
              ("status", "str"), ("meldezeit", "str"), ("einstufung", "str"), ("freigabe", "str")]
    feats = [dict(id=r[0], bezeichnun=r[1], typ="Einsatzabschnitt", leitung=r[2], kraefte=r[3], status=r[4],
                  meldezeit="2026-11-20T%02d:00:00+01:00" % (13 + i), einstufung="OFFEN" if i != 1 else "VS-NfD",
                  freigabe=ALL if i != 1 else FW_FREIGABE + ",military", geom=poly(r[5]))
             for i, r in enumerate(DEPLOYMENT_AREAS)]
    shp("deployment_areas", ogr.wkbPolygon, fields, feats)

    fields = [("id", "str"), ("bezeichnun", "str"), ("typ", "str"), ("nennweite", "int"), ("leistung", "int"),
              ("status", "str"), ("meldezeit", "str"), ("genauigk_m", "int")]
    shp("hydrants", ogr.wkbPoint, fields, hydrant_features())

    fields = [("id", "str"), ("bezeichnun", "str"), ("typ", "str"), ("kapazitaet", "int"), ("status", "str"),
              ("meldezeit", "str"), ("genauigk_m", "int"), ("einstufung", "str"), ("freigabe", "str")]
    feats = [dict(id=r[0], bezeichnun=r[1], typ=r[2], kapazitaet=r[3], status=r[4], meldezeit=r[7],
                  genauigk_m=10, einstufung=r[8], freigabe=r[9], geom=pt(r[5], r[6])) for r in STAGING]
    shp("staging_points", ogr.wkbPoint, fields, feats)

    fields = [("id", "str"), ("bezeichnun", "str"), ("typ", "str"), ("status", "str"), ("kraefte", "int"),
              ("meldezeit", "str"), ("genauigk_m", "int"), ("einstufung", "str"), ("freigabe", "str")]
    feats = [dict(id=r[0], bezeichnun=r[1], typ=r[2], status=r[3], kraefte=r[4], meldezeit=r[7],
                  genauigk_m=r[8], einstufung=r[9], freigabe=r[10], geom=pt(r[5], r[6])) for r in INCIDENTS_FW]
    shp("incidents", ogr.wkbPoint, fields, feats)
    return counts


# ---------------------------------------------------------------------------
# MILITARY -- GeoPackage EPSG:32632 + CSV with MGRS positions
# ---------------------------------------------------------------------------

CONVOY_ROUTES = [
    dict(id="MIL-MR-01", bezeichnung="MSR ROT Bodenwerder - Hameln (B83)", typ="MSR", status="befahrbar",
         mlc=50, zeitpunkt="2026-11-20T16:00:00+01:00", einstufung="VS-NfD", freigabe=MIL_NFD + ",police",
         geom=line((9.5190, 51.9760), (9.5000, 51.9880), (9.4700, 51.9990), (9.4380, 52.0120),
                   (9.4200, 52.0230), (9.4080, 52.0380), (9.4060, 52.0500), (9.3980, 52.0640),
                   (9.3930, 52.0780), (9.3800, 52.0900), (9.3700, 52.0980), (9.3620, 52.1030))),
    dict(id="MIL-MR-02", bezeichnung="MSR BLAU Aerzen - Hameln West (B1)", typ="MSR", status="eingeschränkt",
         mlc=40, zeitpunkt="2026-11-20T17:30:00+01:00", einstufung="VS-NfD", freigabe=MIL_NFD + ",police",
         geom=line((9.2600, 52.0480), (9.2800, 52.0560), (9.3000, 52.0680), (9.3200, 52.0820),
                   (9.3320, 52.0920), (9.3400, 52.0980))),
    dict(id="MIL-MR-03", bezeichnung="MSR GRÜN Bad Münder - Hameln Nord", typ="MSR", status="befahrbar",
         mlc=70, zeitpunkt="2026-11-20T18:15:00+01:00", einstufung="VS-VERTRAULICH", freigabe=MIL_ONLY,
         geom=line((9.4650, 52.1950), (9.4400, 52.1800), (9.4150, 52.1650), (9.3950, 52.1450),
                   (9.3800, 52.1300), (9.3700, 52.1180))),
    dict(id="MIL-MR-04", bezeichnung="ASR GELB Hameln - Hessisch Oldendorf (B83)", typ="ASR", status="gesperrt",
         mlc=40, zeitpunkt="2026-11-21T01:50:00+01:00", einstufung="VS-NfD", freigabe=MIL_NFD + ",police",
         geom=line((9.3600, 52.1150), (9.3400, 52.1250), (9.3200, 52.1340), (9.3000, 52.1450),
                   (9.2850, 52.1600), (9.2650, 52.1700), (9.2480, 52.1760))),
    dict(id="MIL-MR-05", bezeichnung="ASR WEISS Sandsackversorgung Bauhof - Deich Tündern", typ="ASR",
         status="befahrbar", mlc=30, zeitpunkt="2026-11-20T23:10:00+01:00", einstufung="OFFEN", freigabe=ALL,
         geom=line((9.3760, 52.1170), (9.3850, 52.1080), (9.3950, 52.0990), (9.3960, 52.0880),
                   (9.3920, 52.0790), (9.3850, 52.0720))),
]

ASSEMBLY_AREAS = [
    dict(id="MIL-VR-01", bezeichnung="Verfügungsraum ADLER (Linsingen-Kaserne)", typ="Verfügungsraum",
         einheit="Panzerpionierbataillon 1", status="belegt", zeitpunkt="2026-11-20T15:00:00+01:00",
         einstufung="VS-VERTRAULICH", freigabe=MIL_ONLY, geom=poly(rect(9.368, 52.112, 9.378, 52.118))),
    dict(id="MIL-VR-02", bezeichnung="Verfügungsraum FALKE (Aerzen)", typ="Verfügungsraum",
         einheit="Logistikbataillon 161", status="belegt", zeitpunkt="2026-11-20T19:30:00+01:00",
         einstufung="VS-NfD", freigabe=MIL_NFD, geom=poly(rect(9.268, 52.050, 9.280, 52.056))),
    dict(id="MIL-VR-03", bezeichnung="Verfügungsraum HABICHT (Bad Münder)", typ="Verfügungsraum",
         einheit="Reserve", status="vorgesehen", zeitpunkt="2026-11-21T04:00:00+01:00",
         einstufung="VS-VERTRAULICH", freigabe=MIL_ONLY,
         geom=poly([(9.450, 52.185), (9.462, 52.186), (9.463, 52.192), (9.451, 52.193)])),
    dict(id="MIL-VR-04", bezeichnung="Verfügungsraum BUSSARD (Emmerthal)", typ="Verfügungsraum",
         einheit="ABC-Abwehrbataillon 7", status="belegt", zeitpunkt="2026-11-20T22:30:00+01:00",
         einstufung="VS-NfD", freigabe=MIL_NFD, geom=poly(rect(9.415, 52.055, 9.425, 52.062))),
]

# id, bezeichnung, typ, gewaesser, mlc, status, lon, lat, zeitpunkt, einstufung, freigabe
BRIDGES = [
    ("MIL-BR-01", "Weserbrücke Thiewall", "Festbrücke", "Weser", 50, "gesperrt", 9.35220, 52.09990,
     "2026-11-20T14:30:00+01:00", "OFFEN", ALL),
    ("MIL-BR-02", "Münsterbrücke Hameln", "Festbrücke", "Weser", 60, "gesperrt", 9.35070, 52.10505,
     "2026-11-20T14:30:00+01:00", "OFFEN", ALL),
    ("MIL-BR-03", "Eisenbahnbrücke Hameln", "Eisenbahnbrücke", "Weser", None, "gesperrt", 9.34400, 52.11100,
     "2026-11-20T15:10:00+01:00", "OFFEN", ALL),
    ("MIL-BR-04", "Weserbrücke Emmerthal", "Festbrücke", "Weser", 40, "eingeschränkt", 9.40310, 52.04710,
     "2026-11-20T20:50:00+01:00", "OFFEN", ALL),
    ("MIL-BR-05", "Weserbrücke Hessisch Oldendorf", "Festbrücke", "Weser", 40, "befahrbar", 9.24710, 52.17040,
     "2026-11-21T02:10:00+01:00", "OFFEN", ALL),
    ("MIL-BR-06", "Weserbrücke Bodenwerder", "Festbrücke", "Weser", 30, "befahrbar", 9.51710, 51.97310,
     "2026-11-21T04:15:00+01:00", "OFFEN", ALL),
    ("MIL-BR-07", "Faltschwimmbrücke Wehrbergen (temporär)", "Pontonbrücke", "Weser", 70, "im Bau",
     9.32450, 52.12150, "2026-11-21T05:45:00+01:00", "VS-NfD", MIL_NFD + ",police,fire"),
    ("MIL-BR-08", "Brücke Hamelmündung Hafenstraße", "Festbrücke", "Hamel", 30, "befahrbar", 9.35200, 52.10750,
     "2026-11-20T16:20:00+01:00", "OFFEN", ALL),
]

# id, einheit, lon, lat, staerke (Offz/Uffz/Mannsch), auftrag, status, zeit, genauigkeit_m, einstufung, freigabe
UNITS = [
    ("MIL-EH-01", "2./Panzerpionierbataillon 1", 9.32550, 52.12200, "3/18/72", "Bau Faltschwimmbrücke Wehrbergen",
     "im Einsatz", "2026-11-21T05:40:00+01:00", 10, "VS-NfD", MIL_NFD + ",police,fire"),
    ("MIL-EH-02", "3./Panzerpionierbataillon 1", 9.38620, 52.06750, "2/14/61", "Deichverteidigung Tündern",
     "im Einsatz", "2026-11-21T04:50:00+01:00", 10, "VS-NfD", MIL_NFD + ",police,fire"),
    ("MIL-EH-03", "Stab Panzerpionierbataillon 1", 9.37300, 52.11500, "6/11/14", "Führung",
     "einsatzbereit", "2026-11-21T05:00:00+01:00", 10, "VS-VERTRAULICH", MIL_ONLY),
    ("MIL-EH-04", "KVK Hameln-Pyrmont", 9.36200, 52.10800, "2/3/0", "Verbindung Krisenstab Landkreis",
     "einsatzbereit", "2026-11-20T12:00:00+01:00", 10, "OFFEN", ALL),
    ("MIL-EH-05", "1./Logistikbataillon 161", 9.27400, 52.05300, "2/9/40", "Transport Sandsäcke",
     "im Einsatz", "2026-11-20T23:30:00+01:00", 10, "VS-NfD", MIL_NFD),
    ("MIL-EH-06", "Außenlandeplatz CH-53 (TrspHubschrRgt 30)", 9.41000, 52.10500, "4/6/8",
     "Sandsackabwurf Deich Tündern", "einsatzbereit", "2026-11-21T06:10:00+01:00", None, "VS-NfD", MIL_NFD + ",police"),
    ("MIL-EH-07", "ABC-Abwehrbataillon 7 / TWA-Zug", 9.42000, 52.05850, "1/7/22", "Trinkwasseraufbereitung",
     "im Einsatz", "2026-11-21T03:00:00+01:00", 10, "VS-NfD", MIL_NFD + ",kritis"),
    ("MIL-EH-08", "Sanitätszug", 9.37850, 52.09850, "2/8/16", "Unterstützung BHP 50",
     "im Einsatz", "2026-11-21T00:10:00+01:00", 10, "VS-NfD", MIL_NFD + ",fire"),
    ("MIL-EH-09", "Feldjägerstreife", 9.32350, 52.12620, "0/4/6", "Verkehrsregelung B83 Wehrbergen",
     "im Einsatz", "2026-11-21T02:20:00+01:00", 10, "VS-NfD", MIL_NFD + ",police"),
    ("MIL-EH-10", "Pioniererkundungstrupp", 9.41500, 52.02300, "1/3/2", "Erkundung Uferbefestigung Grohnde",
     "im Einsatz", "2026-11-21T05:55:00+01:00", 10, "VS-VERTRAULICH", MIL_ONLY),
]
# Rows whose MGRS string is written with spaces, as typed by hand in a report.
MGRS_SPACED = {"MIL-EH-04", "MIL-EH-09"}


def geoconvert_mgrs(points):
    """10-digit MGRS strings (1 m) for (lon, lat) points via GeographicLib."""
    exe = shutil.which("GeoConvert")
    if not exe:
        sys.exit("GeoConvert not found: apt-get install -y geographiclib-tools")
    inp = "".join("%.7f %.7f\n" % (lat, lon) for lon, lat in points)  # GeoConvert reads "lat lon"
    out = subprocess.run([exe, "-m", "-p", "0"], input=inp, capture_output=True, text=True, check=True)
    res = out.stdout.split()
    assert len(res) == len(points), out
    return res


def spaced(m):
    # "32UNC2465972221" -> "32U NC 24659 72221"
    return "%s %s %s %s" % (m[:3], m[3:5], m[5:10], m[10:])


def make_military():
    d = os.path.join(DATA, "military")
    fresh_dir(d)
    counts = {}
    ds = ogr.GetDriverByName("GPKG").CreateDataSource(os.path.join(d, "military.gpkg"))
    lco = ["SPATIAL_INDEX=NO"]  # keeps the file small; the demo layers are tiny

    fields = [("id", "str"), ("bezeichnung", "str"), ("typ", "str"), ("status", "str"), ("mlc", "int"),
              ("zeitpunkt", "str"), ("einstufung", "str"), ("freigabe", "str")]
    counts["military.gpkg:convoy_routes"] = write_layer(
        ds, "convoy_routes", 32632, ogr.wkbLineString, fields, CONVOY_ROUTES, lco)

    fields = [("id", "str"), ("bezeichnung", "str"), ("typ", "str"), ("einheit", "str"), ("status", "str"),
              ("zeitpunkt", "str"), ("einstufung", "str"), ("freigabe", "str")]
    counts["military.gpkg:assembly_areas"] = write_layer(
        ds, "assembly_areas", 32632, ogr.wkbPolygon, fields, ASSEMBLY_AREAS, lco)

    fields = [("id", "str"), ("bezeichnung", "str"), ("typ", "str"), ("gewaesser", "str"), ("mlc", "int"),
              ("status", "str"), ("zeitpunkt", "str"), ("genauigkeit_m", "int"), ("einstufung", "str"),
              ("freigabe", "str")]
    feats = [dict(id=r[0], bezeichnung=r[1], typ=r[2], gewaesser=r[3], mlc=r[4], status=r[5], zeitpunkt=r[8],
                  genauigkeit_m=5, einstufung=r[9], freigabe=r[10], geom=pt(r[6], r[7])) for r in BRIDGES]
    counts["military.gpkg:bridges"] = write_layer(ds, "bridges", 32632, ogr.wkbPoint, fields, feats, lco)
    ds = None

    mgrs = geoconvert_mgrs([(u[2], u[3]) for u in UNITS])
    with open(os.path.join(d, "units.csv"), "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["id", "einheit", "mgrs", "staerke", "auftrag", "status", "zeit", "genauigkeit_m",
                    "einstufung", "freigabe"])
        for u, m in zip(UNITS, mgrs):
            w.writerow([u[0], u[1], spaced(m) if u[0] in MGRS_SPACED else m, u[4], u[5], u[6], u[7],
                        "" if u[8] is None else u[8], u[9], u[10]])
    counts["military/units.csv"] = len(UNITS)
    return counts


# ---------------------------------------------------------------------------
# KRITIS -- GML 3.2, EPSG:31467 (DHDN / 3-degree Gauss-Kruger zone 3)
# ---------------------------------------------------------------------------

NETZ_UEB = "Übertragungsnetzbetreiber (Demo)"
NETZ_VERT = "Verteilnetz Weserbergland (Demo)"
SW_HAMELN = "Stadtwerke Hameln (Demo)"
KR_ALL = "kritis,lagezentrum,landkreis,fire,police,thw,military"

POWER_LINES = [
    dict(id="KR-FL-01", bezeichnung="380-kV-Leitung Grohnde - Nord", typ="Freileitung", spannung_kv=380,
         betreiber=NETZ_UEB, status="in Betrieb", stand="2026-11-21T04:00:00Z", einstufung="VS-NfD",
         freigabe="kritis,lagezentrum,landkreis",
         geom=line((9.4150, 52.0330), (9.4400, 52.0700), (9.4700, 52.1100), (9.5000, 52.1500),
                   (9.5300, 52.1900), (9.5500, 52.2300))),
    dict(id="KR-FL-02", bezeichnung="380-kV-Leitung Grohnde - West", typ="Freileitung", spannung_kv=380,
         betreiber=NETZ_UEB, status="in Betrieb", stand="2026-11-21T04:00:00Z", einstufung="VS-NfD",
         freigabe="kritis,lagezentrum,landkreis",
         geom=line((9.4150, 52.0330), (9.3800, 52.0200), (9.3300, 52.0050), (9.2800, 51.9900),
                   (9.2200, 51.9700), (9.1700, 51.9600))),
    dict(id="KR-FL-03", bezeichnung="110-kV-Leitung Grohnde - Hameln-Süd", typ="Freileitung", spannung_kv=110,
         betreiber=NETZ_VERT, status="gefährdet", stand="2026-11-21T03:30:00Z", einstufung="VS-NfD",
         freigabe=KRITIS_NFD,
         geom=line((9.4150, 52.0330), (9.4050, 52.0480), (9.3900, 52.0650), (9.3750, 52.0800),
                   (9.3650, 52.0880))),
    dict(id="KR-FL-04", bezeichnung="110-kV-Leitung Hameln-Süd - Hameln-Nord", typ="Erdkabel", spannung_kv=110,
         betreiber=NETZ_VERT, status="abgeschaltet", stand="2026-11-20T23:15:00Z", einstufung="VS-NfD",
         freigabe=KRITIS_NFD,
         geom=line((9.3650, 52.0880), (9.3720, 52.1000), (9.3750, 52.1120), (9.3700, 52.1250))),
    dict(id="KR-FL-05", bezeichnung="110-kV-Leitung Hameln-Nord - Hessisch Oldendorf", typ="Freileitung",
         spannung_kv=110, betreiber=NETZ_VERT, status="gestört", stand="2026-11-21T00:40:00Z",
         einstufung="OFFEN", freigabe=KR_ALL,
         geom=line((9.3700, 52.1250), (9.3400, 52.1350), (9.3100, 52.1450), (9.2800, 52.1580),
                   (9.2550, 52.1680))),
    dict(id="KR-FL-06", bezeichnung="110-kV-Leitung Hameln-Süd - Afferde", typ="Freileitung", spannung_kv=110,
         betreiber=NETZ_VERT, status="in Betrieb", stand="2026-11-21T03:30:00Z", einstufung="VS-NfD",
         freigabe=KRITIS_NFD,
         geom=line((9.3650, 52.0880), (9.3850, 52.0920), (9.4050, 52.0950))),
]

# id, bezeichnung, spannung, betreiber, status, notstrom_h, lon, lat, stand, einstufung, freigabe
SUBSTATIONS = [
    ("KR-UW-01", "Umspannwerk Grohnde", "380/110", NETZ_UEB, "in Betrieb", 72, 9.41500, 52.03300,
     "2026-11-21T04:00:00Z", "VS-NfD", "kritis,lagezentrum,landkreis"),
    ("KR-UW-02", "Umspannwerk Hameln-Nord", "110/20", NETZ_VERT, "in Betrieb", 24, 9.37000, 52.12500,
     "2026-11-21T03:30:00Z", "VS-NfD", KRITIS_NFD),
    ("KR-UW-03", "Umspannwerk Hameln-Süd", "110/20", NETZ_VERT, "vorsorglich abgeschaltet", 0, 9.36500, 52.08800,
     "2026-11-20T23:15:00Z", "OFFEN", KR_ALL),
    ("KR-UW-04", "Umspannwerk Afferde", "110/20", NETZ_VERT, "in Betrieb", 24, 9.40500, 52.09500,
     "2026-11-21T03:30:00Z", "VS-NfD", KRITIS_NFD),
    ("KR-UW-05", "Umspannwerk Hessisch Oldendorf", "110/20", NETZ_VERT, "gefährdet", 12, 9.25500, 52.16800,
     "2026-11-21T02:50:00Z", "OFFEN", KR_ALL),
    ("KR-UW-06", "Umspannwerk Emmerthal", "110/20", NETZ_VERT, "in Betrieb", 24, 9.39500, 52.04800,
     "2026-11-21T03:30:00Z", "VS-NfD", KRITIS_NFD),
]

# id, bezeichnung, typ, kapazitaet_m3_d, versorgte_einwohner, status, lon, lat, stand, einstufung, freigabe
WATER_WORKS = [
    ("KR-WW-01", "Wasserwerk Hameln-Süd", "Wasserwerk", 18000, 38000, "gefährdet", 9.37200, 52.07800,
     "2026-11-21T02:00:00Z", "VS-NfD", KRITIS_NFD + ",military"),
    ("KR-WW-02", "Wasserwerk Fischbeck", "Wasserwerk", 6000, 11000, "außer Betrieb", 9.29000, 52.14500,
     "2026-11-21T01:10:00Z", "OFFEN", KR_ALL),
    ("KR-WW-03", "Hochbehälter Klüt", "Hochbehälter", 8000, 21000, "in Betrieb", 9.33000, 52.10000,
     "2026-11-21T02:00:00Z", "VS-NfD", KRITIS_NFD),
    ("KR-WW-04", "Wasserwerk Emmerthal", "Wasserwerk", 4500, 9000, "in Betrieb", 9.38000, 52.04000,
     "2026-11-21T02:00:00Z", "VS-NfD", KRITIS_NFD),
]


def make_kritis():
    d = os.path.join(DATA, "kritis")
    fresh_dir(d)
    counts = {}
    # GML 3.2 with srsName http://www.opengis.net/def/crs/EPSG/0/31467: GDAL
    # writes the coordinates in the CRS's EPSG axis order (northing, easting)
    # from geometries in x=easting, y=northing order.
    ds = ogr.GetDriverByName("GML").CreateDataSource(
        os.path.join(d, "kritis.gml"),
        options=["FORMAT=GML3.2", "XSISCHEMA=EXTERNAL", "PREFIX=kritis",
                 "TARGET_NAMESPACE=urn:lagebild:demo:kritis", "WRITE_FEATURE_BOUNDED_BY=NO"])

    fields = [("id", "str"), ("bezeichnung", "str"), ("typ", "str"), ("spannung_kv", "int"), ("betreiber", "str"),
              ("status", "str"), ("stand", "str"), ("einstufung", "str"), ("freigabe", "str")]
    counts["kritis.gml:power_lines"] = write_layer(ds, "power_lines", 31467, ogr.wkbLineString, fields, POWER_LINES)

    fields = [("id", "str"), ("bezeichnung", "str"), ("typ", "str"), ("spannung_kv", "str"), ("betreiber", "str"),
              ("status", "str"), ("notstrom_h", "int"), ("stand", "str"), ("genauigkeit_m", "int"),
              ("einstufung", "str"), ("freigabe", "str")]
    feats = [dict(id=r[0], bezeichnung=r[1], typ="Umspannwerk", spannung_kv=r[2], betreiber=r[3], status=r[4],
                  notstrom_h=r[5], stand=r[8], genauigkeit_m=20, einstufung=r[9], freigabe=r[10],
                  geom=pt(r[6], r[7])) for r in SUBSTATIONS]
    counts["kritis.gml:substations"] = write_layer(ds, "substations", 31467, ogr.wkbPoint, fields, feats)

    fields = [("id", "str"), ("bezeichnung", "str"), ("typ", "str"), ("kapazitaet_m3_d", "int"),
              ("versorgte_einwohner", "int"), ("betreiber", "str"), ("status", "str"), ("stand", "str"),
              ("genauigkeit_m", "int"), ("einstufung", "str"), ("freigabe", "str")]
    feats = [dict(id=r[0], bezeichnung=r[1], typ=r[2], kapazitaet_m3_d=r[3], versorgte_einwohner=r[4],
                  betreiber=SW_HAMELN, status=r[5], stand=r[8], genauigkeit_m=20, einstufung=r[9], freigabe=r[10],
                  geom=pt(r[6], r[7])) for r in WATER_WORKS]
    counts["kritis.gml:water_works"] = write_layer(ds, "water_works", 31467, ogr.wkbPoint, fields, feats)
    ds = None
    return counts


# ---------------------------------------------------------------------------
# Read-back checks: every file opens, has the intended CRS and feature count,
# and every geometry read back (GDAL default options) and transformed to
# WGS 84 lies where it was meant to be.
# ---------------------------------------------------------------------------


def all_sources():
    """(path, layer name or None, epsg, source rows in lon/lat)"""
    P = lambda *p: os.path.join(DATA, *p)
    return [
        (P("police", "roadblocks.geojson"), None, 4326, [pt(r[5], r[6]) for r in ROADBLOCKS]),
        (P("police", "incidents.geojson"), None, 4326, [pt(r[5], r[6]) for r in INCIDENTS_POL]),
        (P("police", "evacuation_zones.geojson"), None, 4326, [z["geom"] for z in EVAC_ZONES]),
        (P("fire", "deployment_areas.shp"), None, 25832, [poly(r[5]) for r in DEPLOYMENT_AREAS]),
        (P("fire", "hydrants.shp"), None, 25832, [f["geom"] for f in hydrant_features()]),
        (P("fire", "staging_points.shp"), None, 25832, [pt(r[5], r[6]) for r in STAGING]),
        (P("fire", "incidents.shp"), None, 25832, [pt(r[5], r[6]) for r in INCIDENTS_FW]),
        (P("military", "military.gpkg"), "convoy_routes", 32632, [f["geom"] for f in CONVOY_ROUTES]),
        (P("military", "military.gpkg"), "assembly_areas", 32632, [f["geom"] for f in ASSEMBLY_AREAS]),
        (P("military", "military.gpkg"), "bridges", 32632, [pt(r[6], r[7]) for r in BRIDGES]),
        (P("kritis", "kritis.gml"), "power_lines", 31467, [f["geom"] for f in POWER_LINES]),
        (P("kritis", "kritis.gml"), "substations", 31467, [pt(r[6], r[7]) for r in SUBSTATIONS]),
        (P("kritis", "kritis.gml"), "water_works", 31467, [pt(r[6], r[7]) for r in WATER_WORKS]),
    ]


def vertices(g):
    """All vertices of an OGR geometry as (x, y), rings closed, in order."""
    if g.GetGeometryCount():
        return [v for i in range(g.GetGeometryCount()) for v in vertices(g.GetGeometryRef(i))]
    return [(g.GetX(i), g.GetY(i)) for i in range(g.GetPointCount())]


def metres(lon0, lat0, lon1, lat1):
    """Approximate distance in metres between two nearby lon/lat points."""
    k = 111195.0
    return math.hypot((lon1 - lon0) * k * math.cos(math.radians(lat0)), (lat1 - lat0) * k)


def check():
    ok = True
    for path, lname, epsg, geoms in all_sources():
        ds = ogr.Open(path)
        lyr = ds.GetLayerByName(lname) if lname else ds.GetLayer(0)
        s = lyr.GetSpatialRef()
        got = s.GetAuthorityCode(None) if s else None
        if got is None and s is not None:
            m = s.FindMatches()
            got = m[0][0].GetAuthorityCode(None) if m and m[0][1] >= 90 else None
        back = osr.CoordinateTransformation(s, WGS84)  # s keeps the mapping GDAL gave it
        worst = 0.0
        lyr.ResetReading()
        for f, want in zip(lyr, geoms):
            g = f.GetGeometryRef().Clone()
            g.Transform(back)
            # Hausdorff distance over the vertices (ring orientation may be
            # changed by a driver: shapefiles store outer rings clockwise).
            a, b = vertices(g), vertices(to_ogr(want, 4326))
            for p, q in ((a, b), (b, a)):
                for x0, y0 in p:
                    worst = max(worst, min(metres(x0, y0, x1, y1) for x1, y1 in q))
        n = lyr.GetFeatureCount()
        okay = str(got) == str(epsg) and n == len(geoms) and worst < 0.5
        ok &= okay
        print("%-4s %-45s EPSG:%-6s %3d features  max deviation %.3f m" % (
            "ok" if okay else "FAIL", os.path.relpath(path, HERE) + (":" + lname if lname else ""),
            got, n, worst))
    # units.csv: MGRS must decode to the intended positions (1 m cells)
    with open(os.path.join(DATA, "military", "units.csv"), encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    inp = "".join(r["mgrs"].replace(" ", "") + "\n" for r in rows)
    out = subprocess.run([shutil.which("GeoConvert"), "-g", "-p", "3"], input=inp, capture_output=True,
                         text=True, check=True).stdout.split("\n")
    worst = 0.0
    for r, u, o in zip(rows, UNITS, out):
        lat, lon = map(float, o.split())
        worst = max(worst, metres(u[2], u[3], lon, lat))
    okay = len(rows) == len(UNITS) and worst < 1.5
    ok &= okay
    print("%-4s %-45s MGRS 32U   %3d rows      max deviation %.3f m" % (
        "ok" if okay else "FAIL", "data/military/units.csv", len(rows), worst))
    # bounding box
    for path, lname, epsg, geoms in all_sources():
        for g in geoms:
            x0, x1, y0, y1 = to_ogr(g, 4326).GetEnvelope()
            if not (BBOX[0] <= x0 and x1 <= BBOX[2] and BBOX[1] <= y0 and y1 <= BBOX[3]):
                print("FAIL outside bbox:", path, g)
                ok = False
    return ok


def main():
    if "--check" not in sys.argv[1:]:
        counts = {}
        for make in (make_police, make_fire, make_military, make_kritis):
            counts.update(make())
        for k, v in counts.items():
            print("wrote %-40s %3d features" % (k, v))
    if not check():
        sys.exit("demo data check FAILED")


if __name__ == "__main__":
    main()
