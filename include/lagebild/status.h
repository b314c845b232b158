/*
 * lagebild — status codes and error details shared by every module.
 *
 * Every fallible function returns an lb_status: 0 (LB_OK) on success, a
 * negative value on failure.  New codes are only ever appended to the end of
 * LB_STATUS_MAP so that numeric values stay stable.  Where the caller passes an
 * lb_error, the failing function writes a human-readable detail message into
 * it (naming the file, source or key at fault); the caller owns the struct.
 */
#ifndef LAGEBILD_STATUS_H
#define LAGEBILD_STATUS_H

#include <stddef.h>

#define LB_STATUS_MAP(X)                                              \
    X(OK, 0, "success")                                               \
    X(ENOMEM, -1, "out of memory")                                    \
    X(EINVAL, -2, "invalid argument")                                 \
    X(EIO, -3, "input/output error")                                  \
    X(ENOENT, -4, "no such file or object")                           \
    X(ECONFIG, -5, "invalid configuration")                           \
    X(EFORMAT, -6, "unreadable or corrupt data")                      \
    X(ECRS, -7, "coordinate reference system problem")                \
    X(EGEOM, -8, "invalid geometry")                                  \
    X(ESTORE, -9, "store error")                                      \
    X(EMAPPING, -10, "attribute mapping error")                       \
    X(EMGRS, -11, "malformed MGRS position")                          \
    X(EDRIVER, -12, "unknown or unusable driver")                     \
    X(ERANGE, -13, "value out of range")                              \
    X(EINTERNAL, -14, "internal error")                               \
    X(EAUTH, -15, "not authenticated")

typedef enum {
#define LB__STATUS_ENUM(name, value, text) LB_##name = value,
    LB_STATUS_MAP(LB__STATUS_ENUM)
#undef LB__STATUS_ENUM
} lb_status;

/* Human-readable text for a status ("invalid configuration"). Never NULL. */
const char *lb_strerror(lb_status st);
/* Symbolic name of a status ("ECONFIG"). Never NULL. */
const char *lb_status_name(lb_status st);

/* Detail of the last failure; filled by the failing function. */
typedef struct lb_error {
    lb_status status;
    char msg[1024];
} lb_error;

/*
 * Record a failure in err (which may be NULL) and return st, so that callers
 * can write `return lb_fail(err, LB_EIO, "cannot open %s", path);`.
 */
lb_status lb_fail(lb_error *err, lb_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Clear err to "no error". */
void lb_error_clear(lb_error *err);

#endif
