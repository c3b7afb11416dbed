/* HowTo100M per-video caption CSV (`start,end,text`) and the YouCook2 layout
 * (`end,start,task,text,video_id`): RFC 4180 records, columns found by header name. */
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "transcript_internal.h"

typedef struct {
    char **f;     /* (n) fields, each malloc'ed */
    size_t n, cap;
} record;

static void rec_clear(record *r) {
    for (size_t i = 0; i < r->n; i++) free(r->f[i]);
    r->n = 0;
}

static int rec_push(record *r, const char *s, size_t n) {
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 8;
        char **f = realloc(r->f, cap * sizeof *f);
        if (!f) return -1;
        r->f = f;
        r->cap = cap;
    }
    char *c = malloc(n + 1);
    if (!c) return -1;
    memcpy(c, s, n);
    c[n] = '\0';
    r->f[r->n++] = c;
    return 0;
}

/* Reads one record at *pos; quoted fields may hold commas, "" and newlines. Returns 1 for a
 * record, 0 at the end, <0 on error. *line advances by the newlines consumed. */
static int next_record(const char *name, const char *t, size_t len, size_t *pos, size_t *line,
                       record *r, char **tmp, size_t *tmpcap, milnce_error *err) {
    size_t p = *pos;
    rec_clear(r);
    if (p >= len) return 0;
    size_t start_line = *line;
    for (;;) {
        size_t k = 0;
        if (p < len && t[p] == '"') {
            p++;
            for (;;) {
                if (p >= len)
                    return milnce_error_set(err, MILNCE_ERR_FORMAT,
                                            "%s:%zu: quoted field not closed", name, start_line);
                if (t[p] == '"') {
                    if (p + 1 < len && t[p + 1] == '"') { p++; }
                    else { p++; break; }
                }
                if (t[p] == '\n') (*line)++;
                if (k + 2 > *tmpcap) {
                    size_t cap = *tmpcap ? *tmpcap * 2 : 256;
                    char *nb = realloc(*tmp, cap);
                    if (!nb) return milnce_error_set(err, MILNCE_ERR_NOMEM, "%s: csv field", name);
                    *tmp = nb;
                    *tmpcap = cap;
                }
                (*tmp)[k++] = t[p++];
            }
            /* Bytes between the closing quote and the separator are tolerated, as most
             * writers never produce them and readers (Python csv) append them. */
            while (p < len && t[p] != ',' && t[p] != '\n' && t[p] != '\r') {
                if (k + 2 > *tmpcap) {
                    size_t cap = *tmpcap ? *tmpcap * 2 : 256;
                    char *nb = realloc(*tmp, cap);
                    if (!nb) return milnce_error_set(err, MILNCE_ERR_NOMEM, "%s: csv field", name);
                    *tmp = nb;
                    *tmpcap = cap;
                }
                (*tmp)[k++] = t[p++];
            }
            if (rec_push(r, *tmp ? *tmp : "", k) < 0)
                return milnce_error_set(err, MILNCE_ERR_NOMEM, "%s: csv record", name);
        } else {
            size_t b = p;
            while (p < len && t[p] != ',' && t[p] != '\n' && t[p] != '\r') p++;
            if (rec_push(r, t + b, p - b) < 0)
                return milnce_error_set(err, MILNCE_ERR_NOMEM, "%s: csv record", name);
        }
        if (p < len && t[p] == ',') { p++; continue; }
        if (p < len && t[p] == '\r') p++;
        if (p < len && t[p] == '\n') { p++; (*line)++; }
        break;
    }
    *pos = p;
    return 1;
}

static int parse_time(const char *s, double *v) {
    while (isspace((unsigned char)*s)) s++;
    if (!*s) return -1;
    char *e;
    *v = strtod(s, &e);
    while (isspace((unsigned char)*e)) e++;
    return (*e || !milnce_cue_time_ok(*v)) ? -1 : 0;
}

