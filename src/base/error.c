#include "error.h"

#include <stdio.h>
#include <string.h>

int milnce_error_vset(milnce_error *err, int code, const char *fmt, va_list ap) {
    if (err) {
        err->code = code;
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    }
    return code;
}

int milnce_error_set(milnce_error *err, int code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    milnce_error_vset(err, code, fmt, ap);
    va_end(ap);
    return code;
}

int milnce_error_prefix(milnce_error *err, const char *fmt, ...) {
    if (!err) return MILNCE_ERR_INVALID;
    char head[MILNCE_ERROR_MSG_MAX];
    char old[MILNCE_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(head, sizeof head, fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof old);
    /* A message too long for the buffer keeps its start (which names the file and the key) and
     * says it was cut. */
    if (snprintf(err->msg, sizeof err->msg, "%s: %s", head, old) >= (int)sizeof err->msg)
        memcpy(err->msg + sizeof err->msg - 4, "...", 4);
    return err->code;
}

void milnce_error_clear(milnce_error *err) {
    if (err) {
        err->code = 0;
        err->msg[0] = '\0';
    }
}

const char *milnce_strerror(int code) {
    switch (code) {
    case MILNCE_OK: return "ok";
    case MILNCE_ERR_INVALID: return "invalid input";
    case MILNCE_ERR_IO: return "i/o error";
    case MILNCE_ERR_NOMEM: return "out of memory";
    case MILNCE_ERR_FORMAT: return "format error";
    case MILNCE_ERR_UNSUPPORTED: return "unsupported";
    case MILNCE_ERR_NOTFOUND: return "not found";
    case MILNCE_ERR_RANGE: return "out of range";
    case MILNCE_ERR_DECODE: return "decode error";
    case MILNCE_ERR_NUMERIC: return "non-finite value";
    case MILNCE_ERR_INTERRUPTED: return "interrupted";
    default: return "unknown error";
    }
}

void milnce_log(const milnce_logger *lg, int level, const char *fmt, ...) {
    if (!lg || !lg->fn) return;
    char buf[MILNCE_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    lg->fn(lg->user, level, buf);
}
