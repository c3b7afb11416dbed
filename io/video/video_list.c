#include "video_list.h"

#include <dirent.h>
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "fileutil.h"

const char *const milnce_video_exts[] = {"mp4", "mkv", "webm", "mov", "avi", "m4v", "mpg", "mpeg",
                                         "flv", "ts",  "ogv", "3gp", NULL};

int milnce_media_ext(const char *ext) {
    static const char *const other[] = {"mka", "mks", NULL};
    for (int i = 0; milnce_video_exts[i]; i++)
        if (strcasecmp(ext, milnce_video_exts[i]) == 0) return MILNCE_MEDIA_VIDEO;
    for (int i = 0; other[i]; i++)
        if (strcasecmp(ext, other[i]) == 0) return MILNCE_MEDIA_OTHER;
    return MILNCE_MEDIA_NONE;
}

int milnce_video_id_check(const char *id, milnce_error *err) {
    size_t n = strlen(id);
    if (n == 0) return milnce_error_set(err, MILNCE_ERR_INVALID, "empty video id");
    if (n > 255) return milnce_error_set(err, MILNCE_ERR_INVALID, "video id longer than 255 bytes");
    /* Reported in order of danger: control bytes, then separators, then dots. */
    for (const unsigned char *s = (const unsigned char *)id; *s; s++)
        if (*s < 0x20 || *s == 0x7f)
            return milnce_error_set(err, MILNCE_ERR_INVALID, "video id holds a control character");
    if (strpbrk(id, "/\\"))
        return milnce_error_set(err, MILNCE_ERR_INVALID, "video id '%s' holds a path separator (would leave the output folder)", id);
    if (strchr(id, '.'))
        return milnce_error_set(err, MILNCE_ERR_INVALID, "video id '%s' holds '.' (shard keys have no dots)", id);
    return 0;
}

void milnce_csv_init(milnce_csv *c, const char *data, size_t n) {
    memset(c, 0, sizeof *c);
    c->p = data;
    c->end = data + n;
    c->line = 1;
    if (n >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0) c->p += 3;
}

static int push_field(milnce_csv *c, const char *s, size_t len) {
    if (c->nfields == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 8;
        char **f = realloc(c->fields, cap * sizeof *f);
        if (!f) return -1;
        c->fields = f;
        c->cap = cap;
    }
    char *t = malloc(len + 1);
    if (!t) return -1;
    memcpy(t, s, len);
    t[len] = '\0';
    c->fields[c->nfields++] = t;
    return 0;
}

static void clear_fields(milnce_csv *c) {
    for (size_t i = 0; i < c->nfields; i++) free(c->fields[i]);
    c->nfields = 0;
}

int milnce_csv_next(milnce_csv *c, const char *name, milnce_error *err) {
    clear_fields(c);
    /* skip blank lines */
    while (c->p < c->end && (*c->p == '\n' || *c->p == '\r')) {
        if (*c->p == '\n') c->line++;
        c->p++;
    }
    if (c->p >= c->end) return 0;
    size_t start_line = c->line;
    c->record_line = start_line;
    char *buf = NULL;
    size_t blen = 0, bcap = 0;
    for (;;) {
        blen = 0;
        if (c->p < c->end && *c->p == '"') {
            c->p++;
            for (;;) {
                if (c->p >= c->end) {
                    free(buf);
                    return milnce_error_set(err, MILNCE_ERR_FORMAT, "%s:%zu: unterminated quoted field", name, start_line);
                }
                char ch = *c->p++;
                if (ch == '"') {
                    if (c->p < c->end && *c->p == '"') c->p++;
                    else break;
                }
                if (ch == '\n') c->line++;
                if (blen + 1 >= bcap) {
                    bcap = bcap ? bcap * 2 : 64;
                    char *nb = realloc(buf, bcap);
                    if (!nb) { free(buf); return milnce_error_set(err, MILNCE_ERR_NOMEM, "%s", name); }
                    buf = nb;
                }
                buf[blen++] = ch;
            }
            /* anything after the closing quote up to the separator is kept verbatim */
        }
        while (c->p < c->end && *c->p != ',' && *c->p != '\n' && *c->p != '\r') {
            if (blen + 1 >= bcap) {
                bcap = bcap ? bcap * 2 : 64;
                char *nb = realloc(buf, bcap);
                if (!nb) { free(buf); return milnce_error_set(err, MILNCE_ERR_NOMEM, "%s", name); }
                buf = nb;
            }
            buf[blen++] = *c->p++;
        }
        if (push_field(c, buf ? buf : "", blen) < 0) {
            free(buf);
            return milnce_error_set(err, MILNCE_ERR_NOMEM, "%s", name);
        }
        if (c->p < c->end && *c->p == ',') {
            c->p++;
            continue;
        }
        if (c->p < c->end && *c->p == '\r') c->p++;
        if (c->p < c->end && *c->p == '\n') {
            c->p++;
            c->line++;
        }
        break;
    }
    free(buf);
    return 1;
}