static int col_of(const record *h, const char *want) {
    for (size_t i = 0; i < h->n; i++) {
        const char *s = h->f[i];
        while (isspace((unsigned char)*s)) s++;
        size_t L = strlen(s);
        while (L && isspace((unsigned char)s[L - 1])) L--;
        if (L == strlen(want) && strncasecmp(s, want, L) == 0) return (int)i;
    }
    return -1;
}

static int blank_record(const record *r) {
    for (size_t i = 0; i < r->n; i++)
        for (const char *s = r->f[i]; *s; s++)
            if (!isspace((unsigned char)*s)) return 0;
    return 1;
}

int milnce__parse_csv(const char *name, const char *text, size_t len,
                      const milnce_transcript_opts *o, milnce_cues *out, const milnce_logger *lg,
                      milnce_error *err) {
    record r = {0};
    char *tmp = NULL;
    size_t tmpcap = 0, pos = 0, line = 1;
    int rc;
    int cs = 0, ce = 1, ct = 2, cv = -1, have_header = 0;
    size_t rec_line = line;
    /* Header: the first non-blank record. */
    while ((rc = next_record(name, text, len, &pos, &line, &r, &tmp, &tmpcap, err)) == 1 &&
           blank_record(&r))
        rec_line = line;
    if (rc <= 0) goto done; /* empty file: zero cues */
    int hs = col_of(&r, "start"), he = col_of(&r, "end"), ht = col_of(&r, "text");
    if (ht < 0) ht = col_of(&r, "sentence");
    if (hs >= 0 && he >= 0 && ht >= 0) {
        cs = hs; ce = he; ct = ht;
        cv = col_of(&r, "video_id");
        have_header = 1;
    } else {
        double a, b;
        if (!(r.n >= 3 && parse_time(r.f[0], &a) == 0 && parse_time(r.f[1], &b) == 0)) {
            rc = milnce_error_set(err, MILNCE_ERR_FORMAT,
                                  "%s:%zu: header must name the start, end and text columns", name,
                                  rec_line);
            goto done;
        }
        /* No header: start,end,text from the first line on. */
    }
    int need = cs > ce ? cs : ce;
    if (ct > need) need = ct;
    if (cv > need) need = cv;
    int first = !have_header;
    for (;;) {
        if (!first) {
            rec_line = line;
            rc = next_record(name, text, len, &pos, &line, &r, &tmp, &tmpcap, err);
            if (rc <= 0) break;
        }
        first = 0;
        if (blank_record(&r)) continue;
        if ((int)r.n <= need) {
            rc = milnce_error_set(err, MILNCE_ERR_FORMAT, "%s:%zu: %zu fields, expected %d", name,
                                  rec_line, r.n, need + 1);
            goto done;
        }
        if (cv >= 0 && o->video_id && strcmp(r.f[cv], o->video_id) != 0) continue;
        double s, e;
        if (parse_time(r.f[cs], &s) < 0 || parse_time(r.f[ce], &e) < 0) {
            if (o->strict) {
                rc = milnce_error_set(err, MILNCE_ERR_FORMAT,
                                      "%s:%zu: bad times start='%.40s' end='%.40s' (need numbers from 0 to %g s)",
                                      name, rec_line, r.f[cs], r.f[ce], MILNCE_CUE_TIME_MAX);
                goto done;
            }
            milnce_log(lg, MILNCE_LOG_WARN, "%s:%zu: bad times, line skipped", name, rec_line);
            continue;
        }
        if (e < s) {
            milnce_log(lg, MILNCE_LOG_WARN, "%s:%zu: end before start; end set to start", name, rec_line);
            e = s;
        }
        if ((rc = milnce_cues_push(out, s, e, r.f[ct], (size_t)-1, err)) < 0) goto done;
    }
done:
    rec_clear(&r);
    free(r.f);
    free(tmp);
    return rc < 0 ? rc : 0;
}
