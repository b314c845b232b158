/* This file implements lb_status texts and the lb_error helpers. */
#include <stdarg.h>
#include <stdio.h>

#include "lagebild/status.h"

const char *lb_strerror(lb_status st)
{
    switch (st) {
#define LB__STATUS_TEXT(name, value, text) \
    case LB_##name:                        \
        return text;
        LB_STATUS_MAP(LB__STATUS_TEXT)
#undef LB__STATUS_TEXT
    }
    return "unknown status";
}

const char *lb_status_name(lb_status st)
{
    switch (st) {
#define LB__STATUS_NAME(name, value, text) \
    case LB_##name:                        \
        return #name;
        LB_STATUS_MAP(LB__STATUS_NAME)
#undef LB__STATUS_NAME
    }
    return "UNKNOWN";
}

lb_status lb_fail(lb_error *err, lb_status st, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->status = st;
    }
    return st;
}

void lb_error_clear(lb_error *err)
{
    if (err) {
        err->status = LB_OK;
        err->msg[0] = '\0';
    }
}
