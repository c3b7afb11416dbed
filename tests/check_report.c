/* The HTML report of a run folder, and the JPEG/PNG writer its thumbnails come from.
 * Images are decoded back with the ffmpeg command (an independent decoder path). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "image_write.h"
#include "report.h"
#include "testutil.h"

/* ---------------------------------------------------------------- helpers */

static char *read_all(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16, len = 0, k;
    char *d = malloc(cap + 1);
    while ((k = fread(d + len, 1, cap - len, f)) > 0) {
        len += k;
        if (len == cap) d = realloc(d, (cap *= 2) + 1);
    }
    fclose(f);
    d[len] = 0;
    if (n) *n = len;
    return d;
}

static void write_text(const char *dir, const char *name, const char *text) {
    char p[4200];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

/* A smooth test picture: gradients plus a bright square, (h, w, 3) rows `stride` bytes apart. */
static uint8_t *make_rgb(int w, int h, int stride, int seed) {
    uint8_t *p = calloc((size_t)h * stride, 1);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t *px = p + (size_t)y * stride + 3 * x;
            px[0] = (uint8_t)(255 * x / (w - 1));
            px[1] = (uint8_t)(255 * y / (h - 1));
            px[2] = (uint8_t)((seed * 70 + 128 * (x + y) / (w + h)) & 255);
            if (x > w / 3 && x < w / 2 && y > h / 3 && y < h / 2) px[0] = px[1] = px[2] = 240;
        }
    return p;
}

/* Decodes an image file to RGB24 with the ffmpeg command; returns bytes read. */
static size_t ffmpeg_decode(const char *path, uint8_t *out, size_t cap) {
    char cmd[4400];
    snprintf(cmd, sizeof cmd, "ffmpeg -nostdin -v error -i '%s' -f rawvideo -pix_fmt rgb24 -", path);
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    size_t n = 0, k;
    while (n < cap && (k = fread(out + n, 1, cap - n, p)) > 0) n += k;
    uint8_t sink[4096];
    while (fread(sink, 1, sizeof sink, p) > 0) n++; /* more than expected: make the size check fail */
    ck_assert_int_eq(pclose(p), 0);
    return n;
}

static double psnr(const uint8_t *a, const uint8_t *b, size_t n) {
    double se = 0;
    for (size_t i = 0; i < n; i++) se += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
    return se == 0 ? 99 : 10 * log10(255.0 * 255.0 / (se / (double)n));
}

static size_t count(const char *hay, const char *needle) {
    size_t c = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle)) c++;
    return c;
}

static int b64val(char ch) {
    if (ch >= 'A' && ch <= 'Z') return ch - 'A';
    if (ch >= 'a' && ch <= 'z') return ch - 'a' + 26;
    if (ch >= '0' && ch <= '9') return ch - '0' + 52;
    if (ch == '+') return 62;
    if (ch == '/') return 63;
    return -1;
}

/* Decodes base64 text up to the first non-alphabet character ('=' padding handled). */
static uint8_t *b64dec(const char *s, size_t *n) {
    size_t len = 0;
    while (b64val(s[len]) >= 0 || s[len] == '=') len++;
    uint8_t *out = malloc(len / 4 * 3 + 3);
    size_t k = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < len && s[i] != '='; i++) {
        acc = acc << 6 | (uint32_t)b64val(s[i]);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[k++] = (uint8_t)(acc >> bits);
        }
    }
    *n = k;
    return out;
}

/* ---------------------------------------------------------------- image_write */

START_TEST(test_png_round_trip_exact) {
    const int w = 37, h = 23, stride = 3 * w + 5; /* odd size, padded rows */
    uint8_t *rgb = make_rgb(w, h, stride, 1);
    char path[4200];
    snprintf(path, sizeof path, "%s/a.png", tu_tmpdir());
    milnce_error err = {0};
    ck_assert_msg(milnce_image_write_file(path, rgb, w, h, stride, NULL, &err) == 0, "%s", err.msg);
    size_t fn;
    char *file = read_all(path, &fn);
    ck_assert_int_eq(milnce_image_format_sniff((uint8_t *)file, fn), MILNCE_IMAGE_PNG);
    free(file);
    uint8_t *dec = malloc((size_t)w * h * 3);
    ck_assert_uint_eq(ffmpeg_decode(path, dec, (size_t)w * h * 3), (size_t)w * h * 3);
    for (int y = 0; y < h; y++) ck_assert_mem_eq(dec + (size_t)y * w * 3, rgb + (size_t)y * stride, (size_t)w * 3);
    free(dec);
    free(rgb);
}
END_TEST

