/*
 * lagebild — MGRS (Military Grid Reference System) positions.
 *
 * Armed-forces sources report positions as MGRS strings ("32UNC1234567890").
 * lb_mgrs_parse() validates such a string and yields the grid cell it names;
 * lb_mgrs_to_lonlat() gives the cell's centre in WGS 84 longitude/latitude
 * (the convention GeographicLib's MGRS::Reverse uses with centerp=true).
 * lb_mgrs_from_lonlat() is the forward conversion (used by the data
 * generators and by tests).
 */
#ifndef LAGEBILD_MGRS_H
#define LAGEBILD_MGRS_H

#include "lagebild/status.h"

typedef struct lb_mgrs {
    int zone;          /* 1..60 for UTM, 0 for UPS (polar) */
    char band;         /* latitude band letter C..X (UTM) or A/B/Y/Z (UPS) */
    int north;         /* 1 northern hemisphere, 0 southern */
    double easting;    /* metres, south-west corner of the cell (full UTM/UPS easting) */
    double northing;   /* metres, south-west corner of the cell (full UTM/UPS northing) */
    int precision;     /* number of digits per coordinate, 0..5 (cell size 10^(5-precision) m) */
} lb_mgrs;

/*
 * Parse an MGRS string (spaces allowed, case-insensitive).  On failure returns
 * LB_EMGRS and err names what is wrong ("band letter 'I' is not valid").
 */
lb_status lb_mgrs_parse(const char *s, lb_mgrs *out, lb_error *err);

/* Cell centre of an MGRS string in WGS 84 lon/lat degrees; size_m is the cell edge. */
lb_status lb_mgrs_to_lonlat(const char *s, double *lon, double *lat, double *size_m, lb_error *err);

/* MGRS string of a WGS 84 position at the given precision (0..5 digits). buf >= 20 bytes. */
lb_status lb_mgrs_from_lonlat(double lon, double lat, int precision, char *buf, size_t n, lb_error *err);

/*
 * Free the PROJ objects that the conversions above cache (one per UTM/UPS
 * zone, created on first use).  Call once at shutdown (and at the end of
 * tests, so that leak checkers stay quiet).  Thread-safe: it takes the same
 * lock as the conversions, and a later conversion creates the objects again.
 */
void lb_mgrs_cleanup(void);

#endif
