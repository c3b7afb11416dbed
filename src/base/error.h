/* Error codes and messages for every library function.
 *
 * A library function returns 0 on success or a negative MILNCE_ERR_* code, and, when the caller
 * passes a milnce_error, fills it with a message that names the file, line or key at fault.
 * Nothing below the command layer prints or exits. */
#ifndef MILNCE_ERROR_H
#define MILNCE_ERROR_H

#include <stdarg.h>

enum {
    MILNCE_OK = 0,
    MILNCE_ERR_INVALID = -1,     /* bad argument or bad input content */
    MILNCE_ERR_IO = -2,          /* open/read/write/rename failed */
    MILNCE_ERR_NOMEM = -3,       /* allocation failed */
    MILNCE_ERR_FORMAT = -4,      /* malformed file (names file and line/offset) */
    MILNCE_ERR_UNSUPPORTED = -5, /* valid input this build cannot handle */
    MILNCE_ERR_NOTFOUND = -6,    /* missing file, key, stream or tensor */
    MILNCE_ERR_RANGE = -7,       /* value out of its allowed range */
    MILNCE_ERR_DECODE = -8,      /* codec-level failure */
    MILNCE_ERR_NUMERIC = -9,     /* NaN/Inf where a finite value is required */
    MILNCE_ERR_INTERRUPTED = -10 /* stopped by a signal or a cancel request */
};

#define MILNCE_ERROR_MSG_MAX 1024

typedef struct milnce_error {
    int code;                       /* last code set, 0 if none */
    char msg[MILNCE_ERROR_MSG_MAX]; /* human-readable, no trailing newline */
} milnce_error;

#if defined(__GNUC__)
#define MILNCE_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define MILNCE_PRINTF(f, a)
#endif

/* Records code and message in err (err may be NULL) and returns code, so callers can write
 * `return milnce_error_set(err, MILNCE_ERR_FORMAT, "%s:%d: bad timing", path, line);`. */
int milnce_error_set(milnce_error *err, int code, const char *fmt, ...) MILNCE_PRINTF(3, 4);
int milnce_error_vset(milnce_error *err, int code, const char *fmt, va_list ap);

/* Prepends "prefix: " to an existing message (adds context on the way up). Returns err->code. */
int milnce_error_prefix(milnce_error *err, const char *fmt, ...) MILNCE_PRINTF(2, 3);

void milnce_error_clear(milnce_error *err);

/* Static name of a code, e.g. "format error". */
const char *milnce_strerror(int code);

/* Warnings and progress from library code go through a caller-supplied sink; a NULL logger is
 * silent. Levels follow the usual order. */
enum { MILNCE_LOG_ERROR = 0, MILNCE_LOG_WARN = 1, MILNCE_LOG_INFO = 2, MILNCE_LOG_DEBUG = 3 };

typedef struct milnce_logger {
    void (*fn)(void *user, int level, const char *msg);
    void *user;
} milnce_logger;

void milnce_log(const milnce_logger *lg, int level, const char *fmt, ...) MILNCE_PRINTF(3, 4);

#endif
