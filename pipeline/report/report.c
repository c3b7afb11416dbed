/* The self-contained HTML report of a run folder (contract in report.h). */
#include "report.h"

#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "fileutil.h"
#include "html_text.h"
#include "image_write.h"
#include "run_log.h"
#include "svg_plot.h"

#define THUMB_MAX_BYTES (4u << 20)
#define CONFIG_MAX_BYTES (1u << 20)
#define NOTES_PER_KIND 10 /* individual warnings of one kind before a summary line */

/* How each field of the log (run_log.h, same order) is plotted. */
enum { F_LOSS = MILNCE_LOG_F_LOSS, F_LR = MILNCE_LOG_F_LR, F_CPS = MILNCE_LOG_F_CPS, F_WAIT = MILNCE_LOG_F_WAIT,
       F_COUNT = MILNCE_LOG_F_COUNT };

static const struct {
    const char *title, *ylabel;
    double scale;     /* display = value * scale */
    int zero;         /* y axis includes 0 */
    const char *color;
} FIELDS[F_COUNT] = {
    {"Training loss (MIL-NCE)", "loss", 1, 0, "#2563c9"},
    {"Learning rate", "learning rate", 1, 1, "#8a44c2"},
    {"Throughput", "clips / s", 1, 1, "#1a9e46"},
    {"Time waiting for data", "% of step time", 100, 1, "#d9730d"},
    {"Gradient norm", "global L2 norm", 1, 0, "#c23b3b"},
};

/* ---------------------------------------------------------------- context and notes */

typedef struct rctx {
    const char *dir;
    milnce_report_opts o;
    const milnce_logger *lg;
    milnce_report_stats st;
    milnce_buf notes; /* <li> items */
} rctx;

static void note(rctx *c, const char *fmt, ...) MILNCE_PRINTF(2, 3);
static void note(rctx *c, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    milnce_log(c->lg, MILNCE_LOG_WARN, "%s", msg);
    milnce_buf_puts(&c->notes, "<li>");
    milnce_html_puts_escaped(&c->notes, msg);
    milnce_buf_puts(&c->notes, "</li>\n");
    c->st.warnings++;
}

/* The log reader's notes, shown as the report's. */
static void log_note(void *user, const char *msg) { note(user, "%s", msg); }

/* Reads a whole file of at most max bytes. 1 = read, 0 = absent, -2 = larger than max (unless
 * truncated is given: then its first max bytes and *truncated = 1), -1 = unreadable. */
static int slurp(const char *path, size_t max, uint8_t **data, size_t *size, int *truncated) {
    char *d = NULL;
    int ret = milnce_read_file(path, max, &d, size, truncated, NULL);
    *data = (uint8_t *)d;
    return ret == 0 ? 1 : ret == MILNCE_ERR_NOTFOUND ? 0 : ret == MILNCE_ERR_RANGE ? -2 : -1;
}

/* Trailing moving average of y over win points (prefix sums). */
static void moving_average(const double *y, size_t n, size_t win, double *out) {
    double sum = 0;
    for (size_t i = 0; i < n; i++) {
        sum += y[i];
        if (i >= win) sum -= y[i - win];
        out[i] = sum / (double)(i + 1 < win ? i + 1 : win);
    }
}

