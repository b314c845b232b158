/*
 * This file implements OGC WMTS 1.0.0 for the maps a principal may see:
 * capabilities (per principal: only visible maps, both tile matrix sets,
 * ows:WGS84BoundingBox, URN CRSs, KVP and REST endpoints), GetTile by KVP
 * (keys case-insensitive, values URL-decoded) and by REST
 * (/wmts/{map}/{TileMatrixSet}/{TileMatrix}/{TileRow}/{TileCol}.png).
 * The capabilities URL also answers QGIS's first probe,
 * SERVICE=WMS&REQUEST=GetCapabilities, with the WMTS document.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "server_int.h"

static void xml_text(lb_buf *b, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '<': lb_buf_puts(b, "&lt;"); break;
        case '>': lb_buf_puts(b, "&gt;"); break;
        case '&': lb_buf_puts(b, "&amp;"); break;
        case '"': lb_buf_puts(b, "&quot;"); break;
        case '\'': lb_buf_puts(b, "&apos;"); break;
        default: lb_buf_putc(b, *s); break;
        }
    }
}

/* Base URL of this service as the client addressed it (Host header). */
static void base_url(lb_req *r, char *out, size_t n)
{
    const char *host = mg_get_header(r->conn, "Host");
    char h[200];
    snprintf(h, sizeof h, "%s", host && strlen(host) < 190 ? host : "127.0.0.1");
    for (char *p = h; *p; p++)
        if (!(((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
               *p == '.' || *p == ':' || *p == '-' || *p == '[' || *p == ']')))
            *p = '_';
    snprintf(out, n, "http://%s", h);
}

/* "?token=..." (URL-encoded) when the token came as a query parameter, else "". */
static void token_suffix(lb_req *r, char sep, lb_buf *b)
{
    if (!r->token_in_query || !r->token)
        return;
    lb_buf_putc(b, sep);
    lb_buf_puts(b, "token=");
    for (const char *p = r->token; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '_' || c == '.' || c == '~')
            lb_buf_putc(b, (char)c);
        else
            lb_buf_printf(b, "%%%02X", c);
    }
}

static void tile_matrix_set(lb_buf *b, const lb_tms *t)
{
    lb_buf_puts(b, "<TileMatrixSet><ows:Identifier>");
    xml_text(b, t->id);
    lb_buf_puts(b, "</ows:Identifier><ows:SupportedCRS>");
    xml_text(b, t->crs_urn);
    lb_buf_puts(b, "</ows:SupportedCRS>");
    if (strcmp(t->id, "WebMercatorQuad") == 0)
        lb_buf_puts(b, "<WellKnownScaleSet>urn:ogc:def:wkss:OGC:1.0:GoogleMapsCompatible"
                       "</WellKnownScaleSet>");
    for (int z = t->min_zoom; z <= t->max_zoom; z++) {
        lb_buf_printf(b, "<TileMatrix><ows:Identifier>%d</ows:Identifier>"
                         "<ScaleDenominator>%.17g</ScaleDenominator>"
                         "<TopLeftCorner>%.17g %.17g</TopLeftCorner>"
                         "<TileWidth>%d</TileWidth><TileHeight>%d</TileHeight>"
                         "<MatrixWidth>%ld</MatrixWidth><MatrixHeight>%ld</MatrixHeight>"
                         "</TileMatrix>",
                      z, t->scale0 / ldexp(1.0, z), t->origin_x, t->origin_y, t->tile_size,
                      t->tile_size, lb_tms_matrix_width(t, z), lb_tms_matrix_height(t, z));
    }
    lb_buf_puts(b, "</TileMatrixSet>");
}

static bool map_visible(lb_req *r, const lb_map_cfg *m)
{
    time_t now = time(NULL);
    for (size_t i = 0; i < m->nlayers; i++) {
        lb_grant g;
        if (lb_access_layer(r->st->access, r->principal, m->layers[i], now, &g))
            return true;
    }
    return false;
}