START_TEST(test_jpeg_round_trip_psnr) {
    const int w = 96, h = 54;
    uint8_t *rgb = make_rgb(w, h, 3 * w, 2);
    milnce_error err = {0};
    const char *dir = tu_tmpdir();
    double prev = 0;
    size_t prev_size = 0;
    int qs[3] = {30, 75, 95};
    for (int qi = 0; qi < 3; qi++) {
        char path[4200];
        snprintf(path, sizeof path, "%s/q%d.JPG", dir, qs[qi]); /* extension is case-insensitive */
        milnce_image_opts o = {.quality = qs[qi]};
        ck_assert_msg(milnce_image_write_file(path, rgb, w, h, 3 * w, &o, &err) == 0, "%s", err.msg);
        size_t fn;
        char *file = read_all(path, &fn);
        ck_assert_int_eq(milnce_image_format_sniff((uint8_t *)file, fn), MILNCE_IMAGE_JPEG);
        free(file);
        uint8_t *dec = malloc((size_t)w * h * 3);
        ck_assert_uint_eq(ffmpeg_decode(path, dec, (size_t)w * h * 3), (size_t)w * h * 3);
        double p = psnr(dec, rgb, (size_t)w * h * 3);
        fprintf(stderr, "jpeg quality %d: %zu bytes, PSNR %.2f dB\n", qs[qi], fn, p);
        ck_assert_msg(p > (qs[qi] == 95 ? 42 : qs[qi] == 75 ? 36 : 28), "quality %d: PSNR %.2f dB", qs[qi], p);
        ck_assert_msg(p >= prev - 0.01, "PSNR not increasing with quality: %.2f after %.2f", p, prev);
        ck_assert_msg(fn > prev_size, "size not increasing with quality");
        prev = p;
        prev_size = fn;
        free(dec);
    }
    free(rgb);
}
END_TEST