void milnce_csv_free(milnce_csv *c) {
    clear_fields(c);
    free(c->fields);
    c->fields = NULL;
    c->cap = 0;
}

static int add_entry(milnce_video_list *l, const char *id, const char *path, const char *error,
                     const char *category, size_t line, milnce_error *err) {
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        milnce_video_entry *v = realloc(l->v, cap * sizeof *v);
        if (!v) return milnce_error_set(err, MILNCE_ERR_NOMEM, "video list");
        l->v = v;
        l->cap = cap;
    }
    milnce_video_entry *e = &l->v[l->n];
    e->id = strdup(id);
    e->path = path ? strdup(path) : NULL;
    e->error = error ? strdup(error) : NULL;
    e->line = line;
    e->category = error ? category : NULL;
    if (!e->id || (path && !e->path) || (error && !e->error))
        return milnce_error_set(err, MILNCE_ERR_NOMEM, "video list");
    l->n++;
    return 0;
}

static int has_video_ext(const char *name) {
    const char *dot = strrchr(name, '.');
    if (!dot) return 0;
    return milnce_media_ext(dot + 1) == MILNCE_MEDIA_VIDEO;
}

/* The stem of a path: last component without its last extension. */
static void stem_of(const char *path, char *out, size_t cap) {
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    snprintf(out, cap, "%s", base);
    char *dot = strrchr(out, '.');
    if (dot && dot != out) *dot = '\0';
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int read_folder(const char *dir, milnce_video_list *out, milnce_error *err) {
    DIR *d = opendir(dir);
    if (!d) return milnce_error_set(err, MILNCE_ERR_IO, "%s: %s", dir, strerror(errno));
    char **names = NULL;
    size_t n = 0, cap = 0;
    int ret = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.' || !has_video_ext(de->d_name)) continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            char **nn = realloc(names, cap * sizeof *nn);
            if (!nn) { ret = milnce_error_set(err, MILNCE_ERR_NOMEM, "%s", dir); goto end; }
            names = nn;
        }
        if (!(names[n] = strdup(de->d_name))) { ret = milnce_error_set(err, MILNCE_ERR_NOMEM, "%s", dir); goto end; }
        n++;
    }
    qsort(names, n, sizeof *names, cmp_str);
    for (size_t i = 0; i < n && ret == 0; i++) {
        char path[MILNCE_PATH_MAX], id[512];
        if ((ret = milnce_path(path, sizeof path, err, "%s/%s", dir, names[i])) < 0) break;
        if (!milnce_is_file(path)) continue;
        stem_of(names[i], id, sizeof id);
        milnce_error e = {0};
        int bad = milnce_video_id_check(id, &e) < 0;
        ret = add_entry(out, id, path, bad ? e.msg : NULL, MILNCE_VIDEO_UNSAFE_ID, 0, err);
    }
end:
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
    closedir(d);
    return ret;
}

typedef struct {
    const char *id;
    size_t i;
} id_at;

static int cmp_id_at(const void *a, const void *b) {
    const id_at *x = a, *y = b;
    int c = strcmp(x->id, y->id);
    return c ? c : (x->i > y->i) - (x->i < y->i);
}

/* Every usable entry whose id an earlier usable entry has gets an error naming that one. */
static int mark_duplicates(milnce_video_list *l, const char *list_path, milnce_error *err) {
    if (l->n < 2) return 0;
    id_at *v = malloc(l->n * sizeof *v);
    if (!v) return milnce_error_set(err, MILNCE_ERR_NOMEM, "%s: %zu ids", list_path, l->n);
    size_t m = 0;
    for (size_t i = 0; i < l->n; i++)
        if (!l->v[i].error) v[m++] = (id_at){l->v[i].id, i};
    qsort(v, m, sizeof *v, cmp_id_at);
    int ret = 0;
    for (size_t k = 1; k < m && ret == 0; k++) {
        size_t first = k;
        while (first > 0 && strcmp(v[first - 1].id, v[k].id) == 0) first--;
        if (first == k) continue;
        const milnce_video_entry *a = &l->v[v[first].i];
        milnce_video_entry *b = &l->v[v[k].i];
        char msg[1200];
        if (a->line)
            snprintf(msg, sizeof msg, "%s:%zu: duplicate id '%.255s' (line %zu has it already: %.400s)", list_path,
                     b->line, b->id, a->line, a->path ? a->path : "");
        else
            snprintf(msg, sizeof msg, "duplicate id '%.255s': %.400s has it already", b->id, a->path ? a->path : "");
        if (!(b->error = strdup(msg))) ret = milnce_error_set(err, MILNCE_ERR_NOMEM, "%s", list_path);
        b->category = MILNCE_VIDEO_DUPLICATE;
    }
    free(v);
    return ret;
}

