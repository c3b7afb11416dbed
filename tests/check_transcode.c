/* The preprocess transcode: one sequential decoding pass (io/video/video_stream.c, a wrapper over
 * milnce_decoder_stream) gives the frames that milnce_decoder_clip gives for consecutive clips
 * (the transcode decoded 8 s clips, each seeking back to its key frame), and the rendition
 * streams into a seekable sink (moov at the end) that decodes back to those frames,
 * deterministically.
 *
 * Both sides run io/video/video_decode.c's clip loop, so the equivalence test compares chunkings of
 * one implementation: one pass of the whole video with frames delivered to a callback (one
 * seek, one converted frame held, rotated frames through a one-frame buffer) against clips of
 * 8 s and 1 s, each seeking back to a key frame and flushing the decoder, stored as (T, H, W, 3)
 * arrays. What ties those frames to the ffmpeg command line is check_video's comparison of
 * milnce_decoder_clip with the CLI output. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <libavutil/log.h>

#include "shard.h"
#include "testutil.h"
#include "transcode.h"
#include "video.h"
#include "video_stream.h"

static uint64_t fnv1a64(uint64_t h, const uint8_t *p, size_t n) {
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001b3ULL;
    return h;
}

/* A hash per output frame (rows of w * 3 bytes), and the frame size. */
typedef struct frame_hashes {
    uint64_t *h;
    size_t n, cap;
    int w, h_px;
} frame_hashes;

static void push(frame_hashes *fh, const uint8_t *rgb, int w, int h, int stride) {
    uint64_t x = 0xcbf29ce484222325ULL;
    for (int y = 0; y < h; y++) x = fnv1a64(x, rgb + (size_t)y * (size_t)stride, (size_t)w * 3);
    if (fh->n == fh->cap) {
        fh->cap = fh->cap ? 2 * fh->cap : 256;
        fh->h = realloc(fh->h, fh->cap * sizeof *fh->h);
    }
    fh->h[fh->n++] = x;
    fh->w = w;
    fh->h_px = h;
}

static int on_frame(void *user, int64_t i, const uint8_t *rgb, int w, int h, int stride) {
    frame_hashes *fh = user;
    ck_assert_int_eq(i, (int64_t)fh->n);
    push(fh, rgb, w, h, stride);
    return 0;
}

/* What io/video/transcode.c did before: clips of `chunk` s (a multiple of 1/fps) one after the
 * other, each decoded after a seek, until the end or a clip without frames. */
static void chunked(const char *path, int fps, int size, double chunk, frame_hashes *fh) {
    milnce_error err = {0};
    milnce_decoder *d = NULL;
    milnce_frames fr = {0};
    ck_assert_msg(milnce_decoder_open(&d, path, NULL, &err) == 0, "%s", err.msg);
    double total = milnce_decoder_info(d)->duration;
    int64_t per = (int64_t)(chunk * fps + 0.5);
    for (int64_t first = 0;; first += per) {
        double a = (double)first / fps, b = (double)(first + per) / fps;
        if (a >= total) break;
        if (b > total) b = total;
        milnce_clip_spec spec = {.start = a, .end = b, .fps = fps, .size = size, .crop = MILNCE_CROP_NONE};
        int ret = milnce_decoder_clip(d, &spec, &fr, &err);
        if (ret == MILNCE_ERR_DECODE && fh->n > 0) break; /* damaged tail */
        ck_assert_msg(ret == 0, "%s [%g, %g): %s", path, a, b, err.msg);
        if (fr.t == 0) break;
        for (int i = 0; i < fr.t; i++)
            push(fh, fr.data + (size_t)i * fr.h * fr.w * 3, fr.w, fr.h, fr.w * 3);
    }
    milnce_frames_free(&fr);
    milnce_decoder_free(&d);
}

static void streamed(const char *path, int fps, int size, frame_hashes *fh, milnce_video_stream_stats *st) {
    milnce_error err = {0};
    milnce_video_stream *s = NULL;
    ck_assert_msg(milnce_video_stream_open(&s, path, NULL, &err) == 0, "%s", err.msg);
    double total = milnce_video_stream_info(s)->duration;
    ck_assert_msg(milnce_video_stream_run(s, fps, size, total, on_frame, fh, st, &err) == 0, "%s: %s", path, err.msg);
    ck_assert_int_eq(st->frames, (int64_t)fh->n);
    milnce_video_stream_free(&s);
}