void lb_wmts_capabilities(lb_req *r)
{
    char base[256];
    base_url(r, base, sizeof base);
    size_t ngrids;
    const lb_tms *grids = lb_tms_all(&ngrids);
    lb_buf tok = {0}, b = {0};
    token_suffix(r, '?', &tok);
    lb_buf_puts(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                    "<Capabilities xmlns=\"http://www.opengis.net/wmts/1.0\" "
                    "xmlns:ows=\"http://www.opengis.net/ows/1.1\" "
                    "xmlns:xlink=\"http://www.w3.org/1999/xlink\" "
                    "xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" "
                    "xsi:schemaLocation=\"http://www.opengis.net/wmts/1.0 "
                    "http://schemas.opengis.net/wmts/1.0/wmtsGetCapabilities_response.xsd\" "
                    "version=\"1.0.0\">\n"
                    "<ows:ServiceIdentification><ows:Title>lagebild</ows:Title>"
                    "<ows:ServiceType>OGC WMTS</ows:ServiceType>"
                    "<ows:ServiceTypeVersion>1.0.0</ows:ServiceTypeVersion>"
                    "</ows:ServiceIdentification>\n<ows:OperationsMetadata>");
    const char *ops[] = {"GetCapabilities", "GetTile"};
    for (int i = 0; i < 2; i++) {
        lb_buf_printf(&b, "<ows:Operation name=\"%s\"><ows:DCP><ows:HTTP><ows:Get xlink:href=\"",
                      ops[i]);
        xml_text(&b, base);
        xml_text(&b, "/wmts?");
        if (tok.len)
            xml_text(&b, tok.data + 1);
        lb_buf_puts(&b, "\"><ows:Constraint name=\"GetEncoding\"><ows:AllowedValues>"
                        "<ows:Value>KVP</ows:Value></ows:AllowedValues></ows:Constraint>"
                        "</ows:Get><ows:Get xlink:href=\"");
        xml_text(&b, base);
        xml_text(&b, "/wmts/");
        lb_buf_puts(&b, "\"><ows:Constraint name=\"GetEncoding\"><ows:AllowedValues>"
                        "<ows:Value>RESTful</ows:Value></ows:AllowedValues></ows:Constraint>"
                        "</ows:Get></ows:HTTP></ows:DCP></ows:Operation>");
    }
    lb_buf_puts(&b, "</ows:OperationsMetadata>\n<Contents>\n");
    for (size_t i = 0; i < r->st->cfg->nmaps; i++) {
        const lb_map_cfg *m = &r->st->cfg->maps[i];
        if (!map_visible(r, m))
            continue;
        lb_buf_puts(&b, "<Layer><ows:Title>");
        xml_text(&b, m->title ? m->title : m->id);
        lb_buf_puts(&b, "</ows:Title><ows:WGS84BoundingBox><ows:LowerCorner>5.8 47.2"
                        "</ows:LowerCorner><ows:UpperCorner>15.1 55.1</ows:UpperCorner>"
                        "</ows:WGS84BoundingBox><ows:Identifier>");
        xml_text(&b, m->id);
        lb_buf_puts(&b, "</ows:Identifier><Style isDefault=\"true\"><ows:Identifier>default"
                        "</ows:Identifier></Style><Format>image/png</Format>");
        for (size_t g = 0; g < ngrids && g < LB_NGRIDS; g++) {
            lb_buf_puts(&b, "<TileMatrixSetLink><TileMatrixSet>");
            xml_text(&b, grids[g].id);
            lb_buf_puts(&b, "</TileMatrixSet></TileMatrixSetLink>");
        }
        lb_buf_puts(&b, "<ResourceURL format=\"image/png\" resourceType=\"tile\" template=\"");
        xml_text(&b, base);
        xml_text(&b, "/wmts/");
        xml_text(&b, m->id);
        xml_text(&b, "/{TileMatrixSet}/{TileMatrix}/{TileRow}/{TileCol}.png");
        if (tok.len)
            xml_text(&b, tok.data);
        lb_buf_puts(&b, "\"/></Layer>\n");
    }
    for (size_t g = 0; g < ngrids && g < LB_NGRIDS; g++)
        tile_matrix_set(&b, &grids[g]);
    lb_buf_puts(&b, "\n</Contents>\n</Capabilities>\n");
    lb_audit_request(r, "wmts capabilities", "released");
    lb_http_send_text(r, 200, "application/xml", b.data, b.len, "Cache-Control: private, no-cache\r\n");
    lb_buf_free(&b);
    lb_buf_free(&tok);
}

static void ows_exception(lb_req *r, int status, const char *code, const char *locator,
                          const char *text)
{
    lb_buf b = {0};
    lb_buf_puts(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ExceptionReport "
                    "xmlns=\"http://www.opengis.net/ows/1.1\" version=\"1.1.0\"><Exception "
                    "exceptionCode=\"");
    xml_text(&b, code);
    lb_buf_puts(&b, "\" locator=\"");
    xml_text(&b, locator);
    lb_buf_puts(&b, "\"><ExceptionText>");
    xml_text(&b, text);
    lb_buf_puts(&b, "</ExceptionText></Exception></ExceptionReport>\n");
    lb_http_send(r, status, "application/xml", b.data, b.len, "Cache-Control: no-store\r\n");
    lb_buf_free(&b);
}