static int render_training(rctx *c, milnce_buf *b, const milnce_run_log *L) {
    size_t maxp = (size_t)c->o.max_points;
    double *x = malloc((L->n + 1) * sizeof *x), *y = malloc((L->n + 1) * sizeof *y);
    double *x2 = malloc((L->n + 1) * sizeof *x2), *y2 = malloc((L->n + 1) * sizeof *y2);
    if (!x || !y || !x2 || !y2) {
        free(x), free(y), free(x2), free(y2);
        return -1;
    }
    size_t most = 0; /* largest curve that was downsampled */
    milnce_buf_puts(b, "<div class=\"plots\">\n");
    for (int f = 0; f < F_COUNT; f++) {
        size_t n = 0;
        for (size_t i = 0; i < L->n; i++)
            if (!isnan(L->rows[i].v[f])) {
                x[n] = (double)L->rows[i].step;
                y[n++] = L->rows[i].v[f] * FIELDS[f].scale;
            }
        if (n == 0) {
            if (L->present[f] == 0) note(c, "log.jsonl has no \"%s\" field: the %s plot is omitted", milnce_run_log_keys[f], FIELDS[f].title);
            else note(c, "log.jsonl: no finite \"%s\" value: the %s plot is omitted", milnce_run_log_keys[f], FIELDS[f].title);
            continue;
        }
        milnce_svg_series s[2] = {{x, y, n, FIELDS[f].color, milnce_run_log_keys[f], 1.6, n <= 60}};
        int ns = 1;
        char malabel[64];
        if (f == F_LOSS && n >= 20) { /* the raw loss is noisy: overlay a moving average */
            size_t win = n / 40 < 5 ? 5 : n / 40 > 1000 ? 1000 : n / 40;
            moving_average(y, n, win, y2);
            memcpy(x2, x, n * sizeof *x);
            snprintf(malabel, sizeof malabel, "moving average (%zu points)", win);
            s[0].color = "#9db8e6";
            s[0].width = 1.2;
            s[1] = (milnce_svg_series){x2, y2, n, "#17407f", malabel, 2.2, 0};
            ns = 2;
        }
        for (int k = 0; k < ns; k++) {
            size_t m = milnce_svg_downsample(s[k].x, s[k].y, s[k].n, maxp);
            if (k == 0 && m < n) { /* not a warning: said once under the plots */
                milnce_log(c->lg, MILNCE_LOG_INFO, "%s: %zu points drawn as %zu", milnce_run_log_keys[f], n, m);
                if (n > most) most = n;
            }
            s[k].n = m;
        }
        milnce_svg_line_plot(b, FIELDS[f].title, "step", FIELDS[f].ylabel, s, ns, FIELDS[f].zero);
    }
    milnce_buf_puts(b, "</div>\n");
    if (most)
        milnce_buf_printf(b, "<p class=\"muted\">Curves of more than %zu points (up to %zu) are drawn as the minimum and "
                     "maximum of each of %zu step ranges, so spikes stay visible.</p>\n", maxp, most, maxp / 2);
    free(x), free(y), free(x2), free(y2);
    return 0;
}

/* Summary cards of the training log. */
static void render_train_summary(milnce_buf *b, const milnce_run_log *L) {
    if (!L->n) return;
    const milnce_log_row *last = &L->rows[L->n - 1];
    milnce_buf_puts(b, "<div class=\"cards\">");
    milnce_buf_printf(b, "<div class=\"card\"><div class=\"k\">last step</div><div class=\"v\">%lld</div></div>", last->step);
    if (L->has_epoch) milnce_buf_printf(b, "<div class=\"card\"><div class=\"k\">epoch</div><div class=\"v\">%lld</div></div>", L->epoch_last);
    double sum[F_COUNT] = {0}, mn = INFINITY, lastv[F_COUNT];
    size_t cnt[F_COUNT] = {0};
    for (int f = 0; f < F_COUNT; f++) lastv[f] = NAN;
    for (size_t i = 0; i < L->n; i++)
        for (int f = 0; f < F_COUNT; f++) {
            double v = L->rows[i].v[f];
            if (isnan(v)) continue;
            sum[f] += v;
            cnt[f]++;
            lastv[f] = v;
            if (f == F_LOSS && v < mn) mn = v;
        }
    if (cnt[F_LOSS]) {
        milnce_buf_printf(b, "<div class=\"card\"><div class=\"k\">last loss</div><div class=\"v\">%.4g</div></div>", lastv[F_LOSS]);
        milnce_buf_printf(b, "<div class=\"card\"><div class=\"k\">lowest loss</div><div class=\"v\">%.4g</div></div>", mn);
    }
    if (cnt[F_LR]) milnce_buf_printf(b, "<div class=\"card\"><div class=\"k\">last lr</div><div class=\"v\">%.3g</div></div>", lastv[F_LR]);
    if (cnt[F_CPS])
        milnce_buf_printf(b, "<div class=\"card\"><div class=\"k\">mean clips/s</div><div class=\"v\">%.1f</div></div>",
                  sum[F_CPS] / (double)cnt[F_CPS]);
    if (cnt[F_WAIT])
        milnce_buf_printf(b, "<div class=\"card\"><div class=\"k\">mean data wait</div><div class=\"v\">%.1f%%</div></div>",
                  100 * sum[F_WAIT] / (double)cnt[F_WAIT]);
    milnce_buf_puts(b, "</div>\n");
}