static const char *tu_testdata_video(const char *name) {
    char rel[256];
    snprintf(rel, sizeof rel, "videos/%s", name);
    return tu_testdata(rel);
}

static const char *videos[] = {"chaplin.mp4", "kinetics_clip.mp4", "flipping_a_pancake.mkv", "friday.mp4",
                               "stream-of-water.webm", "carphone_pristine.mp4", "ucf101_clip.avi", "video_90.mov",
                               "video_270.mov", "video_180.mov", "fire2.mp4", "realshort.mp4", "flower.webm",
                               "flower.mp4"};

START_TEST(test_stream_equals_consecutive_clips) {
    const char *name = videos[_i];
    const struct { int fps, size; double chunk; } cfg[] = {{5, 64, 8.0}, {3, 48, 1.0}};
    for (size_t c = 0; c < sizeof cfg / sizeof cfg[0]; c++) {
        frame_hashes a = {0}, b = {0};
        milnce_video_stream_stats st;
        chunked(tu_testdata_video(name), cfg[c].fps, cfg[c].size, cfg[c].chunk, &a);
        streamed(tu_testdata_video(name), cfg[c].fps, cfg[c].size, &b, &st);
        ck_assert_msg(a.n == b.n, "%s fps %d chunk %g: %zu frames in clips, %zu streamed", name, cfg[c].fps,
                      cfg[c].chunk, a.n, b.n);
        ck_assert_msg(a.n > 0 || cfg[c].fps < 5, "%s: no frame", name); /* 0.1 s clips have none at 3 fps */
        ck_assert_msg(a.w == b.w && a.h_px == b.h_px, "%s: %dx%d vs %dx%d", name, a.w, a.h_px, b.w, b.h_px);
        for (size_t i = 0; i < a.n; i++)
            ck_assert_msg(a.h[i] == b.h[i], "%s fps %d chunk %g: frame %zu of %zu differs", name, cfg[c].fps,
                          cfg[c].chunk, i, a.n);
        free(a.h);
        free(b.h);
    }
}
END_TEST

/* A growable memory sink with seek, like the shard member the preprocess streams into. */
typedef struct memsink {
    uint8_t *data;
    size_t size, cap, pos;
    size_t fail_after; /* 0 = never; else a write that would pass this many bytes fails */
    int seeks_back;
} memsink;

static int ms_write(void *opaque, const uint8_t *buf, int n) {
    memsink *m = opaque;
    if (m->fail_after && m->pos + (size_t)n > m->fail_after) return MILNCE_ERR_IO; /* a full disk */
    if (m->pos + (size_t)n > m->cap) {
        m->cap = (m->pos + (size_t)n) * 2;
        m->data = realloc(m->data, m->cap);
    }
    if (m->pos > m->size) memset(m->data + m->size, 0, m->pos - m->size);
    memcpy(m->data + m->pos, buf, (size_t)n);
    m->pos += (size_t)n;
    if (m->pos > m->size) m->size = m->pos;
    return 0;
}

static int64_t ms_seek(void *opaque, int64_t off, int whence) {
    memsink *m = opaque;
    int64_t base = whence == SEEK_SET ? 0 : whence == SEEK_CUR ? (int64_t)m->pos : (int64_t)m->size;
    if (base + off < 0) return MILNCE_ERR_INVALID;
    if ((size_t)(base + off) < m->pos) m->seeks_back++;
    m->pos = (size_t)(base + off);
    return (int64_t)m->pos;
}

/* Offset of the top-level MP4 box `type`, or -1. */
static long top_box(const uint8_t *p, size_t n, const char *type) {
    size_t at = 0;
    while (at + 8 <= n) {
        uint64_t sz = ((uint64_t)p[at] << 24) | ((uint64_t)p[at + 1] << 16) | ((uint64_t)p[at + 2] << 8) | p[at + 3];
        if (memcmp(p + at + 4, type, 4) == 0) return (long)at;
        if (sz == 1 && at + 16 <= n) {
            sz = 0;
            for (int i = 0; i < 8; i++) sz = (sz << 8) | p[at + 8 + i];
        }
        if (sz < 8) return -1;
        at += sz;
    }
    return -1;
}