START_TEST(test_scaled_thumbnail_in_memory) {
    const int w = 320, h = 180;
    uint8_t *rgb = make_rgb(w, h, 3 * w, 3);
    milnce_error err = {0};
    milnce_image_opts o = {.format = MILNCE_IMAGE_JPEG, .out_width = 160}; /* height follows: 90 */
    uint8_t *data = NULL;
    size_t n = 0;
    ck_assert_msg(milnce_image_encode(rgb, w, h, 3 * w, &o, &data, &n, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(milnce_image_format_sniff(data, n), MILNCE_IMAGE_JPEG);
    char path[4200];
    snprintf(path, sizeof path, "%s/t.bin", tu_tmpdir());
    FILE *f = fopen(path, "wb");
    fwrite(data, 1, n, f);
    fclose(f);
    uint8_t *dec = malloc(160 * 90 * 3);
    ck_assert_uint_eq(ffmpeg_decode(path, dec, 160 * 90 * 3), 160 * 90 * 3);
    /* Compare with a 2x2 box-downscaled original: the scaler is bicubic, close enough. */
    uint8_t *ref = malloc(160 * 90 * 3);
    for (int y = 0; y < 90; y++)
        for (int x = 0; x < 160; x++)
            for (int ch = 0; ch < 3; ch++) {
                int s = 0;
                for (int dy = 0; dy < 2; dy++)
                    for (int dx = 0; dx < 2; dx++) s += rgb[((size_t)(2 * y + dy) * w + 2 * x + dx) * 3 + ch];
                ref[((size_t)y * 160 + x) * 3 + ch] = (uint8_t)((s + 2) / 4);
            }
    double p = psnr(dec, ref, 160 * 90 * 3);
    ck_assert_msg(p > 28, "scaled PSNR %.2f", p);
    free(ref);
    free(dec);
    free(data);
    free(rgb);

    /* PNG scaled by height only keeps the aspect ratio. */
    uint8_t *small = make_rgb(40, 20, 120, 0);
    o = (milnce_image_opts){.format = MILNCE_IMAGE_PNG, .out_height = 10};
    ck_assert_msg(milnce_image_encode(small, 40, 20, 120, &o, &data, &n, &err) == 0, "%s", err.msg);
    snprintf(path, sizeof path, "%s/s.png", tu_tmpdir());
    f = fopen(path, "wb");
    fwrite(data, 1, n, f);
    fclose(f);
    uint8_t buf[20 * 10 * 3];
    ck_assert_uint_eq(ffmpeg_decode(path, buf, sizeof buf), sizeof buf);
    free(data);
    free(small);
}
END_TEST

START_TEST(test_image_errors) {
    uint8_t px[12] = {0};
    milnce_error err = {0};
    uint8_t *data = NULL;
    size_t n;
    ck_assert_int_eq(milnce_image_encode(px, 0, 2, 6, NULL, &data, &n, &err), MILNCE_ERR_INVALID);
    ck_assert_int_eq(milnce_image_encode(px, 2, 2, 5, NULL, &data, &n, &err), MILNCE_ERR_INVALID);
    ck_assert_msg(strstr(err.msg, "stride"), "%s", err.msg);
    milnce_image_opts o = {.quality = 101};
    ck_assert_int_eq(milnce_image_encode(px, 2, 2, 6, &o, &data, &n, &err), MILNCE_ERR_RANGE);
    ck_assert_ptr_null(data);
    char path[4200];
    snprintf(path, sizeof path, "%s/x.gif", tu_tmpdir());
    ck_assert_int_lt(milnce_image_write_file(path, px, 2, 2, 6, NULL, &err), 0);
    ck_assert_msg(strstr(err.msg, "x.gif"), "%s", err.msg);
    ck_assert_int_eq(milnce_image_write_file("/nonexistent/dir/x.png", px, 2, 2, 6, NULL, &err), MILNCE_ERR_IO);
    ck_assert_int_eq(milnce_image_format_from_path("a/b.JPEG"), MILNCE_IMAGE_JPEG);
    ck_assert_int_eq(milnce_image_format_from_path("a.png/b"), MILNCE_IMAGE_AUTO);
    ck_assert_int_eq(milnce_image_format_sniff(px, 12), MILNCE_IMAGE_AUTO);
    /* 1 x 1 is a valid picture in both formats. */
    ck_assert_int_eq(milnce_image_encode(px, 1, 1, 3, NULL, &data, &n, &err), 0);
    free(data);
    o = (milnce_image_opts){.format = MILNCE_IMAGE_PNG};
    ck_assert_int_eq(milnce_image_encode(px, 1, 1, 3, &o, &data, &n, &err), 0);
    free(data);
}
END_TEST

/* ---------------------------------------------------------------- report */

static void write_thumb(const char *dir, const char *name, int seed, milnce_image_format fmt) {
    char p[4200];
    snprintf(p, sizeof p, "%s/thumbs/%s", dir, name);
    uint8_t *rgb = make_rgb(160, 90, 480, seed);
    milnce_image_opts o = {.format = fmt};
    milnce_error err = {0};
    ck_assert_msg(milnce_image_write_file(p, rgb, 160, 90, 480, &o, &err) == 0, "%s", err.msg);
    free(rgb);
}

/* A complete run folder: 300 steps of decreasing loss with one NaN, one Infinity and one malformed
 * line, an eval.json with a hostile query, thumbnails. */
static const char *make_run(void) {
    const char *dir = tu_tmpdir();
    char p[4200];
    snprintf(p, sizeof p, "%s/thumbs", dir);
    ck_assert_int_eq(mkdir(p, 0755), 0);
    write_text(dir, "config.yaml", "data:\n  num_frames: 16\ntrain:\n  lr: 0.001\n  out_dir: \"runs/<b>&x\"\n");
    snprintf(p, sizeof p, "%s/log.jsonl", dir);
    FILE *f = fopen(p, "w");
    for (int s = 1; s <= 300; s++) {
        if (s == 100) fprintf(f, "{\"step\":100,\"epoch\":0,\"loss\":NaN,\"lr\":0.001}\n");
        else if (s == 101) fprintf(f, "{\"step\":101,\"loss\":Infinity,\"lr\":0.001,\"clips_per_s\":50}\n");
        else
            fprintf(f, "{\"step\":%d,\"epoch\":%d,\"loss\":%.6f,\"lr\":%.8f,\"clips_per_s\":%.2f,\"data_wait\":%.3f,"
                       "\"grad_norm\":%.3f}\n",
                    s, s / 100, 6.0 * exp(-s / 80.0) + 0.7 + 0.05 * sin(s), 1e-3 * fmin(1, s / 20.0), 40.0 + s % 7,
                    0.1 + 0.05 * cos(s), 2.0 / (1 + s / 50.0));
        if (s == 150) fprintf(f, "{\"step\": 150.5, \"loss\": 1}\n{oops\n\n");
    }
    fclose(f);
    write_thumb(dir, "q0_0.jpg", 0, MILNCE_IMAGE_JPEG);
    write_thumb(dir, "q0_1.jpg", 1, MILNCE_IMAGE_JPEG);
    write_thumb(dir, "q1_0.png", 2, MILNCE_IMAGE_PNG);
    write_text(dir, "secret.txt", "TOPSECRET-CONTENT");
    write_text(dir, "thumbs/fake.jpg", "this is not an image");
    write_text(dir, "eval.json",
               "{\"dataset\":\"youcook2\",\"n\":3350,\"missing_videos\":2,\"tie_rule\":\"ties do not count against the query\","
               "\"t2v\":{\"r1\":15.1,\"r5\":38.0,\"r10\":51.2,\"median_rank\":10,\"mean_rank\":80.5},"
               "\"v2t\":{\"r1\":13.0,\"r5\":35.5,\"r10\":49.0,\"median_rank\":11,\"mean_rank\":85.25},"
               "\"chance\":{\"r1\":0.03,\"r5\":0.15,\"r10\":0.3},"
               "\"examples\":["
               "{\"query\":\"<script>alert('x')</script> crack the eggs & whisk\",\"gt_video\":\"vid\\\"A\",\"top\":["
               "{\"video_id\":\"vidB\",\"start\":1.5,\"end\":7.25,\"score\":3.5,\"correct\":false,\"thumbnail\":\"thumbs/q0_1.jpg\"},"
               "{\"video_id\":\"vid\\\"A\",\"start\":10,\"end\":15,\"score\":3.25,\"correct\":true,\"thumbnail\":\"thumbs/q0_0.jpg\"},"
               "{\"video_id\":\"vidC\",\"start\":0,\"end\":5,\"score\":2.0,\"correct\":false,\"thumbnail\":\"../secret.txt\"},"
               "{\"video_id\":\"vidD\",\"start\":0,\"end\":5,\"score\":1.0,\"correct\":false,\"thumbnail\":\"thumbs/fake.jpg\"},"
               "{\"video_id\":\"vidE\",\"start\":0,\"end\":5,\"score\":0.5,\"correct\":false,\"thumbnail\":\"thumbs/none.jpg\"}]},"
               "{\"query\":\"fry the onions\",\"gt_video\":\"vidF\",\"top\":["
               "{\"video_id\":\"vidF\",\"start\":3,\"end\":9,\"score\":4.0,\"correct\":true,\"thumbnail\":\"thumbs/q1_0.png\"}]}"
               "]}");
    return dir;
}

START_TEST(test_report_full_run) {
    const char *dir = make_run();
    milnce_error err = {0};
    milnce_report_stats st;
    ck_assert_msg(milnce_report_write(dir, NULL, NULL, &st, NULL, &err) == 0, "%s", err.msg);
    char p[4200];
    snprintf(p, sizeof p, "%s/report.html", dir);
    size_t n;
    char *h = read_all(p, &n);
    ck_assert_ptr_nonnull(h);
    ck_assert_uint_eq(strlen(h), n);

    /* Stats: 300 good lines + 1 fractional step + 1 broken line; the NaN and the Infinity. */
    ck_assert_uint_eq(st.log_lines, 302);
    ck_assert_uint_eq(st.log_bad_lines, 2);
    ck_assert_uint_eq(st.log_nonfinite, 2);
    ck_assert_uint_eq(st.steps, 300);
    ck_assert_uint_eq(st.examples, 2);
    ck_assert_uint_eq(st.thumbnails, 3);
    ck_assert_uint_eq(st.thumbnails_missing, 3);

    /* Plots: 5 training curves + the recall bars, all inline SVG with ticks and labels. */
    ck_assert_uint_eq(count(h, "<svg class=\"plot\""), 6);
    ck_assert_uint_ge(count(h, "<polyline"), 6); /* loss + its moving average + 4 */
    ck_assert_ptr_nonnull(strstr(h, "Training loss"));
    ck_assert_ptr_nonnull(strstr(h, "Learning rate"));
    ck_assert_ptr_nonnull(strstr(h, "clips / s"));
    ck_assert_ptr_nonnull(strstr(h, ">step</text>"));
    ck_assert_ptr_nonnull(strstr(h, "Recall@K"));
    ck_assert_uint_eq(count(h, "<rect class=\"bar\""), 9);
    ck_assert_ptr_nonnull(strstr(h, ">15.1</text>"));

    /* Every input string is escaped; nothing active or external. */
    ck_assert_ptr_null(strstr(h, "<script"));
    ck_assert_ptr_nonnull(strstr(h, "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; crack the eggs &amp; whisk"));
    ck_assert_ptr_nonnull(strstr(h, "vid&quot;A"));
    ck_assert_ptr_nonnull(strstr(h, "runs/&lt;b&gt;&amp;x"));
    ck_assert_ptr_null(strcasestr(h, "http"));
    ck_assert_ptr_null(strcasestr(h, "url("));
    ck_assert_ptr_null(strcasestr(h, "@import"));
    for (const char *s = h; (s = strstr(s, "src=\"")); s += 5) ck_assert(strncmp(s + 5, "data:image/", 11) == 0);
    ck_assert_ptr_null(strstr(h, "href="));

    /* Thumbnails are data URIs of the very bytes on disk; refused paths are not read. */
    ck_assert_uint_eq(count(h, "data:image/jpeg;base64,"), 2);
    ck_assert_uint_eq(count(h, "data:image/png;base64,"), 1);
    const char *uri = strstr(h, "data:image/jpeg;base64,") + strlen("data:image/jpeg;base64,");
    size_t dn;
    uint8_t *dec = b64dec(uri, &dn);
    snprintf(p, sizeof p, "%s/thumbs/q0_1.jpg", dir); /* the first clip shown */
    size_t fn;
    char *file = read_all(p, &fn);
    ck_assert_uint_eq(dn, fn);
    ck_assert_mem_eq(dec, file, fn);
    free(dec);
    free(file);
    ck_assert_ptr_null(strstr(h, "TOPSECRET"));
    ck_assert_ptr_nonnull(strstr(h, "refused (outside the run folder)"));
    ck_assert_ptr_nonnull(strstr(h, "not a JPEG or PNG"));
    ck_assert_ptr_nonnull(strstr(h, "thumbs/none.jpg: missing"));

    /* The correct clip is marked, in its list position. */
    ck_assert_uint_eq(count(h, "<li class=\"hit\">"), 2);
    ck_assert_uint_eq(count(h, "&#10003; match"), 2);

    /* Notes name the malformed lines and the skipped values. */
    ck_assert_ptr_nonnull(strstr(h, "log.jsonl:151: &quot;step&quot; is not an integer"));
    ck_assert_ptr_nonnull(strstr(h, "log.jsonl:152: not JSON"));
    ck_assert_ptr_nonnull(strstr(h, "2 non-finite &quot;loss&quot; values"));
    /* Config shown verbatim (escaped) in a pre block. */
    ck_assert_ptr_nonnull(strstr(h, "<pre>data:\n  num_frames: 16\n"));
    free(h);
}
END_TEST

/* Polyline point counts of the page, in order. */
static size_t polyline_points(const char *h, int which) {
    const char *s = h;
    for (int i = 0; i <= which; i++) {
        s = strstr(s, "<polyline");
        if (!s) return 0;
        s += 9;
    }
    s = strstr(s, "points=\"") + 8;
    size_t pts = 1;
    for (; *s != '"'; s++) pts += *s == ' ';
    return pts;
}

/* Smallest y (highest point on screen) of a polyline. */
static double polyline_min_y(const char *h, int which) {
    const char *s = h;
    for (int i = 0; i <= which; i++) s = strstr(s, "<polyline") + 9;
    s = strstr(s, "points=\"") + 8;
    double mn = 1e9;
    while (*s != '"') {
        double x, y;
        int used;
        if (sscanf(s, "%lf,%lf%n", &x, &y, &used) != 2) break;
        if (y < mn) mn = y;
        s += used;
        while (*s == ' ') s++;
    }
    return mn;
}

START_TEST(test_report_long_and_single_step_logs) {
    const char *dir = tu_tmpdir();
    char p[4200];
    snprintf(p, sizeof p, "%s/log.jsonl", dir);
    FILE *f = fopen(p, "w");
    for (int s = 0; s < 50000; s++)
        fprintf(f, "{\"step\":%d,\"loss\":%.5f,\"lr\":%g,\"clips_per_s\":%d}\n", s, 5.0 / (1 + s * 1e-3) + (s == 31337 ? 20 : 0),
                1e-3, 60);
    fclose(f);
    milnce_error err = {0};
    milnce_report_stats st;
    char *h = NULL;
    size_t n;
    ck_assert_msg(milnce_report_build(dir, NULL, &h, &n, &st, NULL, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(st.steps, 50000);
    size_t raw = polyline_points(h, 0), avg = polyline_points(h, 1);
    ck_assert_msg(raw > 1000 && raw <= 2000, "loss curve has %zu points", raw);
    ck_assert_msg(avg > 1000 && avg <= 2000, "moving average has %zu points", avg);
    ck_assert_ptr_nonnull(strstr(h, "Curves of more than 2000 points (up to 50000)"));
    ck_assert_ptr_nonnull(strstr(h, ">50000</text>")); /* the last x tick */
    /* The one-step spike (loss ~20.2, elsewhere <= 5) survives downsampling: y axis 0..30 over
     * 218 px from y = 34, so the spike is drawn above y = 120 and the rest below y = 200. */
    ck_assert_ptr_nonnull(strstr(h, ">30</text>"));
    ck_assert_msg(polyline_min_y(h, 0) < 120, "spike lost: min y %.1f", polyline_min_y(h, 0));
    /* No data_wait / grad_norm: their plots are omitted with a note. */
    ck_assert_ptr_nonnull(strstr(h, "no &quot;data_wait&quot; field"));
    ck_assert_uint_eq(count(h, "<svg class=\"plot\""), 3);
    free(h);

    milnce_report_opts o = {.max_points = 100};
    ck_assert_int_eq(milnce_report_build(dir, &o, &h, &n, NULL, NULL, &err), 0);
    ck_assert_uint_le(polyline_points(h, 0), 100);
    free(h);

    /* A single step: a dot, sane axes, no division by zero. */
    write_text(dir, "log.jsonl", "{\"step\":7,\"loss\":2.5,\"lr\":0,\"clips_per_s\":12.5,\"data_wait\":0,\"grad_norm\":1}\n");
    ck_assert_int_eq(milnce_report_build(dir, NULL, &h, &n, &st, NULL, &err), 0);
    ck_assert_uint_eq(st.steps, 1);
    ck_assert_uint_eq(count(h, "<svg class=\"plot\""), 5);
    ck_assert_uint_eq(count(h, "<circle"), 5);
    ck_assert_ptr_null(strcasestr(h, "nan"));
    ck_assert_ptr_null(strcasestr(h, "inf"));
    ck_assert_ptr_nonnull(strstr(h, ">7</text>"));
    free(h);

    /* Steps out of order and logged twice (resume): sorted, last line wins. */
    write_text(dir, "log.jsonl", "{\"step\":2,\"loss\":9}\n{\"step\":1,\"loss\":3}\n{\"step\":2,\"loss\":2}\n"
                                 "{\"step\":3,\"loss\":-inf}\n{\"step\":4,\"loss\":\"Infinity\"}\n");
    ck_assert_int_eq(milnce_report_build(dir, NULL, &h, &n, &st, NULL, &err), 0);
    ck_assert_uint_eq(st.steps, 4);
    ck_assert_uint_eq(st.log_nonfinite, 1);
    ck_assert_ptr_nonnull(strstr(h, "1 steps logged more than once"));
    ck_assert_ptr_nonnull(strstr(h, "are not numbers"));
    ck_assert_ptr_nonnull(strstr(h, "<div class=\"k\">last loss</div><div class=\"v\">2</div>"));
    free(h);
}
END_TEST

static void collect(void *user, int level, const char *msg) {
    size_t *n = user;
    (void)msg;
    if (level == MILNCE_LOG_WARN) (*n)++;
}

START_TEST(test_report_partial_and_missing) {
    milnce_error err = {0};
    char *h = NULL;
    size_t n;
    ck_assert_int_eq(milnce_report_build("/nonexistent/run", NULL, &h, &n, NULL, NULL, &err), MILNCE_ERR_NOTFOUND);
    ck_assert_ptr_null(h);
    const char *dir = tu_tmpdir();
    ck_assert_int_eq(milnce_report_build(dir, NULL, &h, &n, NULL, NULL, &err), MILNCE_ERR_NOTFOUND);
    ck_assert_msg(strstr(err.msg, "nothing to report"), "%s", err.msg);

    /* Only a config: a page with notes, warnings through the logger. */
    write_text(dir, "config.yaml", "train:\n  lr: 0.1\n");
    size_t warns = 0;
    milnce_logger lg = {collect, &warns};
    milnce_report_stats st;
    ck_assert_int_eq(milnce_report_build(dir, NULL, &h, &n, &st, &lg, &err), 0);
    ck_assert_uint_eq(warns, st.warnings);
    ck_assert_uint_ge(warns, 2);
    ck_assert_ptr_nonnull(strstr(h, "no log.jsonl"));
    ck_assert_ptr_nonnull(strstr(h, "no eval.json"));
    ck_assert_ptr_null(strstr(h, "<svg"));
    free(h);

    /* A broken eval.json is a note with its line, not a failure; an empty log has no steps. */
    write_text(dir, "eval.json", "{\"t2v\": {\"r1\": 1,\n ]");
    write_text(dir, "log.jsonl", "\n\n");
    ck_assert_int_eq(milnce_report_build(dir, NULL, &h, &n, &st, NULL, &err), 0);
    ck_assert_ptr_nonnull(strstr(h, "eval.json:2:"));
    ck_assert_ptr_nonnull(strstr(h, "no usable step"));
    free(h);

    /* eval.json with only some fields: n/a where missing, bars for what is there. */
    write_text(dir, "eval.json", "{\"t2v\":{\"r1\":0.5,\"r5\":2},\"examples\":[{\"query\":\"q\",\"top\":[]},3]}");
    ck_assert_int_eq(milnce_report_build(dir, NULL, &h, &n, &st, NULL, &err), 0);
    ck_assert_uint_eq(count(h, "<rect class=\"bar\""), 2);
    ck_assert_ptr_nonnull(strstr(h, "n/a"));
    ck_assert_ptr_nonnull(strstr(h, "examples[1] is not an object"));
    ck_assert_uint_eq(st.examples, 1);
    free(h);

    /* --out elsewhere, title escaped. */
    char out[4200];
    snprintf(out, sizeof out, "%s/elsewhere.html", tu_tmpdir());
    milnce_report_opts o = {.title = "A&B <run>"};
    ck_assert_int_eq(milnce_report_write(dir, out, &o, NULL, NULL, &err), 0);
    h = read_all(out, &n);
    ck_assert_ptr_nonnull(strstr(h, "<title>A&amp;B &lt;run&gt;</title>"));
    free(h);
    ck_assert_int_eq(milnce_report_write(dir, "/nonexistent/dir/r.html", NULL, NULL, NULL, &err), MILNCE_ERR_IO);
}
END_TEST

START_TEST(test_html_escape) {
    const char in[] = "a<b>&\"'\n\t\r\x01z \xc3\xa9 \xe2\x86\x92 \xf0\x9f\x8e\xac \xff \xc3 \xed\xa0\x80 \xe0\x80\x80";
    char *e = milnce_html_escape(in, sizeof in - 1);
    ck_assert_str_eq(e, "a&lt;b&gt;&amp;&quot;&#39;\n\t\xef\xbf\xbdz \xc3\xa9 \xe2\x86\x92 \xf0\x9f\x8e\xac \xef\xbf\xbd "
                        "\xef\xbf\xbd \xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd \xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
    free(e);
    e = milnce_html_escape("x\0y", 3); /* embedded NUL */
    ck_assert_str_eq(e, "x\xef\xbf\xbdy");
    free(e);
    e = milnce_html_escape(NULL, 0);
    ck_assert_str_eq(e, "");
    free(e);
}
END_TEST

int main(int argc, char **argv) {
    tu_need_cmd("ffmpeg", "decodes the written images");
    Suite *s = suite_create("report");
    TCase *ti = tcase_create("image_write");
    tcase_add_test(ti, test_png_round_trip_exact);
    tcase_add_test(ti, test_jpeg_round_trip_psnr);
    tcase_add_test(ti, test_scaled_thumbnail_in_memory);
    tcase_add_test(ti, test_image_errors);
    suite_add_tcase(s, ti);
    TCase *tr = tcase_create("report");
    tcase_set_timeout(tr, 120);
    tcase_add_test(tr, test_report_full_run);
    tcase_add_test(tr, test_report_long_and_single_step_logs);
    tcase_add_test(tr, test_report_partial_and_missing);
    tcase_add_test(tr, test_html_escape);
    suite_add_tcase(s, tr);
    return tu_run(s, argc, argv);
}