/* ---------------------------------------------------------------- eval.json */

static double jnum(json_t *o, const char *key) {
    json_t *v = json_object_get(o, key);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

static void put_num(milnce_buf *b, double v, const char *fmt) {
    if (isfinite(v)) milnce_buf_printf(b, fmt, v);
    else milnce_buf_puts(b, "n/a");
}


static void put_jstr(milnce_buf *b, json_t *v) {
    if (json_is_string(v)) milnce_html_put_escaped(b, json_string_value(v), json_string_length(v));
    else if (json_is_integer(v)) milnce_buf_printf(b, "%lld", (long long)json_integer_value(v));
    else milnce_buf_puts(b, "n/a");
}

static void svg_recall_bars(milnce_buf *b, json_t *ev) {
    static const char *ks[3] = {"r1", "r5", "r10"};
    static const char *dirs[3] = {"t2v", "v2t", "chance"};
    double v[3][3];
    for (int d = 0; d < 3; d++)
        for (int k = 0; k < 3; k++) v[d][k] = jnum(json_object_get(ev, dirs[d]), ks[k]);
    milnce_svg_recall_bars(b, v);
}

static void render_eval_table(milnce_buf *b, json_t *ev) {
    milnce_buf_puts(b, "<div class=\"cards\">");
    static const char *keys[4] = {"dataset", "n", "missing_videos", "tie_rule"};
    static const char *lab[4] = {"dataset", "queries", "missing videos", "tie rule"};
    for (int i = 0; i < 4; i++) {
        milnce_buf_printf(b, "<div class=\"card\"><div class=\"k\">%s</div><div class=\"v%s\">", lab[i], i == 3 ? " small" : "");
        put_jstr(b, json_object_get(ev, keys[i]));
        milnce_buf_puts(b, "</div></div>");
    }
    milnce_buf_puts(b, "</div>\n<div class=\"plots\"><table class=\"metrics\"><thead><tr><th>direction</th><th>R@1</th><th>R@5</th><th>R@10</th>"
               "<th>median rank</th><th>mean rank</th></tr></thead><tbody>\n");
    static const char *dirs[3] = {"t2v", "v2t", "chance"};
    static const char *names[3] = {"text &rarr; video", "video &rarr; text", "chance"};
    for (int d = 0; d < 3; d++) {
        json_t *o = json_object_get(ev, dirs[d]);
        if (!o && d == 2) continue;
        milnce_buf_printf(b, "<tr%s><td>%s</td>", d == 2 ? " class=\"chance\"" : "", names[d]);
        static const char *ks[5] = {"r1", "r5", "r10", "median_rank", "mean_rank"};
        for (int k = 0; k < 5; k++) {
            milnce_buf_puts(b, "<td>");
            if (d == 2 && k >= 3) milnce_buf_puts(b, "");
            else if (k < 3) milnce_svg_put_pct(b, jnum(o, ks[k]));
            else put_num(b, jnum(o, ks[k]), k == 3 ? "%g" : "%.1f");
            milnce_buf_puts(b, "</td>");
        }
        milnce_buf_puts(b, "</tr>\n");
    }
    milnce_buf_puts(b, "</tbody></table>\n");
}

/* Embeds thumbnail rel (relative to the run folder) as a data URI <img>, or a placeholder. */
static void render_thumb(rctx *c, milnce_buf *b, json_t *jt, const char *alt, size_t alt_n) {
    const char *rel = json_string_value(jt);
    const char *why = NULL;
    uint8_t *data = NULL;
    size_t n = 0;
    char path[MILNCE_PATH_MAX], *real_dir = NULL, *real_file = NULL;
    milnce_image_format fmt = MILNCE_IMAGE_AUTO;
    if (!rel || !*rel) why = "no thumbnail";
    else if (rel[0] == '/' || strstr(rel, "..") || strlen(rel) > 1024 || strlen(rel) != json_string_length(jt))
        why = "refused (outside the run folder)";
    else if (milnce_path(path, sizeof path, NULL, "%s/%s", c->dir, rel) < 0)
        why = "path too long";
    else {
        real_dir = realpath(c->dir, NULL);
        real_file = realpath(path, NULL);
        size_t dl = real_dir ? strlen(real_dir) : 0;
        if (!real_file) why = "missing";
        else if (!real_dir || strncmp(real_file, real_dir, dl) != 0 || real_file[dl] != '/')
            why = "refused (outside the run folder)";
        else {
            int r = slurp(real_file, THUMB_MAX_BYTES, &data, &n, NULL);
            if (r == 0) why = "missing";
            else if (r == -2) why = "refused (larger than 4 MiB)";
            else if (r < 0) why = "unreadable";
            else if ((fmt = milnce_image_format_sniff(data, n)) == MILNCE_IMAGE_AUTO) why = "not a JPEG or PNG";
        }
    }
    free(real_dir);
    free(real_file);
    if (why) {
        c->st.thumbnails_missing++;
        if (rel && *rel && c->st.thumbnails_missing <= NOTES_PER_KIND)
            note(c, "thumbnail %s: %s", rel, why);
        milnce_buf_puts(b, "<div class=\"noimg\">");
        milnce_html_puts_escaped(b, why);
        milnce_buf_puts(b, "</div>");
    } else {
        c->st.thumbnails++;
        milnce_buf_printf(b, "<img alt=\"");
        milnce_html_put_escaped(b, alt, alt_n);
        milnce_buf_printf(b, "\" src=\"data:image/%s;base64,", fmt == MILNCE_IMAGE_PNG ? "png" : "jpeg");
        milnce_html_put_base64(b, data, n);
        milnce_buf_puts(b, "\">");
    }
    free(data);
}

static void render_examples(rctx *c, milnce_buf *b, json_t *ex) {
    size_t total = json_array_size(ex), shown = 0;
    size_t maxe = c->o.max_examples < 0 ? 0 : (size_t)c->o.max_examples;
    milnce_buf_puts(b, "<div class=\"examples\">\n");
    for (size_t i = 0; i < total && shown < maxe; i++) {
        json_t *e = json_array_get(ex, i);
        if (!json_is_object(e)) {
            note(c, "eval.json: examples[%zu] is not an object; skipped", i);
            continue;
        }
        shown++;
        milnce_buf_printf(b, "<div class=\"ex\"><p class=\"q\"><span class=\"qn\">%zu</span> ", i + 1);
        put_jstr(b, json_object_get(e, "query"));
        milnce_buf_puts(b, "</p><p class=\"gt\">ground truth: <code>");
        put_jstr(b, json_object_get(e, "gt_video"));
        milnce_buf_puts(b, "</code></p><ol class=\"top\">");
        json_t *top = json_object_get(e, "top");
        size_t nt = json_array_size(top);
        int any = 0;
        for (size_t r = 0; r < nt && r < (size_t)c->o.max_top; r++) {
            json_t *t = json_array_get(top, r);
            if (!json_is_object(t)) continue;
            int hit = json_is_true(json_object_get(t, "correct"));
            any |= hit;
            json_t *vid = json_object_get(t, "video_id");
            milnce_buf_printf(b, "<li class=\"%s\">", hit ? "hit" : "miss");
            render_thumb(c, b, json_object_get(t, "thumbnail"), json_is_string(vid) ? json_string_value(vid) : "",
                         json_is_string(vid) ? json_string_length(vid) : 0);
            if (hit) milnce_buf_puts(b, "<span class=\"mark\" title=\"correct\">&#10003; match</span>");
            milnce_buf_printf(b, "<div class=\"cap\"><b>%zu.</b> <code>", r + 1);
            put_jstr(b, vid);
            milnce_buf_puts(b, "</code><br>");
            put_num(b, jnum(t, "start"), "%.1f");
            milnce_buf_puts(b, "&ndash;");
            put_num(b, jnum(t, "end"), "%.1f");
            milnce_buf_puts(b, " s &middot; score ");
            put_num(b, jnum(t, "score"), "%.3g");
            milnce_buf_puts(b, "</div></li>");
        }
        if (nt == 0) milnce_buf_puts(b, "<li class=\"miss\"><div class=\"noimg\">no retrieved clips</div></li>");
        milnce_buf_printf(b, "</ol>%s</div>\n", nt && !any ? "<p class=\"nomatch\">ground truth not in the shown results</p>" : "");
    }
    milnce_buf_puts(b, "</div>\n");
    if (c->st.thumbnails_missing > NOTES_PER_KIND)
        note(c, "%zu thumbnails in all are missing or refused", c->st.thumbnails_missing);
    if (total > shown && shown == maxe && maxe > 0) note(c, "eval.json: %zu of %zu example queries shown", shown, total);
    c->st.examples = shown;
}

/* ---------------------------------------------------------------- the page */

static const char *CSS =
    "*{box-sizing:border-box}"
    "body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,'Helvetica Neue',Arial,sans-serif;margin:0;"
    "background:#f4f5f8;color:#1d2330;font-size:15px;line-height:1.45}"
    "header{background:#1d2330;color:#fff;padding:18px 32px}"
    "header h1{margin:0;font-size:22px;font-weight:600}header p{margin:4px 0 0;color:#b9c0cc;font-size:13px}"
    "main{max-width:1200px;margin:0 auto;padding:8px 24px 40px}"
    "section{background:#fff;border:1px solid #dde1e7;border-radius:8px;padding:14px 20px 18px;margin:18px 0}"
    "h2{font-size:17px;margin:2px 0 12px;font-weight:600}"
    ".notes{border-color:#f0c36d;background:#fffaf0}.notes li{color:#7a4f00;font-size:13px}"
    ".plots{display:flex;flex-wrap:wrap;gap:14px}"
    "svg.plot{background:#fff;border:1px solid #eceef2;border-radius:6px;max-width:100%;height:auto;"
    "font-family:inherit}"
    "svg .ttl{font-size:14px;font-weight:600;fill:#1d2330}svg .tk{font-size:11px;fill:#555d6b}"
    "svg .lbl{font-size:12px;fill:#333a46}svg .val{font-size:11px;fill:#1d2330}"
    "svg .grid{stroke:#e6e8ec;stroke-width:1}svg .axis{stroke:#69717e;stroke-width:1;fill:none}"
    ".cards{display:flex;flex-wrap:wrap;gap:10px;margin-bottom:12px}"
    ".card{background:#f4f6fa;border-radius:6px;padding:8px 14px;min-width:120px}"
    ".card .k{font-size:12px;color:#5b6372}.card .v{font-size:19px;font-weight:600}.card .v.small{font-size:13px;"
    "font-weight:400;max-width:420px}"
    "table.metrics{border-collapse:collapse;margin:8px 12px 14px 0;align-self:flex-start}"
    "table.metrics th,table.metrics td{padding:5px 9px;border-bottom:1px solid #e3e6eb;text-align:right}"
    "table.metrics th:first-child,table.metrics td:first-child{text-align:left}"
    "table.metrics tr.chance td{color:#7b828e}"
    ".ex{border-top:1px solid #eceef2;padding:10px 0}.ex:first-child{border-top:0}"
    ".ex .q{font-size:16px;margin:0 0 2px;font-weight:500}"
    ".ex .qn{display:inline-block;background:#1d2330;color:#fff;border-radius:10px;font-size:12px;"
    "padding:0 8px;margin-right:6px;vertical-align:2px}"
    ".ex .gt{margin:0 0 8px;font-size:13px;color:#5b6372}.ex .nomatch{margin:4px 0 0;font-size:13px;color:#b03030}"
    "ol.top{display:flex;flex-wrap:wrap;gap:10px;list-style:none;padding:0;margin:0}"
    "ol.top li{width:176px;border:3px solid #e3e6eb;border-radius:7px;padding:3px;position:relative;background:#fff}"
    "ol.top li.hit{border-color:#1a9e46;background:#effaf2}"
    "ol.top img{display:block;width:164px;height:auto;border-radius:4px;background:#ddd}"
    ".noimg{width:164px;height:92px;display:flex;align-items:center;justify-content:center;background:#eceef2;"
    "color:#7b828e;font-size:12px;border-radius:4px;text-align:center}"
    ".mark{position:absolute;top:8px;left:8px;background:#1a9e46;color:#fff;border-radius:10px;padding:0 8px;"
    "font-size:12px;font-weight:700}"
    ".cap{font-size:12px;margin-top:4px;color:#333a46;overflow-wrap:anywhere}"
    "pre{background:#f0f2f5;padding:12px 14px;overflow:auto;max-height:520px;font-size:12px;border-radius:6px;"
    "margin:0}"
    "code{font-size:12px}"
    ".muted{color:#7b828e;font-size:13px}";

static void opts_fill(milnce_report_opts *o, const milnce_report_opts *in) {
    memset(o, 0, sizeof *o);
    if (in) *o = *in;
    if (o->max_points == 0) o->max_points = 2000;
    if (o->max_points < 4) o->max_points = 4;
    if (o->max_examples == 0) o->max_examples = 20;
    if (o->max_top <= 0) o->max_top = 5;
}

int milnce_report_build(const char *run_dir, const milnce_report_opts *o, char **html, size_t *len,
                        milnce_report_stats *stats, const milnce_logger *lg, milnce_error *err) {
    if (!html) return milnce_error_set(err, MILNCE_ERR_INVALID, "report: no output pointer");
    *html = NULL;
    if (len) *len = 0;
    struct stat stt;
    if (!run_dir || stat(run_dir, &stt) != 0 || !S_ISDIR(stt.st_mode))
        return milnce_error_set(err, MILNCE_ERR_NOTFOUND, "%s: not a run folder", run_dir ? run_dir : "(null)");
    rctx c = {0};
    c.dir = run_dir;
    c.lg = lg;
    opts_fill(&c.o, o);
    milnce_buf page = {0}, body = {0};
    milnce_run_log L = {0};
    json_t *ev = NULL;
    uint8_t *cfg = NULL;
    size_t cfg_n = 0;
    int ret = 0, cfg_trunc = 0;
    char path[MILNCE_PATH_MAX];

    /* Inputs. */
    if ((ret = milnce_path(path, sizeof path, err, "%s/config.yaml", run_dir)) < 0) goto end;
    int rc = slurp(path, CONFIG_MAX_BYTES, &cfg, &cfg_n, &cfg_trunc);
    if (rc < 0) note(&c, "config.yaml: could not be read");
    c.st.has_config = rc > 0;
    if (cfg_trunc) note(&c, "config.yaml: longer than 1 MiB; the first 1 MiB is shown");
    rc = milnce_path(path, sizeof path, NULL, "%s/log.jsonl", run_dir) < 0 ? 0 /* absent: noted below */
         : milnce_run_log_read(path, &L, log_note, &c);
    c.st.log_lines = L.lines;
    c.st.log_bad_lines = L.bad_lines;
    c.st.log_nonfinite = L.nonfinite_all;
    c.st.steps = L.n;
    if (rc < 0) {
        ret = milnce_error_set(err, MILNCE_ERR_NOMEM, "%s/log.jsonl: out of memory", run_dir);
        goto end;
    }
    c.st.has_log = rc > 0;
    if ((ret = milnce_path(path, sizeof path, err, "%s/eval.json", run_dir)) < 0) goto end;
    FILE *ef = fopen(path, "r");
    if (ef) {
        fclose(ef);
        json_error_t je;
        ev = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
        if (!ev) note(&c, "eval.json:%d: %s; evaluation omitted", je.line, je.text);
        else if (!json_is_object(ev)) {
            note(&c, "eval.json: not a JSON object; evaluation omitted");
            json_decref(ev);
            ev = NULL;
        }
        c.st.has_eval = 1;
    }
    if (!c.st.has_config && !c.st.has_log && !c.st.has_eval) {
        ret = milnce_error_set(err, MILNCE_ERR_NOTFOUND, "%s: no config.yaml, log.jsonl or eval.json: nothing to report",
                               run_dir);
        goto end;
    }

    /* Body sections (they add notes, which the page shows first). */
    milnce_buf_puts(&body, "<section id=\"training\"><h2>Training</h2>\n");
    if (!c.st.has_log) {
        note(&c, "no log.jsonl: training plots omitted");
        milnce_buf_puts(&body, "<p class=\"muted\">No training log in this run folder.</p>\n");
    } else if (L.n == 0) {
        note(&c, "log.jsonl holds no usable step: training plots omitted");
        milnce_buf_puts(&body, "<p class=\"muted\">The training log holds no usable step.</p>\n");
    } else {
        render_train_summary(&body, &L);
        if (render_training(&c, &body, &L) < 0) {
            ret = milnce_error_set(err, MILNCE_ERR_NOMEM, "report: out of memory");
            goto end;
        }
    }
    milnce_buf_puts(&body, "</section>\n<section id=\"retrieval\"><h2>Retrieval</h2>\n");
    if (!ev) {
        if (!c.st.has_eval) note(&c, "no eval.json: retrieval results omitted");
        milnce_buf_puts(&body, "<p class=\"muted\">No evaluation in this run folder.</p>\n");
    } else {
        render_eval_table(&body, ev);
        svg_recall_bars(&body, ev);
        milnce_buf_puts(&body, "</div>\n");
        milnce_buf_puts(&body, "</section>\n<section id=\"examples\"><h2>Example retrievals (text &rarr; video, top ");
        milnce_buf_printf(&body, "%d)</h2>\n", c.o.max_top);
        json_t *ex = json_object_get(ev, "examples");
        if (json_is_array(ex) && json_array_size(ex) > 0 && c.o.max_examples > 0) render_examples(&c, &body, ex);
        else milnce_buf_puts(&body, "<p class=\"muted\">No example queries in eval.json.</p>\n");
    }
    milnce_buf_puts(&body, "</section>\n<section id=\"config\"><h2>Configuration</h2>\n");
    if (cfg) {
        milnce_buf_puts(&body, "<pre>");
        milnce_html_put_escaped(&body, (const char *)cfg, cfg_n);
        milnce_buf_puts(&body, "</pre>\n");
    } else {
        if (!c.st.has_config) note(&c, "no config.yaml: configuration omitted");
        milnce_buf_puts(&body, "<p class=\"muted\">No config.yaml in this run folder.</p>\n");
    }
    milnce_buf_puts(&body, "</section>\n");

    /* The page. */
    const char *base = strrchr(run_dir, '/');
    base = base && base[1] ? base + 1 : run_dir;
    milnce_buf_puts(&page, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
                   "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                   "<meta name=\"generator\" content=\"milnce " MILNCE_VERSION "\">\n<title>");
    if (c.o.title) milnce_html_puts_escaped(&page, c.o.title);
    else {
        milnce_buf_puts(&page, "milnce run ");
        milnce_html_puts_escaped(&page, base);
    }
    milnce_buf_printf(&page, "</title>\n<style>%s</style>\n</head>\n<body>\n<header><h1>", CSS);
    if (c.o.title) milnce_html_puts_escaped(&page, c.o.title);
    else {
        milnce_buf_puts(&page, "milnce run <code>");
        milnce_html_puts_escaped(&page, base);
        milnce_buf_puts(&page, "</code>");
    }
    milnce_buf_puts(&page, "</h1><p>");
    milnce_html_puts_escaped(&page, run_dir);
    milnce_buf_puts(&page, " &middot; MIL-NCE video&ndash;text embedding &middot; report by milnce " MILNCE_VERSION
                   "</p></header>\n<main>\n");
    if (c.notes.n) {
        milnce_buf_puts(&page, "<section class=\"notes\" id=\"notes\"><h2>Notes</h2><ul>\n");
        milnce_buf_put(&page, c.notes.p, c.notes.n);
        milnce_buf_puts(&page, "</ul></section>\n");
    }
    milnce_buf_put(&page, body.p ? body.p : "", body.n);
    milnce_buf_puts(&page, "</main>\n</body>\n</html>\n");
    if (page.oom || body.oom || c.notes.oom) {
        ret = milnce_error_set(err, MILNCE_ERR_NOMEM, "report: out of memory");
        goto end;
    }
    *html = page.p;
    if (len) *len = page.n;
    page.p = NULL;
end:
    if (stats) *stats = c.st;
    free(page.p);
    free(body.p);
    free(c.notes.p);
    milnce_run_log_free(&L);
    free(cfg);
    json_decref(ev);
    return ret;
}

int milnce_report_write(const char *run_dir, const char *out_path, const milnce_report_opts *o,
                        milnce_report_stats *stats, const milnce_logger *lg, milnce_error *err) {
    char def[MILNCE_PATH_MAX];
    if (!out_path) {
        if (!run_dir) return milnce_error_set(err, MILNCE_ERR_INVALID, "report: no run folder");
        int ret = milnce_path(def, sizeof def, err, "%s/report.html", run_dir);
        if (ret < 0) return ret;
        out_path = def;
    }
    char *html = NULL;
    size_t n = 0;
    int ret = milnce_report_build(run_dir, o, &html, &n, stats, lg, err);
    if (ret < 0) return ret;
    ret = milnce_write_file_atomic(out_path, html, n, err);
    free(html);
    return ret;
}