static int find_col(const milnce_csv *c, const char *name) {
    for (size_t i = 0; i < c->nfields; i++)
        if (strcmp(c->fields[i], name) == 0) return (int)i;
    return -1;
}

int milnce_video_list_read(const char *path, const char *root, milnce_video_list *out,
                           milnce_error *err) {
    memset(out, 0, sizeof *out);
    struct stat st;
    if (stat(path, &st) < 0) return milnce_error_set(err, MILNCE_ERR_NOTFOUND, "%s: %s", path, strerror(errno));
    if (S_ISDIR(st.st_mode)) {
        int ret = read_folder(path, out, err);
        if (ret == 0) ret = mark_duplicates(out, path, err);
        if (ret < 0) milnce_video_list_free(out);
        return ret;
    }
    char *data;
    size_t n;
    int ret = milnce_read_file(path, 0, &data, &n, NULL, err);
    if (ret < 0) return ret;
    char dirbuf[MILNCE_PATH_MAX];
    if ((ret = milnce_path(dirbuf, sizeof dirbuf, err, "%s", path)) < 0) {
        free(data);
        return ret;
    }
    const char *csv_dir = dirname(dirbuf);
    if (!root) root = csv_dir;
    milnce_csv c;
    milnce_csv_init(&c, data, n);
    ret = milnce_csv_next(&c, path, err);
    if (ret <= 0) {
        if (ret == 0) ret = milnce_error_set(err, MILNCE_ERR_FORMAT, "%s: empty video list (expected a header with video_path or video_id)", path);
        goto end;
    }
    int cpath = find_col(&c, "video_path"), cid = find_col(&c, "video_id"), ctask = find_col(&c, "task");
    if (cpath < 0 && cid < 0) {
        ret = milnce_error_set(err, MILNCE_ERR_FORMAT, "%s:1: header has neither a video_path nor a video_id column", path);
        goto end;
    }
    while ((ret = milnce_csv_next(&c, path, err)) == 1) {
        char id[512], full[MILNCE_PATH_MAX];
        const char *p = NULL, *category = MILNCE_VIDEO_UNSAFE_ID;
        milnce_error e = {0};
        if (cpath >= 0 && (size_t)cpath < c.nfields && *c.fields[cpath]) {
            const char *vp = c.fields[cpath];
            /* a path too long is this entry's error, not a cut path naming another file */
            if (vp[0] == '/') milnce_path(full, sizeof full, &e, "%s", vp);
            else milnce_path(full, sizeof full, &e, "%s/%s", csv_dir, vp);
            p = e.code ? NULL : full;
            if (cid >= 0 && (size_t)cid < c.nfields && *c.fields[cid]) snprintf(id, sizeof id, "%s", c.fields[cid]);
            else stem_of(vp, id, sizeof id);
        } else if (cid >= 0 && (size_t)cid < c.nfields && *c.fields[cid]) {
            snprintf(id, sizeof id, "%s", c.fields[cid]);
            if (milnce_video_id_check(id, &e) == 0) {
                for (int k = 0; milnce_video_exts[k] && !p && !e.code; k++) {
                    if (milnce_path(full, sizeof full, &e, "%s/%s.%s", root, id, milnce_video_exts[k]) == 0 &&
                        milnce_is_file(full))
                        p = full;
                    else if (!e.code && ctask >= 0 && (size_t)ctask < c.nfields &&
                             milnce_path(full, sizeof full, &e, "%s/%s/%s.%s", root, c.fields[ctask], id,
                                         milnce_video_exts[k]) == 0 &&
                             milnce_is_file(full))
                        p = full;
                }
            }
        } else {
            snprintf(id, sizeof id, "line%zu", c.record_line);
            e.code = MILNCE_ERR_INVALID;
            snprintf(e.msg, sizeof e.msg, "%s:%zu: no video_path or video_id", path, c.record_line);
            category = MILNCE_VIDEO_BAD_LINE;
        }
        if (!e.code && milnce_video_id_check(id, &e) == 0 && !p) {
            milnce_error_set(&e, MILNCE_ERR_NOTFOUND, "no video file for id %s under %s", id, root);
            category = MILNCE_VIDEO_MISSING;
        }
        /* an unusable id is logged under a safe placeholder name */
        if (e.code && milnce_video_id_check(id, NULL) < 0) snprintf(id, sizeof id, "line%zu", c.record_line);
        if ((ret = add_entry(out, id, p, e.code ? e.msg : NULL, category, c.record_line, err)) < 0) goto end;
    }
    if (ret == 0) ret = mark_duplicates(out, path, err);
end:
    milnce_csv_free(&c);
    free(data);
    if (ret < 0) milnce_video_list_free(out);
    return ret < 0 ? ret : 0;
}

void milnce_video_list_free(milnce_video_list *l) {
    for (size_t i = 0; i < l->n; i++) {
        free(l->v[i].id);
        free(l->v[i].path);
        free(l->v[i].error);
    }
    free(l->v);
    memset(l, 0, sizeof *l);
}