static int grid_index(const char *id)
{
    const lb_tms *t = lb_tms_find(id);
    size_t ngrids;
    const lb_tms *grids = lb_tms_all(&ngrids);
    for (size_t g = 0; t && g < ngrids && g < LB_NGRIDS; g++)
        if (t == &grids[g])
            return (int)g;
    return -1;
}

static bool parse_num(const char *s, long *out)
{
    if (!*s || strlen(s) > 12)
        return false;
    for (const char *p = s; *p; p++)
        if (*p < '0' || *p > '9')
            return false;
    *out = strtol(s, NULL, 10);
    return true;
}

/* Whether the raw query names key (case-insensitive), whatever its value. */
static bool key_present(const char *q, const char *key)
{
    size_t n = strlen(key);
    while (q && *q) {
        if (strncasecmp(q, key, n) == 0 && q[n] == '=')
            return true;
        q = strchr(q, '&');
        if (q)
            q++;
    }
    return false;
}

void lb_wmts_kvp(lb_req *r)
{
    char service[32] = "", request[64] = "";
    lb_http_query(r, "SERVICE", service, sizeof service);
    lb_http_query(r, "REQUEST", request, sizeof request);
    if (lb_strcasecmp(request, "GetCapabilities") == 0 &&
        (lb_strcasecmp(service, "WMTS") == 0 || lb_strcasecmp(service, "WMS") == 0 || !*service)) {
        lb_wmts_capabilities(r);
        return;
    }
    if (!*service) {
        ows_exception(r, 400, "MissingParameterValue", "SERVICE", "SERVICE=WMTS is missing");
        return;
    }
    if (lb_strcasecmp(service, "WMTS") != 0) {
        ows_exception(r, 400, "InvalidParameterValue", "SERVICE", "SERVICE must be WMTS");
        return;
    }
    if (!*request) {
        ows_exception(r, 400, "MissingParameterValue", "REQUEST", "REQUEST is missing");
        return;
    }
    if (lb_strcasecmp(request, "GetTile") != 0) {
        ows_exception(r, 400, "OperationNotSupported", "REQUEST",
                      "REQUEST must be GetCapabilities or GetTile");
        return;
    }
    char layer[128], tms[64], matrix[16], row[16], col[16], format[64] = "image/png";
    const char *missing = !lb_http_query(r, "LAYER", layer, sizeof layer)           ? "LAYER"
                          : !lb_http_query(r, "TILEMATRIXSET", tms, sizeof tms)     ? "TILEMATRIXSET"
                          : !lb_http_query(r, "TILEMATRIX", matrix, sizeof matrix)  ? "TILEMATRIX"
                          : !lb_http_query(r, "TILEROW", row, sizeof row)           ? "TILEROW"
                          : !lb_http_query(r, "TILECOL", col, sizeof col)           ? "TILECOL"
                                                                                    : NULL;
    if (missing) {
        if (key_present(r->ri->query_string, missing)) {
            lb_http_not_found(r); /* present but undecodable: like any bad value */
            return;
        }
        ows_exception(r, 400, "MissingParameterValue", missing, "missing parameter");
        return;
    }
    lb_http_query(r, "FORMAT", format, sizeof format);
    if (lb_strcasecmp(format, "image/png") != 0) {
        ows_exception(r, 400, "InvalidParameterValue", "FORMAT", "FORMAT must be image/png");
        return;
    }
    long z, y, x;
    int g = grid_index(tms);
    if (g < 0 || !parse_num(matrix, &z) || !parse_num(row, &y) || !parse_num(col, &x)) {
        lb_http_not_found(r); /* same answer as for an unknown layer */
        return;
    }
    lb_serve_tile(r, layer, g, z, x, y, 1);
}

void lb_wmts_rest(lb_req *r)
{
    /* segs: wmts, map, tms, z, row, col.png */
    int g = grid_index(r->segs[2]);
    const char *file = r->segs[5];
    size_t n = strlen(file);
    char colbuf[16];
    long z, y, x;
    if (g < 0 || n <= 4 || n - 4 >= sizeof colbuf || strcmp(file + n - 4, ".png") != 0) {
        lb_http_not_found(r);
        return;
    }
    memcpy(colbuf, file, n - 4);
    colbuf[n - 4] = '\0';
    if (!parse_num(r->segs[3], &z) || !parse_num(r->segs[4], &y) || !parse_num(colbuf, &x)) {
        lb_http_not_found(r);
        return;
    }
    lb_serve_tile(r, r->segs[1], g, z, x, y, 1);
}