START_TEST(test_transcode_streams_into_sink) {
    milnce_error err = {0};
    memsink m[2] = {{0}, {0}};
    milnce_transcode_info ti[2];
    milnce_transcode_opts o = {.fps = 5, .size = 64};
    for (int k = 0; k < 2; k++) {
        milnce_encode_sink sink = {.opaque = &m[k], .write = ms_write, .seek = ms_seek};
        ck_assert_msg(milnce_transcode(tu_testdata("videos/video_90.mov"), &o, &sink, &ti[k], NULL, &err) == 0, "%s", err.msg);
    }
    ck_assert_uint_eq(m[0].size, m[1].size);
    ck_assert(memcmp(m[0].data, m[1].data, m[0].size) == 0); /* deterministic */
    ck_assert_int_ge(m[0].seeks_back, 1);                   /* the mdat size was patched */
    long mdat = top_box(m[0].data, m[0].size, "mdat"), moov = top_box(m[0].data, m[0].size, "moov");
    ck_assert(mdat > 0 && moov > mdat); /* moov at the end */

    /* The rendition decodes (from memory, as the loader reads it) to the frames of the source. */
    milnce_decoder *d = NULL;
    milnce_frames fr = {0};
    ck_assert_msg(milnce_decoder_open_memory(&d, m[0].data, m[0].size, "r.mp4", NULL, &err) == 0, "%s", err.msg);
    const milnce_video_info *vi = milnce_decoder_info(d);
    ck_assert_int_eq(vi->width, ti[0].width);
    ck_assert_int_eq(vi->height, ti[0].height);
    ck_assert_int_lt(ti[0].width, ti[0].height); /* the 90 degree rotation was applied */
    milnce_clip_spec spec = {.start = 0, .end = (double)ti[0].frames / 5 + 1, .fps = 5, .crop = MILNCE_CROP_NONE};
    ck_assert_msg(milnce_decoder_clip(d, &spec, &fr, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(fr.t, ti[0].frames);
    milnce_frames_free(&fr);
    milnce_decoder_free(&d);
    free(m[0].data);
    free(m[1].data);
}
END_TEST

START_TEST(test_transcode_sink_failure) {
    milnce_error err = {0};
    memsink m = {.fail_after = 20000};
    milnce_transcode_info ti;
    milnce_transcode_opts o = {.fps = 5, .size = 64};
    milnce_encode_sink sink = {.opaque = &m, .write = ms_write, .seek = ms_seek};
    ck_assert_int_lt(milnce_transcode(tu_testdata("videos/chaplin.mp4"), &o, &sink, &ti, NULL, &err), 0);
    ck_assert_msg(strstr(err.msg, "encode") != NULL, "%s", err.msg);
    free(m.data);
    /* a bad input fails before anything is written */
    memsink e = {0};
    milnce_encode_sink es = {.opaque = &e, .write = ms_write, .seek = ms_seek};
    ck_assert_int_lt(milnce_transcode(tu_testdata("videos/bitmap.mp4"), &o, &es, &ti, NULL, &err), 0);
    ck_assert_uint_eq(e.size, 0);
    o.fps = 2.5;
    ck_assert_int_eq(milnce_transcode(tu_testdata("videos/chaplin.mp4"), &o, &es, &ti, NULL, &err), MILNCE_ERR_INVALID);
    free(e.data);
}
END_TEST

/* A sink over a streamed shard member, as `milnce preprocess --jobs 1` uses. */
static int sh_write(void *opaque, const uint8_t *buf, int n) {
    milnce_error e = {0};
    return milnce_shard_writer_write(opaque, buf, (size_t)n, &e) < 0 ? MILNCE_ERR_IO : 0;
}

static int64_t sh_seek(void *opaque, int64_t off, int whence) {
    milnce_error e = {0};
    int64_t p = milnce_shard_writer_seek(opaque, off, whence, &e);
    return p < 0 ? MILNCE_ERR_INVALID : p;
}

static int stream_sample(milnce_shard_writer *w, const char *key, const char *video, milnce_transcode_info *ti,
                         uint64_t *written, milnce_error *err) {
    milnce_transcode_opts o = {.fps = 5, .size = 64};
    milnce_encode_sink sink = {.opaque = w, .write = sh_write, .seek = sh_seek};
    int ret = milnce_shard_writer_begin(w, key, "mp4", err);
    if (ret == 0) ret = milnce_transcode(tu_testdata_video(video), &o, &sink, ti, NULL, err);
    *written = milnce_shard_writer_streamed(w);
    if (ret < 0) {
        milnce_error e2 = {0};
        ck_assert_int_eq(milnce_shard_writer_cancel(w, &e2), 0);
        return ret;
    }
    milnce_shard_member js = {"json", "{}", 2};
    return milnce_shard_writer_end(w, &js, 1, err);
}

/* Renditions encoded straight into a shard; one fails half-way (the disk "fills": the file size
 * limit) and is rolled back; the shard holds the others, intact, and Python's tarfile reads it. */
START_TEST(test_stream_into_shard_with_rollback) {
    milnce_error err = {0};
    char prefix[4200], path[4300], cmd[9000];
    snprintf(prefix, sizeof prefix, "%s/train", tu_tmpdir());
    ck_assert_int_eq(milnce_shard_path(path, sizeof path, prefix, 0, NULL), 0);
    milnce_shard_writer *w = NULL;
    milnce_shard_writer_opts wo = {.prefix = prefix};
    ck_assert_int_eq(milnce_shard_writer_open(&w, &wo, &err), 0);
    milnce_transcode_info a, b, c;
    uint64_t wa, wb, wc;
    ck_assert_msg(stream_sample(w, "a", "realshort.mp4", &a, &wa, &err) == 0, "%s", err.msg);
    struct rlimit old, lim;
    ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
    void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
    lim = old;
    lim.rlim_cur = (rlim_t)wa + 40000; /* chaplin's rendition (~100 KB) fails part-way */
    ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
    int ret = stream_sample(w, "b", "chaplin.mp4", &b, &wb, &err);
    ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &old), 0);
    signal(SIGXFSZ, prev);
    ck_assert_int_lt(ret, 0);
    ck_assert_msg(wb > 10000, "failed after %llu bytes", (unsigned long long)wb); /* part-way */

    ck_assert_msg(stream_sample(w, "c", "video_90.mov", &c, &wc, &err) == 0, "%s", err.msg);
    ck_assert_msg(milnce_shard_writer_close(w, &err) == 0, "%s", err.msg);
    milnce_shard_writer_free(&w);

    milnce_shard_reader *r = NULL;
    ck_assert_msg(milnce_shard_open(&r, path, NULL, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(milnce_shard_count(r), 2);
    ck_assert_str_eq(milnce_shard_key(r, 0), "a");
    ck_assert_str_eq(milnce_shard_key(r, 1), "c");
    const milnce_transcode_info *want[2] = {&a, &c};
    for (size_t i = 0; i < 2; i++) {
        const uint8_t *d;
        size_t n;
        ck_assert_int_eq(milnce_shard_get(r, i, "mp4", &d, &n, &err), 0);
        milnce_decoder *dec = NULL;
        milnce_frames fr = {0};
        ck_assert_msg(milnce_decoder_open_memory(&dec, d, n, "m.mp4", NULL, &err) == 0, "%s", err.msg);
        milnce_clip_spec spec = {.start = 0, .end = (double)want[i]->frames / 5 + 1, .fps = 5, .crop = MILNCE_CROP_NONE};
        ck_assert_msg(milnce_decoder_clip(dec, &spec, &fr, &err) == 0, "%s", err.msg);
        ck_assert_int_eq(fr.t, want[i]->frames);
        milnce_frames_free(&fr);
        milnce_decoder_free(&dec);
    }
    milnce_shard_close(&r);
    const char *src = getenv("MILNCE_SOURCE_DIR");
    snprintf(cmd, sizeof cmd, "%s %s/tests/reference/read_shards.py %s > /dev/null", tu_python(), src ? src : ".", path);
    ck_assert_msg(system(cmd) == 0, "%s failed", cmd);
}
END_TEST

/* Stops the run at frame 2 by returning code: a positive value or a negative MILNCE_ERR_*. */
typedef struct stopper {
    frame_hashes fh;
    int code;
} stopper;

static int stop_at_2(void *user, int64_t i, const uint8_t *rgb, int w, int h, int stride) {
    stopper *sp = user;
    push(&sp->fh, rgb, w, h, stride);
    return i == 2 ? sp->code : 0;
}

START_TEST(test_stream_stopped_by_callback) {
    const int codes[2] = {1, MILNCE_ERR_IO};
    const int want[2] = {MILNCE_ERR_INTERRUPTED, MILNCE_ERR_IO};
    for (int k = 0; k < 2; k++) {
        milnce_error err = {0};
        milnce_video_stream *s = NULL;
        milnce_video_stream_stats st;
        stopper sp = {.code = codes[k]};
        ck_assert_msg(milnce_video_stream_open(&s, tu_testdata("videos/chaplin.mp4"), NULL, &err) == 0, "%s", err.msg);
        ck_assert_int_eq(milnce_video_stream_run(s, 5, 64, 5, stop_at_2, &sp, &st, &err), want[k]);
        ck_assert_uint_eq(sp.fh.n, 3);      /* frames 0, 1, 2 were given */
        ck_assert_int_eq(st.frames, 2);    /* the one that stopped does not count */
        milnce_video_stream_free(&s);
        free(sp.fh.h);
    }
    /* the decoder call itself: a sink has no frame limit to take */
    milnce_error err = {0};
    milnce_decoder *d = NULL;
    frame_hashes fh = {0};
    ck_assert_int_eq(milnce_decoder_open(&d, tu_testdata("videos/realshort.mp4"), NULL, &err), 0);
    milnce_clip_spec spec = {.start = 0, .end = 1, .fps = 5, .size = 64, .crop = MILNCE_CROP_NONE, .max_frames = 4};
    ck_assert_int_eq(milnce_decoder_stream(d, &spec, on_frame, &fh, NULL, NULL, &err), MILNCE_ERR_INVALID);
    ck_assert_int_eq(milnce_decoder_stream(d, &spec, NULL, &fh, NULL, NULL, &err), MILNCE_ERR_INVALID);
    milnce_decoder_free(&d);
    free(fh.h);
}
END_TEST

START_TEST(test_stream_bad_calls) {
    milnce_error err = {0};
    milnce_video_stream *s = NULL;
    frame_hashes fh = {0};
    ck_assert_int_lt(milnce_video_stream_open(&s, tu_testdata("videos/nope.mp4"), NULL, &err), 0);
    ck_assert_ptr_null(s);
    ck_assert_int_eq(milnce_video_stream_open(&s, tu_testdata("videos/realshort.mp4"), NULL, &err), 0);
    ck_assert_int_eq(milnce_video_stream_run(s, 0, 64, 1, on_frame, &fh, NULL, &err), MILNCE_ERR_RANGE);
    ck_assert_int_eq(milnce_video_stream_run(s, 5, 64, 1, on_frame, &fh, NULL, &err), MILNCE_ERR_INVALID); /* once */
    milnce_video_stream_free(&s);
    ck_assert_ptr_null(s);
    free(fh.h);
}
END_TEST

int main(int argc, char **argv) {
    tu_need_cmd(tu_python(), "reads the shards with tarfile: tests/reference/read_shards.py");
    av_log_set_level(AV_LOG_QUIET);
    Suite *s = suite_create("transcode");
    TCase *eq = tcase_create("equivalence");
    tcase_set_timeout(eq, 600);
    tcase_add_loop_test(eq, test_stream_equals_consecutive_clips, 0, (int)(sizeof videos / sizeof videos[0]));
    suite_add_tcase(s, eq);
    TCase *tc = tcase_create("sink");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_transcode_streams_into_sink);
    tcase_add_test(tc, test_transcode_sink_failure);
    tcase_add_test(tc, test_stream_bad_calls);
    tcase_add_test(tc, test_stream_stopped_by_callback);
    tcase_add_test(tc, test_stream_into_shard_with_rollback);
    suite_add_tcase(s, tc);
    return tu_run(s, argc, argv);
}
