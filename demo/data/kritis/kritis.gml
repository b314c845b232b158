<?xml version="1.0" encoding="utf-8" ?>
<kritis:FeatureCollection
     gml:id="aFeatureCollection"
     xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
     xsi:schemaLocation="urn:lagebild:demo:kritis kritis.xsd"
     xmlns:kritis="urn:lagebild:demo:kritis"
     xmlns:gml="http://www.opengis.net/gml/3.2">
  <gml:boundedBy><gml:Envelope srsName="urn:ogc:def:crs:EPSG::31467"><gml:lowerCorner>5758466.47 3511758.73</gml:lowerCorner><gml:upperCorner>5788638.37 3537651.44</gml:upperCorner></gml:Envelope></gml:boundedBy>
                                                                                                                                         
  <kritis:featureMember>
    <kritis:power_lines gml:id="power_lines.0">
      <kritis:geometryProperty><gml:LineString srsName="urn:ogc:def:crs:EPSG::31467" gml:id="power_lines.geom.0"><gml:posList>5766656.87 3528553.26 5770783.88 3530243.94 5775247.51 3532272.17 5779712.01 3534296.71 5784177.37 3536317.55 5788638.37 3537651.44</gml:posList></gml:LineString></kritis:geometryProperty>
      <kritis:id>KR-FL-01</kritis:id>
      <kritis:bezeichnung>380-kV-Leitung Grohnde - Nord</kritis:bezeichnung>
      <kritis:typ>Freileitung</kritis:typ>
      <kritis:spannung_kv>380</kritis:spannung_kv>
      <kritis:betreiber>Übertragungsnetzbetreiber (Demo)</kritis:betreiber>
      <kritis:status>in Betrieb</kritis:status>
      <kritis:stand>2026-11-21T04:00:00Z</kritis:stand>
      <kritis:einstufung>VS-NfD</kritis:einstufung>
      <kritis:freigabe>kritis,lagezentrum,landkreis</kritis:freigabe>
    </kritis:power_lines>
  </kritis:featureMember>
  <kritis:featureMember>
    <kritis:power_lines gml:id="power_lines.1">
      <kritis:geometryProperty><gml:LineString srsName="urn:ogc:def:crs:EPSG::31467" gml:id="power_lines.geom.1"><gml:posList>5766656.87 3528553.26 5765197.23 3526158.9 5763511.42 3522734.15 5761827.96 3519307.11 5759588.4 3515192.29 5758466.47 3511758.73</gml:posList></gml:LineString></kritis:geometryProperty>
      <kritis:id>KR-FL-02</kritis:id>
      <kritis:bezeichnung>380-kV-Leitung Grohnde - West</kritis:bezeichnung>
      <kritis:typ>Freileitung</kritis:typ>
      <kritis:spannung_kv>380</kritis:spannung_kv>
      <kritis:betreiber>Übertragungsnetzbetreiber (Demo)</kritis:betreiber>
      <kritis:status>in Betrieb</kritis:status>
      <kritis:stand>2026-11-21T04:00:00Z</kritis:stand>
      <kritis:einstufung>VS-NfD</kritis:einstufung>
      <kritis:freigabe>kritis,lagezentrum,landkreis</kritis:freigabe>
    </kritis:power_lines>
  </kritis:featureMember>
  <kritis:featureMember>
    <kritis:power_lines gml:id="power_lines.2">
      <kritis:geometryProperty><gml:LineString srsName="urn:ogc:def:crs:EPSG::31467" gml:id="power_lines.geom.2"><gml:posList>5766656.87 3528553.26 5768322.0 3527857.66 5770207.9 3526818.42 5771871.49 3525781.11 5772758.13 3525091.07</gml:posList></gml:LineString></kritis:geometryProperty>
      <kritis:id>KR-FL-03</kritis:id>
      <kritis:bezeichnung>110-kV-Leitung Grohnde - Hameln-Süd</kritis:bezeichnung>
      <kritis:typ>Freileitung</kritis:typ>
      <kritis:spannung_kv>110</kritis:spannung_kv>
      <kritis:betreiber>Verteilnetz Weserbergland (Demo)</kritis:betreiber>
      <kritis:status>gefährdet</kritis:status>
      <kritis:stand>2026-11-21T03:30:00Z</kritis:stand>
      <kritis:einstufung>VS-NfD</kritis:einstufung>
      <kritis:freigabe>kritis,lagezentrum,landkreis,fire,thw</kritis:freigabe>
    </kritis:power_lines>
  </kritis:featureMember>
  <kritis:featureMember>
    <kritis:power_lines gml:id="power_lines.3">
      <kritis:geometryProperty><gml:LineString srsName="urn:ogc:def:crs:EPSG::31467" gml:id="power_lines.geom.3"><gml:posList>5772758.13 3525091.07 5774095.79 3525564.01 5775432.07 3525762.67 5776876.8 3525412.75</gml:posList></gml:LineString></kritis:geometryProperty>
      <kritis:id>KR-FL-04</kritis:id>
      <kritis:bezeichnung>110-kV-Leitung Hameln-Süd - Hameln-Nord</kritis:bezeichnung>
      <kritis:typ>Erdkabel</kritis:typ>
      <kritis:spannung_kv>110</kritis:spannung_kv>
      <kritis:betreiber>Verteilnetz Weserbergland (Demo)</kritis:betreiber>
      <kritis:status>abgeschaltet</kritis:status>
      <kritis:stand>2026-11-20T23:15:00Z</kritis:stand>
      <kritis:einstufung>VS-NfD</kritis:einstufung>
      <kritis:freigabe>kritis,lagezentrum,landkreis,fire,thw</kritis:freigabe>
    </kritis:power_lines>
  </kritis:featureMember>
  <kritis:featureMember>
    <kritis:power_lines gml:id="power_lines.4">
      <kritis:geometryProperty><gml:LineString srsName="urn:ogc:def:crs:EPSG::31467" gml:id="power_lines.geom.4"><gml:posList>5776876.8 3525412.75 5777979.41 3523352.94 5779082.88 3521294.05 5780521.0 3519234.78 5781627.36 3517519.96</gml:posList></gml:LineString></kritis:geometryProperty>
      <kritis:id>KR-FL-05</kritis:id>
      <kritis:bezeichnung>110-kV-Leitung Hameln-Nord - Hessisch Oldendorf</kritis:bezeichnung>
      <kritis:typ>Freileitung</kritis:typ>
      <kritis:spannung_kv>110</kritis:spannung_kv>
      <kritis:betreiber>Verteilnetz Weserbergland (Demo)</kritis:betreiber>
      <kritis:status>gestört</kritis:status>
      <kritis:stand>2026-11-21T00:40:00Z</kritis:stand>
      <kritis:einstufung>OFFEN</kritis:einstufung>
      <kritis:freigabe>kritis,lagezentrum,landkreis,fire,police,thw,military</kritis:freigabe>
    </kritis:power_lines>
  </kritis:featureMember>
  <kritis:featureMember>
    <kritis:power_lines gml:id="power_lines.5">
      <kritis:geometryProperty><gml:LineString srsName="urn:ogc:def:crs:EPSG::31467" gml:id="power_lines.geom.5"><gml:posList>5772758.13 3525091.07 5773210.3 3526459.56 5773551.58 3527828.43</gml:posList></gml:LineString></kritis:geometryProperty>
      <kritis:id>KR-FL-06</kritis:id>
      <kritis:bezeichnung>110-kV-Leitung Hameln-Süd - Afferde</kritis:bezeichnung>
      <kritis:typ>Freileitung</kritis:typ>
      <kritis:spannung_kv>110</kritis:spannung_kv>
      <kritis:betreiber>Verteilnetz Weserbergland (Demo)</kritis:betreiber>
      <kritis:status>in Betrieb</kritis:status>
      <kritis:stand>2026-11-21T03:30:00Z</kritis:stand>
      <kritis:einstufung>VS-NfD</kritis:einstufung>
      <kritis:freigabe>kritis,lagezentrum,landkreis,fire,thw</kritis:freigabe>
    </kritis:power_lines>
  </kritis:featureMember>
  <kritis:featureMember>
    <kritis:substations gml:id="substations.0">
      <kritis:geometryProperty><gml:Point srsName="urn:ogc:def:crs:EPSG::31467" gml:id="substations.geom.0"><gml:pos>5766656.87 3528553.26</gml:pos></gml:Point></kritis:geometryProperty>
      <kritis:id>KR-UW-01</kritis:id>
      <kritis:bezeichnung>Umspannwerk Grohnde</kritis:bezeichnung>
      <kritis:typ>Umspannwerk</kritis:typ>
      <kritis:spannung_kv>380/110</kritis:spannung_kv>
      <kritis:betreiber>Übertragungsnetzbetreiber (Demo)</kritis:betreiber>
      <kritis:status>in Betrieb</kritis:status>
      <kritis:notstrom_h>72</kritis:notstrom_h>
      <kritis:stand>2026-11-21T04:00:00Z</kritis:stand>
      <kritis:genauigkeit_m>20</kritis:genauigkeit_m>
      <kritis:einstufung>VS-NfD</kritis:einstufung>
      <kritis:freigabe>kritis,lagezentrum,landkreis</kritis:freigabe>
    </kritis:substations>
  </kritis:featureMember>
  <kritis:featureMember>
    <kritis:substations gml:id="substations.1">
      <kritis:geometryProperty><gml:Point srsName="urn:ogc:def:crs:EPSG::31467" gml:id="substations.geom.1"><gml:pos>5776876.8 3525412.75</gml:pos></gml:Point></kritis:geometryProperty>
      <kritis:id>KR-UW-02</kritis:id>
      <kritis:bezeichnung>Umspannwerk Hameln-Nord</kritis:bezeichnung>
      <kritis:typ>Umspannwerk</kritis:typ>
      <kritis:spannung_kv>110/20</kritis:spannung_kv>
      <kritis:betreiber>Verteilnetz Weserbergland (Demo)</kritis:betreiber>
      <kritis:status>in Betrieb</kritis:status>
      <kritis:notstrom_h>24</kritis:notstrom_h>
      <kritis:stand>2026-11-21T03:30:00Z</kritis:stand>
      <kritis:genauigkeit_m>20</kritis:genauigkeit_m>
      <kritis:einstufung>VS-NfD</kritis:einstufung>
      <kritis:freigabe>kritis,lagezentrum,landkreis,fire,thw</kritis:freigabe>
    </kritis:substations>
  </kritis:featureMember>
  <kritis:featureMember>
    <kritis:substations gml:id="substations.2">
      <kritis:geometryProperty><gml:Point srsName="urn:ogc:def:crs:EPSG::31467" gml:id="substations.geom.2"><gml:pos>5772758.13 3525091.07</gml:pos></gml:Point></kritis:geometryProperty>
      <kritis:id>KR-UW-03</kritis:id>
      <kritis:bezeichnung>Umspannwerk Hameln-Süd</kritis:bezeichnung>
      <kritis:typ>Umspannwerk</kritis:typ>
      <kritis:spannung_kv>110/20</kritis:spannung_kv>
      <kritis:betreiber>Verteilnetz Weserbergland (Demo)</kritis:betreiber>
      <kritis:status>vorsorglich abgeschaltet</kritis:status>
      <kritis:notstrom_h>0</kritis:notstrom_h>
      <kritis:stand>2026-11-20T23:15:00Z</kritis:stand>
      <kritis:genauigkeit_m>20</kritis:genauigkeit_m>
      <kritis:einstufung>OFFEN</kritis:einstufung>
      <kritis:freigabe>kritis,lagezentrum,landkreis,fire,police,thw,military</kritis:freigabe>
    </kritis:substations>
  </kritis:featureMember>
  <kritis:featureMember>
    <kritis:substations gml:id="substations.3">
      <kritis:geometryProperty><gml:Point srsName="urn:ogc:def:crs:EPSG::31467" gml:id="substations.geom.3"><gml:pos>5773551.58 3527828.43</gml:pos></gml:Point></kritis:geometryProperty>
      <kritis:id>KR-UW-04</kritis:id>
      <kritis:bezeichnung>Umspannwerk Afferde</kritis:bezeichnung>
      <kritis:typ>Umspannwerk</kritis:typ>
      <kritis:spannung_kv>110/20</kritis:spannung_kv>
      <kritis:betreiber>Verteilnetz Weserbergland (Demo)</kritis:betreiber>
      <kritis:status>in Betrieb</kritis:status>
      <kritis:notstrom_h>24</kritis:notstrom_h>
      <kritis:stand>2026-11-21T03:30:00Z</kritis:stand>
      <kritis:genauigkeit_m>20</kritis:genauigkeit_m>
      <kritis:einstufung>VS-NfD</kritis:einstufung>
      <kritis:freigabe>kritis,lagezentrum,landkreis,fire,thw</kritis:freigabe>
    </kritis:substations>
  </kritis:featureMember>
  <kritis:featureMember>
    <kritis:substations gml:id="substations.4">
      <kritis:geometryProperty><gml:Point srsName="urn:ogc:def:crs:EPSG::31467" gml:id="substations.geom.4"><gml:pos>5781627.36 3517519.96</gml:pos></gml:Point></kritis:geometryProperty>
      <kritis:id>KR-UW-05</kritis:id>
      <kritis:bezeichnung>Umspannwerk Hessisch Oldendorf</kritis:bezeichnung>
      <kritis:typ>Umspannwerk</kritis:typ>
      <kritis:spannung_kv>110/20</kritis:spannung_kv>
      <kritis:betreiber>Verteilnetz Weserbergland (Demo)</kritis:betreiber>
      <kritis:status>gefährdet</kritis:status>
      <kritis:notstrom_h>12</kritis:notstrom_h>
      <kritis:stand>2026-11-21T02:50:00Z</kritis:stand>
      <kritis:genauigkeit_m>20</kritis:genauigkeit_m>
      <kritis:einstufung>OFFEN</kritis:einstufung>
      <kritis:freigabe>kritis,lagezentrum,landkreis,fire,police,thw,military</kritis:freigabe>
    </kritis:substations>
  </kritis:featureMember>
  <kritis:featureMember>
    <kritis:substations gml:id="substations.5">
      <kritis:geometryProperty><gml:Point srsName="urn:ogc:def:crs:EPSG::31467" gml:id="substations.geom.5"><gml:pos>5768318.21 3527171.62</gml:pos></gml:Point></kritis:geometryProperty>
      <kritis:id>KR-UW-06</kritis:id>
      <kritis:bezeichnung>Umspannwerk Emmerthal</kritis:bezeichnung>
      <kritis:typ>Umspannwerk</kritis:typ>
      <kritis:spannung_kv>110/20</kritis:spannung_kv>
      <kritis:betreiber>Verteilnetz Weserbergland (Demo)</kritis:betreiber>
      <kritis:status>in Betrieb</kritis:status>
      <kritis:notstrom_h>24</kritis:notstrom_h>
      <kritis:stand>2026-11-21T03:30:00Z</kritis:stand>
      <kritis:genauigkeit_m>20</kritis:genauigkeit_m>
      <kritis:einstufung>VS-NfD</kritis:einstufung>
      <kritis:freigabe>kritis,lagezentrum,landkreis,fire,thw</kritis:freigabe>
    </kritis:substations>
  </kritis:featureMember>
  <kritis:featureMember>
    <kritis:water_works gml:id="water_works.0">
      <kritis:geometryProperty><gml:Point srsName="urn:ogc:def:crs:EPSG::31467" gml:id="water_works.geom.0"><gml:pos>5771647.89 3525576.59</gml:pos></gml:Point></kritis:geometryProperty>
      <kritis:id>KR-WW-01</kritis:id>
      <kritis:bezeichnung>Wasserwerk Hameln-Süd</kritis:bezeichnung>
      <kritis:typ>Wasserwerk</kritis:typ>
      <kritis:kapazitaet_m3_d>18000</kritis:kapazitaet_m3_d>
      <kritis:versorgte_einwohner>38000</kritis:versorgte_einwohner>
      <kritis:betreiber>Stadtwerke Hameln (Demo)</kritis:betreiber>
      <kritis:status>gefährdet</kritis:status>
      <kritis:stand>2026-11-21T02:00:00Z</kritis:stand>
      <kritis:genauigkeit_m>20</kritis:genauigkeit_m>
      <kritis:einstufung>VS-NfD</kritis:einstufung>
      <kritis:freigabe>kritis,lagezentrum,landkreis,fire,thw,military</kritis:freigabe>
    </kritis:water_works>
  </kritis:featureMember>
  <kritis:featureMember>
    <kritis:water_works gml:id="water_works.1">
      <kritis:geometryProperty><gml:Point srsName="urn:ogc:def:crs:EPSG::31467" gml:id="water_works.geom.1"><gml:pos>5779077.19 3519924.94</gml:pos></gml:Point></kritis:geometryProperty>
      <kritis:id>KR-WW-02</kritis:id>
      <kritis:bezeichnung>Wasserwerk Fischbeck</kritis:bezeichnung>
      <kritis:typ>Wasserwerk</kritis:typ>
      <kritis:kapazitaet_m3_d>6000</kritis:kapazitaet_m3_d>
      <kritis:versorgte_einwohner>11000</kritis:versorgte_einwohner>
      <kritis:betreiber>Stadtwerke Hameln (Demo)</kritis:betreiber>
      <kritis:status>außer Betrieb</kritis:status>
      <kritis:stand>2026-11-21T01:10:00Z</kritis:stand>
      <kritis:genauigkeit_m>20</kritis:genauigkeit_m>
      <kritis:einstufung>OFFEN</kritis:einstufung>
      <kritis:freigabe>kritis,lagezentrum,landkreis,fire,police,thw,military</kritis:freigabe>
    </kritis:water_works>
  </kritis:featureMember>
  <kritis:featureMember>
    <kritis:water_works gml:id="water_works.2">
      <kritis:geometryProperty><gml:Point srsName="urn:ogc:def:crs:EPSG::31467" gml:id="water_works.geom.2"><gml:pos>5774081.83 3522685.99</gml:pos></gml:Point></kritis:geometryProperty>
      <kritis:id>KR-WW-03</kritis:id>
      <kritis:bezeichnung>Hochbehälter Klüt</kritis:bezeichnung>
      <kritis:typ>Hochbehälter</kritis:typ>
      <kritis:kapazitaet_m3_d>8000</kritis:kapazitaet_m3_d>
      <kritis:versorgte_einwohner>21000</kritis:versorgte_einwohner>
      <kritis:betreiber>Stadtwerke Hameln (Demo)</kritis:betreiber>
      <kritis:status>in Betrieb</kritis:status>
      <kritis:stand>2026-11-21T02:00:00Z</kritis:stand>
      <kritis:genauigkeit_m>20</kritis:genauigkeit_m>
      <kritis:einstufung>VS-NfD</kritis:einstufung>
      <kritis:freigabe>kritis,lagezentrum,landkreis,fire,thw</kritis:freigabe>
    </kritis:water_works>
  </kritis:featureMember>
  <kritis:featureMember>
    <kritis:water_works gml:id="water_works.3">
      <kritis:geometryProperty><gml:Point srsName="urn:ogc:def:crs:EPSG::31467" gml:id="water_works.geom.3"><gml:pos>5767422.57 3526147.23</gml:pos></gml:Point></kritis:geometryProperty>
      <kritis:id>KR-WW-04</kritis:id>
      <kritis:bezeichnung>Wasserwerk Emmerthal</kritis:bezeichnung>
      <kritis:typ>Wasserwerk</kritis:typ>
      <kritis:kapazitaet_m3_d>4500</kritis:kapazitaet_m3_d>
      <kritis:versorgte_einwohner>9000</kritis:versorgte_einwohner>
      <kritis:betreiber>Stadtwerke Hameln (Demo)</kritis:betreiber>
      <kritis:status>in Betrieb</kritis:status>
      <kritis:stand>2026-11-21T02:00:00Z</kritis:stand>
      <kritis:genauigkeit_m>20</kritis:genauigkeit_m>
      <kritis:einstufung>VS-NfD</kritis:einstufung>
      <kritis:freigabe>kritis,lagezentrum,landkreis,fire,thw</kritis:freigabe>
    </kritis:water_works>
  </kritis:featureMember>
</kritis:FeatureCollection>
