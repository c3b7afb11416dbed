/* Narration readers on the real files in testdata: HowTo100M CSVs (compared with Python's csv
 * module), SRT/SBV/WebVTT samples (each one's outcome decided below), YouTube rolling captions
 * (compared with webvtt-to-json's expected output), caption.json streaming, embedded subtitles
 * (muxed with the ffmpeg CLI), encodings, and truncated/random inputs. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "caption_clean.h"
#include "testutil.h"
#include "transcript.h"

static char *slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)len + 1);
    *n = fread(b, 1, (size_t)len, f);
    b[*n] = '\0';
    fclose(f);
    return b;
}

static void spit(const char *path, const void *d, size_t n) {
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(d, 1, n, f), n);
    fclose(f);
}

static milnce_transcript_opts raw_opts(void) {
    milnce_transcript_opts o;
    milnce_transcript_opts_default(&o);
    o.clean = 0;
    o.sort = 0;
    o.keep_empty = 1;
    o.rolling = MILNCE_ROLLING_OFF;
    return o;
}

/* ---- HowTo100M CSV --------------------------------------------------------------------- */

static const char *k_csv_py =
    "import csv, glob, json, os, sys\n"
    "out = {}\n"
    "for p in sorted(glob.glob(os.path.join(sys.argv[1], '*.csv'))):\n"
    "    with open(p, newline='', encoding='utf-8') as f:\n"
    "        r = csv.DictReader(f)\n"
    "        out[os.path.basename(p)] = [[float(x['start']), float(x['end']), x['text']] for x in r]\n"
    "json.dump(out, open(sys.argv[2], 'w'))\n";

START_TEST(test_csv_real_files_match_python_csv) {
    const char *tmp = tu_tmpdir();
    char py[4200], js[4200], cmd[13000], dir[4096];
    snprintf(dir, sizeof dir, "%s", tu_testdata("howto100m/captions"));
    snprintf(py, sizeof py, "%s/ref.py", tmp);
    snprintf(js, sizeof js, "%s/ref.json", tmp);
    spit(py, k_csv_py, strlen(k_csv_py));
    snprintf(cmd, sizeof cmd, "'%s' '%s' '%s' '%s'", tu_python(), py, dir, js);
    ck_assert_int_eq(system(cmd), 0);
    json_error_t je;
    json_t *ref = json_load_file(js, 0, &je);
    ck_assert_ptr_nonnull(ref);
    ck_assert_int_eq((int)json_object_size(ref), 40);
    const char *file;
    json_t *rows;
    size_t total = 0, total_clean = 0;
    milnce_transcript_opts o = raw_opts();
    milnce_cues c = {0};
    json_object_foreach(ref, file, rows) {
        char path[8200];
        snprintf(path, sizeof path, "%s/%s", dir, file);
        milnce_error err = {0};
        ck_assert_msg(milnce_transcript_read(path, MILNCE_CAPTIONS_AUTO, &o, &c, NULL, &err) == 0, "%s", err.msg);
        ck_assert_msg(c.n == json_array_size(rows), "%s: %zu cues, python %zu", file, c.n, json_array_size(rows));
        for (size_t i = 0; i < c.n; i++) {
            json_t *row = json_array_get(rows, i);
            ck_assert_double_eq(c.v[i].start, json_real_value(json_array_get(row, 0)));
            ck_assert_double_eq(c.v[i].end, json_real_value(json_array_get(row, 1)));
            ck_assert_str_eq(c.v[i].text, json_string_value(json_array_get(row, 2)));
        }
        total += c.n;
        /* Defaults: cleaned, sorted; empty lines dropped; never more cues. */
        ck_assert_int_eq(milnce_transcript_read(path, MILNCE_CAPTIONS_CSV, NULL, &c, NULL, &err), 0);
        ck_assert_uint_le(c.n, json_array_size(rows));
        for (size_t i = 1; i < c.n; i++) ck_assert(c.v[i - 1].start <= c.v[i].start);
        total_clean += c.n;
    }
    ck_assert_uint_eq(total, 3607); /* 3647 lines - 40 headers */
    ck_assert_uint_ge(total_clean, total - 10);
    milnce_cues_free(&c);
    json_decref(ref);
}
END_TEST

START_TEST(test_csv_rfc4180_quoting) {
    const char *t = "start,end,text\r\n"
                    "1.5,2,\"a, b\"\r\n"
                    "2,3,\"she said \"\"hi\"\"\"\r\n"
                    "3,4.25,\"two\nlines\"\r\n"
                    "\r\n"
                    "4,5,plain\r\n";
    milnce_transcript_opts o = raw_opts();
    milnce_cues c = {0};
    milnce_error err = {0};
    ck_assert_int_eq(milnce_transcript_parse("q.csv", t, strlen(t), MILNCE_CAPTIONS_CSV, &o, &c, NULL, &err), 0);
    ck_assert_uint_eq(c.n, 4);
    ck_assert_str_eq(c.v[0].text, "a, b");
    ck_assert_str_eq(c.v[1].text, "she said \"hi\"");
    ck_assert_str_eq(c.v[2].text, "two\nlines");
    ck_assert_double_eq(c.v[2].end, 4.25);
    ck_assert_str_eq(c.v[3].text, "plain");
    /* Errors name file and line. */
    const char *bad[][2] = {
        {"start,end,text\n1,2,ok\n1,x,bad\n", "b.csv:3:"},
        {"start,end,text\n1,2,\"open\n", "b.csv:2:"},
        {"start,end,text\n1,2\n", "b.csv:2:"},
        {"when,what\n1,2\n", "b.csv:1:"},
        {"start,end,text\n-1,2,neg\n", "b.csv:2:"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        milnce_error_clear(&err);
        int rc = milnce_transcript_parse("b.csv", bad[i][0], strlen(bad[i][0]), MILNCE_CAPTIONS_CSV, NULL, &c, NULL, &err);
        ck_assert_msg(rc == MILNCE_ERR_FORMAT, "case %zu: rc %d", i, rc);
        ck_assert_msg(strstr(err.msg, bad[i][1]) != NULL, "case %zu: '%s' lacks '%s'", i, err.msg, bad[i][1]);
    }
    /* An empty file is zero cues. */
    ck_assert_int_eq(milnce_transcript_parse("e.csv", "", 0, MILNCE_CAPTIONS_CSV, NULL, &c, NULL, &err), 0);
    ck_assert_uint_eq(c.n, 0);
    milnce_cues_free(&c);
}
END_TEST

START_TEST(test_csv_youcook2_layout) {
    const char *path = tu_testdata("howto100m/youcook2_style_val_captions.csv");
    milnce_transcript_opts o = raw_opts();
    milnce_cues c = {0};
    milnce_error err = {0};
    o.video_id = "RFE7qdhjgXc";
    ck_assert_msg(milnce_transcript_read(path, MILNCE_CAPTIONS_AUTO, &o, &c, NULL, &err) == 0, "%s", err.msg);
    ck_assert_uint_ge(c.n, 4);
    /* Columns by name: end,start order in the file. */
    ck_assert_double_eq(c.v[0].start, 44);
    ck_assert_double_eq(c.v[0].end, 55);
    ck_assert_str_eq(c.v[0].text, "marinade the chicken with dark soy sauce salt sugar and pepper");
    milnce_cues_free(&c);
}
END_TEST

/* Rolling HowTo100M lines on the 40 real files. */
START_TEST(test_overlap_dedupe_real) {
    milnce_transcript_opts o;
    milnce_transcript_opts_default(&o);
    milnce_cues keep = {0}, dd = {0}, tr = {0};
    milnce_error err = {0};
    const char *path = tu_testdata("howto100m/captions/2Mn5sVpFDTg.csv");
    ck_assert_int_eq(milnce_transcript_read(path, MILNCE_CAPTIONS_CSV, &o, &keep, NULL, &err), 0);
    o.overlap = MILNCE_OVERLAP_DEDUPE;
    ck_assert_int_eq(milnce_transcript_read(path, MILNCE_CAPTIONS_CSV, &o, &dd, NULL, &err), 0);
    /* "making christmas angels" (3.38-8.76) then "christmas angels" (6.08-11.55): a repeat. */
    ck_assert_str_eq(keep.v[1].text, "making christmas angels");
    ck_assert_str_eq(keep.v[2].text, "christmas angels");
    ck_assert_str_eq(dd.v[1].text, "making christmas angels");
    ck_assert_str_eq(dd.v[2].text, "following materials");
    ck_assert_double_eq(dd.v[1].end, 11.55); /* the repeat's span joins the kept line */
    o.overlap = MILNCE_OVERLAP_TRIM;
    /* Over all files: no kept line is inside the previous or starts with its tail; TRIM leaves
     * no overlap. */
    const char *ids[] = {"2Mn5sVpFDTg", "5VLwcVOLoFs", "Hv2DV63EOtg", "v_REStZLJE8", "kCqWcFokgoc", "QnjEvGLZBjQ"};
    size_t before = 0, after = 0;
    for (size_t f = 0; f < sizeof ids / sizeof ids[0]; f++) {
        char rel[256];
        snprintf(rel, sizeof rel, "howto100m/captions/%s.csv", ids[f]);
        path = tu_testdata(rel);
        o.overlap = MILNCE_OVERLAP_KEEP;
        ck_assert_int_eq(milnce_transcript_read(path, MILNCE_CAPTIONS_CSV, &o, &keep, NULL, &err), 0);
        o.overlap = MILNCE_OVERLAP_DEDUPE;
        ck_assert_int_eq(milnce_transcript_read(path, MILNCE_CAPTIONS_CSV, &o, &dd, NULL, &err), 0);
        o.overlap = MILNCE_OVERLAP_TRIM;
        ck_assert_int_eq(milnce_transcript_read(path, MILNCE_CAPTIONS_CSV, &o, &tr, NULL, &err), 0);
        ck_assert_uint_eq(tr.n, dd.n);
        before += keep.n;
        after += dd.n;
        for (size_t i = 1; i < dd.n; i++) {
            ck_assert(tr.v[i - 1].end <= tr.v[i].start + 1e-12);
            ck_assert(tr.v[i - 1].end >= tr.v[i - 1].start);
        }
    }
    ck_assert_uint_lt(after, before);
    /* Hv2DV63EOtg lines 10-14: "crystals under water corals colours" (-> "colours"),
     * "colours make", "make make corals", "make corals bowl ice hot isomalt",
     * "bowl ice hot isomalt cooked". */
    o.overlap = MILNCE_OVERLAP_DEDUPE;
    ck_assert_int_eq(milnce_transcript_read(tu_testdata("howto100m/captions/Hv2DV63EOtg.csv"), 0, &o, &dd, NULL, &err), 0);
    static const char *want[] = {"make", "make corals", "bowl ice hot isomalt", "cooked"};
    size_t at = 0;
    while (at < dd.n && !(strcmp(dd.v[at].text, "colours") == 0 && dd.v[at].start == 26.73)) at++;
    ck_assert_uint_lt(at + 4, dd.n);
    for (size_t i = 0; i < 4; i++) ck_assert_str_eq(dd.v[at + 1 + i].text, want[i]);
    ck_assert_double_eq(dd.v[at + 2].start, 33.14);
    fprintf(stderr, "overlap dedupe on %zu real files: %zu lines -> %zu\n", sizeof ids / sizeof ids[0], before, after);
    milnce_cues_free(&keep);
    milnce_cues_free(&dd);
    milnce_cues_free(&tr);
}
END_TEST

/* ---- SRT / SBV / WebVTT samples ---------------------------------------------------------- */

START_TEST(test_srt_files) {
    milnce_cues c = {0};
    milnce_error err = {0};
    ck_assert_int_eq(milnce_transcript_read(tu_testdata("subtitles/srt/ascii.srt"), 0, NULL, &c, NULL, &err), 0);
    ck_assert_uint_eq(c.n, 3);
    ck_assert_str_eq(c.v[0].text, "ascii");
    ck_assert_double_eq(c.v[0].start, 27.0);
    ck_assert_double_eq(c.v[0].end, 30.73);
    ck_assert_str_eq(c.v[2].text, "ascii everywhere");
    ck_assert_int_eq(milnce_transcript_read(tu_testdata("subtitles/srt/subtitles-unicode.srt"), 0, NULL, &c, NULL, &err), 0);
    ck_assert_uint_eq(c.n, 1);
    ck_assert_str_eq(c.v[0].text, "\xC3\x81\xC3\x89\xC3\xAD\xC3\xB6\xC3\x99"); /* ÁÉíöÙ */
    ck_assert_int_eq(milnce_transcript_read(tu_testdata("subtitles/srt/subtitles.srt"), 0, NULL, &c, NULL, &err), 0);
    ck_assert_uint_eq(c.n, 5);
    ck_assert_double_eq(c.v[2].start, 5.0); /* "00:00:5,000": one-digit seconds */
    ck_assert_str_eq(c.v[2].text, "Green!");
    /* GB2312: refused without an encoding, read through a fallback or a declaration. */
    const char *gb = tu_testdata("subtitles/srt/gb2312.srt");
    char gbpath[4096];
    snprintf(gbpath, sizeof gbpath, "%s", gb);
    milnce_error_clear(&err);
    ck_assert_int_eq(milnce_transcript_read(gbpath, 0, NULL, &c, NULL, &err), MILNCE_ERR_FORMAT);
    ck_assert_msg(strstr(err.msg, "gb2312.srt:3:") != NULL, "%s", err.msg);
    milnce_transcript_opts o;
    milnce_transcript_opts_default(&o);
    o.fallback_encodings = "NO-SUCH-ENCODING,GB18030,CP1252";
    ck_assert_msg(milnce_transcript_read(gbpath, 0, &o, &c, NULL, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(c.n, 3);
    /* iconv -f GB18030: 宇宙守护神  保护我们远离邪恶 (two spaces collapsed by cleaning) */
    ck_assert_str_eq(c.v[0].text, "\xe5\xae\x87\xe5\xae\x99\xe5\xae\x88\xe6\x8a\xa4\xe7\xa5\x9e "
                                  "\xe4\xbf\x9d\xe6\x8a\xa4\xe6\x88\x91\xe4\xbb\xac\xe8\xbf\x9c\xe7\xa6\xbb\xe9\x82\xaa\xe6\x81\xb6");
    o.fallback_encodings = NULL;
    o.encoding = "GB2312";
    ck_assert_msg(milnce_transcript_read(gbpath, 0, &o, &c, NULL, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(c.n, 3);
    milnce_cues_free(&c);
}
END_TEST

/* Every file of webvtt-py's samples, with the decision for it: number of cues, or the error and
 * the line it names. */
START_TEST(test_webvtt_py_samples) {
    static const struct { const char *file; int rc; int n; const char *where; } k[] = {
        {"captions_with_bom.vtt", 0, 4, NULL},
        {"comments.vtt", 0, 3, NULL},
        {"cue_tags.vtt", 0, 3, NULL},
        {"empty.vtt", 0, 0, NULL},                      /* empty file: zero cues */
        {"no_captions.vtt", 0, 0, NULL},
        {"invalid.vtt", MILNCE_ERR_FORMAT, 0, ":1:"},   /* no WEBVTT signature */
        {"invalid_timeframe.vtt", MILNCE_ERR_FORMAT, 0, ":6:"},
        {"invalid_timeframe_in_cue_text.vtt", 0, 3, NULL}, /* W3C: the 2nd timing line starts a new cue; the first is left empty and dropped */
        {"metadata_headers.vtt", 0, 2, NULL},
        {"metadata_headers_multiline.vtt", 0, 2, NULL},
        {"missing_caption_text.vtt", 0, 4, NULL},       /* a cue without text is dropped */
        {"missing_timeframe.vtt", MILNCE_ERR_FORMAT, 0, ":6:"},
        {"netflix_chicas_del_cable.vtt", 0, 865, NULL},
        {"one_caption.vtt", 0, 1, NULL},
        {"sample.vtt", 0, 16, NULL},
        {"styles.vtt", 0, 1, NULL},
        {"using_identifiers.vtt", 0, 6, NULL},
        {"invalid_format1.srt", MILNCE_ERR_FORMAT, 0, ":1:"},
        {"invalid_format2.srt", MILNCE_ERR_FORMAT, 0, ":1:"},
        {"invalid_format3.srt", MILNCE_ERR_FORMAT, 0, ":1:"},
        {"invalid_format4.srt", MILNCE_ERR_FORMAT, 0, ":1:"},
        {"invalid_timeframe.srt", MILNCE_ERR_FORMAT, 0, ":6:"}, /* "00:00:11.890": '.' in SRT */
        {"missing_caption_text.srt", 0, 4, NULL},
        {"missing_timeframe.srt", MILNCE_ERR_FORMAT, 0, ":5:"},
        {"one_caption.srt", 0, 1, NULL},
        {"sample.srt", 0, 5, NULL},
        {"invalid_format.sbv", MILNCE_ERR_FORMAT, 0, ":1:"},
        {"invalid_timeframe.sbv", MILNCE_ERR_FORMAT, 0, ":7:"},
        {"missing_caption_text.sbv", 0, 4, NULL},
        {"missing_timeframe.sbv", MILNCE_ERR_FORMAT, 0, ":4:"},
        {"sample.sbv", 0, 5, NULL},
        {"two_captions.sbv", 0, 2, NULL},
    };
    milnce_cues c = {0};
    for (size_t i = 0; i < sizeof k / sizeof k[0]; i++) {
        char rel[256];
        snprintf(rel, sizeof rel, "subtitles/webvtt-py/%s", k[i].file);
        milnce_error err = {0};
        int rc = milnce_transcript_read(tu_testdata(rel), MILNCE_CAPTIONS_AUTO, NULL, &c, NULL, &err);
        ck_assert_msg(rc == k[i].rc, "%s: rc %d (%s), expected %d", k[i].file, rc, err.msg, k[i].rc);
        if (rc == 0) {
            ck_assert_msg((int)c.n == k[i].n, "%s: %zu cues, expected %d", k[i].file, c.n, k[i].n);
        } else {
            char want[300];
            snprintf(want, sizeof want, "%s%s", k[i].file, k[i].where);
            ck_assert_msg(strstr(err.msg, want) != NULL, "%s: message '%s' lacks '%s'", k[i].file, err.msg, want);
        }
    }
    /* Lax mode reads what it can. */
    milnce_transcript_opts o;
    milnce_transcript_opts_default(&o);
    o.strict = 0;
    milnce_error err = {0};
    ck_assert_int_eq(milnce_transcript_read(tu_testdata("subtitles/webvtt-py/invalid_timeframe.srt"), 0, &o, &c, NULL, &err), 0);
    ck_assert_uint_eq(c.n, 5);
    ck_assert_int_eq(milnce_transcript_read(tu_testdata("subtitles/webvtt-py/missing_timeframe.vtt"), 0, &o, &c, NULL, &err), 0);
    ck_assert_uint_eq(c.n, 6); /* 6 timed cues; the untimed block is skipped */
    /* Cleaned text: tags gone. */
    ck_assert_int_eq(milnce_transcript_read(tu_testdata("subtitles/webvtt-py/cue_tags.vtt"), 0, NULL, &c, NULL, &err), 0);
    for (size_t i = 0; i < c.n; i++) ck_assert_msg(!strchr(c.v[i].text, '<'), "%s", c.v[i].text);
    milnce_cues_free(&c);
}
END_TEST

START_TEST(test_clean_text) {
    static const char *k[][2] = {
        {"<v Bob>Hello</v> &amp; <i>bye</i>", "Hello & bye"},
        {"my<00:00:00.160><c> career</c><00:00:00.480><c> in</c>", "my career in"},
        {"  a \t b  \n\n  c  ", "a b\nc"},
        {"{\\an8}top\\Nline", "top\nline"},
        {"1 &lt; 2 &gt; 0 &#65;&#x42;&nbsp;x", "1 < 2 > 0 AB x"},
        {"a < b and c > d", "a < b and c > d"},
        {"&bogus; &", "&bogus; &"},
        {"<c.colorE5E5E5>word</c>", "word"},
        {"", ""},
    };
    for (size_t i = 0; i < sizeof k / sizeof k[0]; i++) {
        char *o;
        ck_assert_int_eq(milnce_caption_clean_text(k[i][0], strlen(k[i][0]), &o, NULL), 0);
        ck_assert_msg(strcmp(o, k[i][1]) == 0, "'%s' -> '%s', want '%s'", k[i][0], o, k[i][1]);
        free(o);
    }
}
END_TEST

/* ---- YouTube rolling captions -------------------------------------------------------------- */

static double hms(const char *s) {
    int h, m;
    double sec;
    ck_assert_int_eq(sscanf(s, "%d:%d:%lf", &h, &m, &sec), 3);
    return h * 3600 + m * 60 + sec;
}

START_TEST(test_youtube_demo_matches_webvtt_to_json) {
    /* The expected de-duplicated cues are in the test file of webvtt-to-json, in the function
     * test_webvtt_to_json_dedupe: {"start": .., "end": .., "lines": [..]} items. */
    size_t n;
    char *py = slurp(tu_testdata("subtitles/youtube/demo.expected.py.txt"), &n);
    ck_assert_ptr_nonnull(py);
    char *p = strstr(py, "def test_webvtt_to_json_dedupe(");
    ck_assert_ptr_nonnull(p);
    char *stop = strstr(p, "def test_webvtt_to_json_dedupe_single");
    ck_assert_ptr_nonnull(stop);
    *stop = '\0';
    struct { char start[32], end[32], line[256]; } exp[16];
    size_t ne = 0;
    for (char *q = strstr(p, "\"start\": \""); q && ne < 16; q = strstr(q + 1, "\"start\": \"")) {
        ck_assert_int_eq(sscanf(q, "\"start\": \"%31[^\"]\", \"end\": \"%31[^\"]\", \"lines\": [\"%255[^\"]\"]",
                                exp[ne].start, exp[ne].end, exp[ne].line), 3);
        ne++;
    }
    ck_assert_uint_eq(ne, 2);
    milnce_transcript_opts o;
    milnce_transcript_opts_default(&o);
    o.bridge_times = 1;
    milnce_cues c = {0};
    milnce_error err = {0};
    const char *vtt = tu_testdata("subtitles/youtube/demo.vtt");
    ck_assert_msg(milnce_transcript_read(vtt, 0, &o, &c, NULL, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(c.n, ne);
    for (size_t i = 0; i < ne; i++) {
        ck_assert_str_eq(c.v[i].text, exp[i].line);
        ck_assert_double_eq_tol(c.v[i].start, hms(exp[i].start), 1e-9);
        ck_assert_double_eq_tol(c.v[i].end, hms(exp[i].end), 1e-9);
    }
    /* Default timing: the span in which the line was spoken, ending where the bridge starts. */
    ck_assert_int_eq(milnce_transcript_read(vtt, 0, NULL, &c, NULL, &err), 0);
    ck_assert_uint_eq(c.n, ne);
    for (size_t i = 0; i < ne; i++) {
        ck_assert_str_eq(c.v[i].text, exp[i].line);
        ck_assert_double_eq_tol(c.v[i].end, hms(exp[i].start), 1e-9);
    }
    ck_assert_double_eq(c.v[0].start, 0);
    ck_assert_double_eq_tol(c.v[1].start, 1.839, 1e-9);
    /* Rolling off: every cue, repeats included. */
    o.rolling = MILNCE_ROLLING_OFF;
    ck_assert_int_eq(milnce_transcript_read(vtt, 0, &o, &c, NULL, &err), 0);
    ck_assert_uint_eq(c.n, 4);
    milnce_cues_free(&c);
    free(py);
}
END_TEST

START_TEST(test_youtube_each_word_once) {
    const char *files[] = {"subtitles/youtube/meow.en.vtt", "subtitles/youtube/youtube_dl.vtt"};
    for (size_t f = 0; f < 2; f++) {
        milnce_cues c = {0}, raw = {0};
        milnce_error err = {0};
        ck_assert_msg(milnce_transcript_read(tu_testdata(files[f]), 0, NULL, &c, NULL, &err) == 0, "%s", err.msg);
        milnce_transcript_opts o;
        milnce_transcript_opts_default(&o);
        o.rolling = MILNCE_ROLLING_OFF;
        ck_assert_int_eq(milnce_transcript_read(tu_testdata(files[f]), 0, &o, &raw, NULL, &err), 0);
        ck_assert_uint_gt(c.n, 0);
        ck_assert_uint_lt(c.n, raw.n);
        for (size_t i = 0; i < c.n; i++) {
            ck_assert_msg(!strchr(c.v[i].text, '<') && !strchr(c.v[i].text, '\n'), "%s", c.v[i].text);
            if (i) ck_assert_msg(strcmp(c.v[i].text, c.v[i - 1].text) != 0, "%s: repeated '%s'", files[f], c.v[i].text);
            for (size_t j = 0; j < i; j++) ck_assert_str_ne(c.v[i].text, c.v[j].text);
        }
        milnce_cues_free(&c);
        milnce_cues_free(&raw);
    }
}
END_TEST

START_TEST(test_transports_plain_text) {
    milnce_cues c = {0};
    milnce_error err = {0};
    ck_assert_int_eq(milnce_transcript_read(tu_testdata("subtitles/transports_en_commun.vtt"), 0, NULL, &c, NULL, &err), 0);
    ck_assert_uint_eq(c.n, 47);
    char *txt;
    ck_assert_int_eq(milnce_caption_join(&c, &txt, &err), 0);
    size_t n;
    char *exp = slurp(tu_testdata("subtitles/transports_en_commun.txt"), &n);
    while (n && (exp[n - 1] == '\n' || exp[n - 1] == ' ')) exp[--n] = '\0';
    ck_assert_str_eq(txt, exp);
    free(txt);
    free(exp);
    milnce_cues_free(&c);
}
END_TEST

/* ---- caption.json ---------------------------------------------------------------------------- */

START_TEST(test_caption_json_stream) {
    const char *tmp = tu_tmpdir();
    char path[4200];
    snprintf(path, sizeof path, "%s/caption.json", tmp);
    FILE *f = fopen(path, "w");
    const int V = 1000, L = 60;
    fputc('{', f);
    for (int v = 0; v < V; v++) {
        fprintf(f, "%s\"vid_%04d\": {\"text\": [", v ? ", " : "", v);
        for (int i = 0; i < L; i++) fprintf(f, "%s\"word %d of \\\"video\\\" %d\"", i ? "," : "", i, v);
        fprintf(f, "], \"start\": [");
        for (int i = 0; i < L; i++) fprintf(f, "%s%.2f", i ? "," : "", i * 2.5);
        fprintf(f, "], \"end\": [");
        for (int i = 0; i < L; i++) fprintf(f, "%s%d", i ? "," : "", i * 2 + 5 + (i % 2));
        fprintf(f, "], \"extra\": {\"nested\": [1, [2, {\"x\": null}]]}}");
    }
    fputs("}\n", f);
    long size = ftell(f);
    fclose(f);
    milnce_caption_json *r;
    milnce_error err = {0};
    milnce_transcript_opts o;
    milnce_transcript_opts_default(&o);
    o.sort = 0;
    ck_assert_int_eq(milnce_caption_json_open(path, &o, NULL, &r, &err), 0);
    milnce_cues c = {0};
    char *id;
    int v = 0, rc;
    while ((rc = milnce_caption_json_next(r, &id, &c, &err)) == 1) {
        char want[32];
        snprintf(want, sizeof want, "vid_%04d", v);
        ck_assert_str_eq(id, want);
        ck_assert_uint_eq(c.n, (size_t)L);
        char t[64];
        snprintf(t, sizeof t, "word 7 of \"video\" %d", v);
        ck_assert_str_eq(c.v[7].text, t);
        ck_assert_double_eq(c.v[7].start, 17.5);
        ck_assert_double_eq(c.v[7].end, 20);
        free(id);
        v++;
    }
    ck_assert_msg(rc == 0, "%s", err.msg);
    ck_assert_int_eq(v, V);
    size_t peak = milnce_caption_json_peak_bytes(r);
    fprintf(stderr, "caption.json: %ld bytes, %d videos, reader peak %zu bytes\n", size, V, peak);
    /* One 64 KB chunk of entries at most, not the file. */
    ck_assert_uint_lt(peak, 200000);
    ck_assert_int_gt(size, 2000000);
    milnce_caption_json_close(&r);
    ck_assert_ptr_null(r);
    /* One video by id through milnce_transcript_read. */
    o.video_id = "vid_0321";
    ck_assert_int_eq(milnce_transcript_read(path, 0, &o, &c, NULL, &err), 0);
    ck_assert_uint_eq(c.n, (size_t)L);
    ck_assert_str_eq(c.v[0].text, "word 0 of \"video\" 321");
    o.video_id = "nope";
    ck_assert_int_eq(milnce_transcript_read(path, 0, &o, &c, NULL, &err), MILNCE_ERR_NOTFOUND);
    /* Malformed: each an error naming the file. */
    static const char *bad[] = {
        "{\"a\": {\"start\": [1], \"end\": [2], \"text\": []}}",
        "{\"a\": {\"start\": [1], \"end\": [2], \"text\": [\"x\"]",
        "[1, 2]",
        "{\"a\": [1]}",
        "{\"a\": {\"start\": [\"x\"], \"end\": [2], \"text\": [\"x\"]}}",
        "{\"a\": {\"start\": [1], \"end\": [2], \"text\": [\"x\"]}} trailing",
        "{\"a\": {\"start\": [1], \"end\": [2], \"text\": [\"\xff\"]}}",
    };
    o.video_id = NULL;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        milnce_error_clear(&err);
        rc = milnce_transcript_parse("bad.json", bad[i], strlen(bad[i]), MILNCE_CAPTIONS_JSON, &o, &c, NULL, &err);
        ck_assert_msg(rc < 0, "case %zu accepted", i);
        ck_assert_msg(strstr(err.msg, "bad.json") != NULL, "case %zu: %s", i, err.msg);
    }
    ck_assert_int_eq(milnce_transcript_parse("e.json", "", 0, MILNCE_CAPTIONS_JSON, &o, &c, NULL, &err), 0);
    ck_assert_int_eq(milnce_transcript_parse("e.json", "{}", 2, MILNCE_CAPTIONS_JSON, &o, &c, NULL, &err), 0);
    ck_assert_uint_eq(c.n, 0);
    milnce_cues_free(&c);
}
END_TEST

/* ---- embedded subtitles ---------------------------------------------------------------------- */

START_TEST(test_embedded_matches_vtt) {
    const char *tmp = tu_tmpdir();
    char vtt[4096], mp4[4096];
    snprintf(vtt, sizeof vtt, "%s", tu_testdata("videos/friday.vtt"));
    snprintf(mp4, sizeof mp4, "%s", tu_testdata("videos/friday.mp4"));
    milnce_cues ref = {0}, c = {0};
    milnce_error err = {0};
    ck_assert_int_eq(milnce_transcript_read(vtt, 0, NULL, &ref, NULL, &err), 0);
    ck_assert_uint_eq(ref.n, 5);
    static const struct { const char *ext, *codec; } k[] = {
        {"mkv", "srt"}, {"mkv", "webvtt"}, {"mp4", "mov_text"}, {"mkv", "ass"}};
    for (size_t i = 0; i < sizeof k / sizeof k[0]; i++) {
        char out[4300], cmd[13000];
        snprintf(out, sizeof out, "%s/friday_%s.%s", tmp, k[i].codec, k[i].ext);
        snprintf(cmd, sizeof cmd, "ffmpeg -nostdin -hide_banner -loglevel error -y -i '%s' -i '%s' "
                 "-map 0:v -map 1 -c:v copy -c:s %s '%s'", mp4, vtt, k[i].codec, out);
        ck_assert_msg(system(cmd) == 0, "%s", cmd);
        ck_assert_msg(milnce_transcript_read(out, MILNCE_CAPTIONS_AUTO, NULL, &c, NULL, &err) == 0, "%s: %s", out, err.msg);
        ck_assert_msg(c.n == ref.n, "%s: %zu cues, vtt %zu", k[i].codec, c.n, ref.n);
        for (size_t j = 0; j < c.n; j++) {
            ck_assert_msg(strcmp(c.v[j].text, ref.v[j].text) == 0, "%s cue %zu: '%s' vs '%s'", k[i].codec, j, c.v[j].text, ref.v[j].text);
            /* mov_text and ASS store centiseconds/milliseconds: 10 ms. */
            ck_assert_double_eq_tol(c.v[j].start, ref.v[j].start, 0.0101);
            ck_assert_double_eq_tol(c.v[j].end, ref.v[j].end, 0.0101);
        }
    }
    /* A video without subtitles. */
    milnce_error_clear(&err);
    ck_assert_int_eq(milnce_transcript_read(mp4, 0, NULL, &c, NULL, &err), MILNCE_ERR_NOTFOUND);
    ck_assert_msg(strstr(err.msg, "friday.mp4") != NULL, "%s", err.msg);
    milnce_cues_free(&c);
    milnce_cues_free(&ref);
}
END_TEST

/* ---- encodings ----------------------------------------------------------------------------- */

static size_t to_utf16(const char *s, size_t n, unsigned char *o, int be) {
    size_t k = 0;
    o[k++] = be ? 0xFE : 0xFF;
    o[k++] = be ? 0xFF : 0xFE;
    for (size_t i = 0; i < n;) {
        unsigned c = (unsigned char)s[i];
        unsigned cp;
        if (c < 0x80) { cp = c; i++; }
        else if ((c & 0xE0) == 0xC0) { cp = ((c & 0x1F) << 6) | (s[i + 1] & 0x3F); i += 2; }
        else { cp = ((c & 0x0F) << 12) | ((s[i + 1] & 0x3F) << 6) | (s[i + 2] & 0x3F); i += 3; }
        o[k++] = (unsigned char)(be ? cp >> 8 : cp & 0xFF);
        o[k++] = (unsigned char)(be ? cp & 0xFF : cp >> 8);
    }
    return k;
}

START_TEST(test_utf16_and_bom) {
    const char *files[] = {"subtitles/srt/subtitles-unicode.srt", "subtitles/transports_en_commun.vtt",
                           "howto100m/captions/2Mn5sVpFDTg.csv"};
    milnce_caption_format fmts[] = {MILNCE_CAPTIONS_SRT, MILNCE_CAPTIONS_VTT, MILNCE_CAPTIONS_CSV};
    for (size_t f = 0; f < 3; f++) {
        size_t n;
        char *d = slurp(tu_testdata(files[f]), &n);
        milnce_cues ref = {0}, c = {0};
        milnce_error err = {0};
        ck_assert_int_eq(milnce_transcript_parse("u8", d, n, fmts[f], NULL, &ref, NULL, &err), 0);
        unsigned char *u = malloc(2 * n + 4);
        for (int be = 0; be < 2; be++) {
            size_t m = to_utf16(d, n, u, be);
            ck_assert_msg(milnce_transcript_parse("u16", u, m, MILNCE_CAPTIONS_AUTO, NULL, &c, NULL, &err) == 0, "%s", err.msg);
            ck_assert_uint_eq(c.n, ref.n);
            for (size_t i = 0; i < c.n; i++) ck_assert_str_eq(c.v[i].text, ref.v[i].text);
        }
        /* UTF-8 BOM. */
        char *b = malloc(n + 3);
        memcpy(b, "\xEF\xBB\xBF", 3);
        memcpy(b + 3, d, n);
        ck_assert_int_eq(milnce_transcript_parse("bom", b, n + 3, MILNCE_CAPTIONS_AUTO, NULL, &c, NULL, &err), 0);
        ck_assert_uint_eq(c.n, ref.n);
        ck_assert_str_eq(c.v[0].text, ref.v[0].text);
        free(b);
        free(u);
        free(d);
        milnce_cues_free(&c);
        milnce_cues_free(&ref);
    }
    /* CP1252 through the fallback list: "café" as 0xE9. */
    const char *t = "1\n00:00:01,000 --> 00:00:02,000\ncaf\xe9\n";
    milnce_transcript_opts o;
    milnce_transcript_opts_default(&o);
    o.fallback_encodings = "CP1252";
    milnce_cues c = {0};
    milnce_error err = {0};
    ck_assert_int_eq(milnce_transcript_parse("w.srt", t, strlen(t), MILNCE_CAPTIONS_SRT, &o, &c, NULL, &err), 0);
    ck_assert_str_eq(c.v[0].text, "caf\xc3\xa9");
    o.encoding = "NOT-AN-ENCODING";
    ck_assert_int_eq(milnce_transcript_parse("w.srt", t, strlen(t), MILNCE_CAPTIONS_SRT, &o, &c, NULL, &err), MILNCE_ERR_UNSUPPORTED);
    milnce_cues_free(&c);
}
END_TEST

/* ---- formats ------------------------------------------------------------------------------- */

START_TEST(test_format_names) {
    milnce_caption_format f;
    ck_assert_int_eq(milnce_caption_format_parse("WebVTT", &f, NULL), 0);
    ck_assert_int_eq(f, MILNCE_CAPTIONS_VTT);
    ck_assert_int_eq(milnce_caption_format_parse("csv", &f, NULL), 0);
    ck_assert_int_eq(f, MILNCE_CAPTIONS_CSV);
    milnce_error err = {0};
    ck_assert_int_eq(milnce_caption_format_parse("docx", &f, &err), MILNCE_ERR_INVALID);
    ck_assert(strstr(err.msg, "docx") != NULL);
    ck_assert_str_eq(milnce_caption_format_name(MILNCE_CAPTIONS_EMBEDDED), "embedded");
    ck_assert_int_eq(milnce_caption_format_guess("a/b.c/x.MKV"), MILNCE_CAPTIONS_EMBEDDED);
    ck_assert_int_eq(milnce_caption_format_guess("a/caption.json"), MILNCE_CAPTIONS_JSON);
    ck_assert_int_eq(milnce_caption_format_guess("a.b/noext"), MILNCE_CAPTIONS_AUTO);
    milnce_cues c = {0};
    ck_assert_int_eq(milnce_transcript_read("/nonexistent/x.srt", 0, NULL, &c, NULL, &err), MILNCE_ERR_NOTFOUND);
    ck_assert(strstr(err.msg, "/nonexistent/x.srt") != NULL);
}
END_TEST

/* ---- truncated and random inputs ----------------------------------------------------------- */

static void fuzz_one(const char *name, const char *d, size_t n, milnce_caption_format fmt) {
    milnce_cues c = {0};
    milnce_transcript_opts lax;
    milnce_transcript_opts_default(&lax);
    lax.strict = 0;
    lax.fallback_encodings = "CP1252";
    milnce_error err = {0};
    int rc = milnce_transcript_parse(name, d, n, fmt, NULL, &c, NULL, &err);
    ck_assert_msg(rc == 0 || (rc < 0 && err.msg[0] && strstr(err.msg, name)), "%s: rc %d msg '%s'", name, rc, err.msg);
    rc = milnce_transcript_parse(name, d, n, fmt, &lax, &c, NULL, &err);
    ck_assert_msg(rc == 0 || (rc < 0 && err.msg[0]), "%s: lax rc %d", name, rc);
    for (size_t i = 0; i < c.n; i++) ck_assert(c.v[i].text && c.v[i].end >= c.v[i].start);
    milnce_vtt v;
    if (milnce_vtt_parse(name, d, n, &v, &err) == 0) milnce_vtt_free(&v);
    milnce_cues_free(&c);
}

START_TEST(test_fuzz_truncated_and_random) {
    static const struct { const char *rel; milnce_caption_format fmt; } k[] = {
        {"howto100m/captions/2Mn5sVpFDTg.csv", MILNCE_CAPTIONS_CSV},
        {"howto100m/youcook2_style_val_captions.csv", MILNCE_CAPTIONS_CSV},
        {"subtitles/srt/subtitles.srt", MILNCE_CAPTIONS_SRT},
        {"subtitles/webvtt-py/sample.sbv", MILNCE_CAPTIONS_SBV},
        {"subtitles/youtube/demo.vtt", MILNCE_CAPTIONS_VTT},
        {"subtitles/wpt-file-parsing/regions-regionanchor.vtt", MILNCE_CAPTIONS_VTT},
        {"subtitles/wpt-file-parsing/settings-line.vtt", MILNCE_CAPTIONS_VTT},
        {"subtitles/webvtt-py/cue_tags.vtt", MILNCE_CAPTIONS_VTT},
    };
    unsigned seed = 7;
    const char *js = "{\"v1\": {\"start\": [0.5, 2], \"end\": [1, 3.5], \"text\": [\"a \\\"b\\\"\", \"c\\u00e9\"]}, "
                     "\"v2\": {\"start\": [], \"end\": [], \"text\": []}}";
    for (size_t f = 0; f <= sizeof k / sizeof k[0]; f++) {
        size_t n;
        char *d;
        milnce_caption_format fmt;
        if (f < sizeof k / sizeof k[0]) {
            d = slurp(tu_testdata(k[f].rel), &n);
            ck_assert_ptr_nonnull(d);
            fmt = k[f].fmt;
        } else {
            d = strdup(js);
            n = strlen(js);
            fmt = MILNCE_CAPTIONS_JSON;
        }
        if (n > 3000) n = 3000; /* modest sizes: the head holds every construct */
        size_t step = n / 150 + 1;
        for (size_t cut = 0; cut <= n; cut += step) fuzz_one("trunc.in", d, cut, fmt);
        char *m = malloc(n + 1);
        for (int it = 0; it < 300; it++) {
            memcpy(m, d, n);
            int flips = 1 + rand_r(&seed) % 8;
            for (int j = 0; j < flips && n; j++) {
                size_t at = (size_t)rand_r(&seed) % n;
                static const char pool[] = "\0\n\r,\":<>&-.0123456789 \xff\xc3{}[]\\";
                m[at] = (rand_r(&seed) & 1) ? (char)rand_r(&seed) : pool[rand_r(&seed) % (sizeof pool - 1)];
            }
            fuzz_one("mutated.in", m, n, fmt);
            fuzz_one("auto.in", m, n, MILNCE_CAPTIONS_AUTO);
        }
        free(m);
        free(d);
    }
    char rnd[512];
    for (int it = 0; it < 300; it++) {
        size_t n = (size_t)rand_r(&seed) % sizeof rnd;
        for (size_t i = 0; i < n; i++) rnd[i] = (char)rand_r(&seed);
        for (int fmt = MILNCE_CAPTIONS_AUTO; fmt <= MILNCE_CAPTIONS_SBV; fmt++)
            if (fmt != MILNCE_CAPTIONS_EMBEDDED) fuzz_one("random.in", rnd, n, (milnce_caption_format)fmt);
    }
}
END_TEST


/* ---- issue 15: bounded times, UTF-32 marks, SRT text with '<' ------------------------------- */

/* Every reader refuses a time beyond MILNCE_CUE_TIME_MAX (1e7 s) with an error naming the file
 * and line (strict), or skips the cue (lax); nothing that large reaches the cues. */
START_TEST(test_times_bounded) {
    static const struct { const char *text; milnce_caption_format fmt; const char *where; } k[] = {
        {"WEBVTT\n\n99999999999999999999:00:00.000 --> 99999999999999999999:00:01.000\nhuge\n\n"
         "00:01.000 --> 00:02.000\nok\n", MILNCE_CAPTIONS_VTT, "t.in:3:"},
        {"WEBVTT\n\n00:00.000 --> 10000000:00:00.000\nhuge end\n", MILNCE_CAPTIONS_VTT, "t.in:3:"},
        {"1\n9999999999:00:00,000 --> 9999999999:00:01,000\nhuge\n", MILNCE_CAPTIONS_SRT, "t.in:2:"},
        {"9999999999:00:00.000,9999999999:00:01.000\nhuge\n", MILNCE_CAPTIONS_SBV, "t.in:1:"},
        {"start,end,text\n1e30,2e30,huge\n", MILNCE_CAPTIONS_CSV, "t.in:2:"},
        {"start,end,text\n0,1e8,huge\n", MILNCE_CAPTIONS_CSV, "t.in:2:"},
        {"{\"v\": {\"start\": [3.6e23], \"end\": [3.6e23], \"text\": [\"huge\"]}}", MILNCE_CAPTIONS_JSON, "t.in"},
    };
    for (size_t i = 0; i < sizeof k / sizeof k[0]; i++) {
        milnce_cues c = {0};
        milnce_error err = {0};
        int rc = milnce_transcript_parse("t.in", k[i].text, strlen(k[i].text), k[i].fmt, NULL, &c, NULL, &err);
        ck_assert_msg(rc < 0, "case %zu: accepted (%zu cues, first at %g s)", i, c.n, c.n ? c.v[0].start : 0.0);
        ck_assert_msg(strstr(err.msg, k[i].where) != NULL, "case %zu: '%s' lacks '%s'", i, err.msg, k[i].where);
        milnce_transcript_opts lax;
        milnce_transcript_opts_default(&lax);
        lax.strict = 0;
        rc = milnce_transcript_parse("t.in", k[i].text, strlen(k[i].text), k[i].fmt, &lax, &c, NULL, &err);
        ck_assert_msg(rc == 0, "case %zu lax: %s", i, err.msg);
        for (size_t j = 0; j < c.n; j++) ck_assert(c.v[j].end <= MILNCE_CUE_TIME_MAX);
        milnce_cues_free(&c);
    }
    /* The limit itself is accepted. */
    const char *edge = "start,end,text\n9999999,10000000,edge\n";
    milnce_cues c = {0};
    ck_assert_int_eq(milnce_transcript_parse("e.csv", edge, strlen(edge), MILNCE_CAPTIONS_CSV, NULL, &c, NULL, NULL), 0);
    ck_assert_uint_eq(c.n, 1);
    milnce_error err = {0};
    ck_assert_int_eq(milnce_cues_push(&c, 0, 1e30, "x", 1, &err), MILNCE_ERR_RANGE);
    ck_assert_int_eq(milnce_cues_push(&c, NAN, 1, "x", 1, &err), MILNCE_ERR_RANGE);
    ck_assert_uint_eq(c.n, 1);
    milnce_cues_free(&c);
}
END_TEST

static size_t to_utf32(const char *u8, size_t n, unsigned char *out, int be) {
    size_t k = 0;
    unsigned char bom[4] = {0xFF, 0xFE, 0, 0};
    if (be) { bom[0] = 0; bom[1] = 0; bom[2] = 0xFE; bom[3] = 0xFF; }
    memcpy(out, bom, 4);
    k = 4;
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)u8[i];
        unsigned long cp;
        size_t L = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
        cp = L == 1 ? c : L == 2 ? c & 0x1F : L == 3 ? c & 0x0F : c & 0x07;
        for (size_t j = 1; j < L; j++) cp = (cp << 6) | ((unsigned char)u8[i + j] & 0x3F);
        i += L;
        for (int b = 0; b < 4; b++) out[k + (be ? 3 - b : b)] = (unsigned char)(cp >> (8 * b));
        k += 4;
    }
    return k;
}

/* FF FE 00 00 is UTF-32LE, not UTF-16LE followed by a NUL. */
START_TEST(test_utf32_bom) {
    size_t n;
    char *d = slurp(tu_testdata("subtitles/srt/subtitles-unicode.srt"), &n);
    ck_assert_ptr_nonnull(d);
    milnce_cues ref = {0}, c = {0};
    milnce_error err = {0};
    ck_assert_int_eq(milnce_transcript_parse("u8", d, n, MILNCE_CAPTIONS_SRT, NULL, &ref, NULL, &err), 0);
    ck_assert_uint_gt(ref.n, 0);
    unsigned char *u = malloc(4 * n + 4);
    for (int be = 0; be < 2; be++) {
        size_t m = to_utf32(d, n, u, be);
        ck_assert_msg(milnce_transcript_parse("u32.srt", u, m, MILNCE_CAPTIONS_SRT, NULL, &c, NULL, &err) == 0,
                      "%s: %s", be ? "BE" : "LE", err.msg);
        ck_assert_uint_eq(c.n, ref.n);
        for (size_t i = 0; i < c.n; i++) ck_assert_str_eq(c.v[i].text, ref.v[i].text);
    }
    free(u);
    free(d);
    milnce_cues_free(&c);
    milnce_cues_free(&ref);
}
END_TEST

/* SRT (and the other non-WebVTT formats): only known SRT/HTML tags are markup; '<' in arithmetic
 * or prose keeps its text. */
START_TEST(test_srt_lt_text) {
    static const char *k[][2] = {
        {"2<3,5>1,4<6", "2<3,5>1,4<6"},
        {"<i>it</i> is <b>bold</b> <u>u</u> <s>s</s>", "it is bold u s"},
        {"<font color=\"#ff0000\">red</font> <FONT size=2>x</FONT>", "red x"},
        {"a <3 b", "a <3 b"},
        {"x<y and y>z", "x<y and y>z"},
        {"<unknown>kept</unknown>", "<unknown>kept</unknown>"},
        {"line<br>break", "line\nbreak"},
        {"{\\an8}top", "top"},
    };
    for (size_t i = 0; i < sizeof k / sizeof k[0]; i++) {
        char srt[512];
        snprintf(srt, sizeof srt, "1\n00:00:01,000 --> 00:00:02,000\n%s\n", k[i][0]);
        milnce_cues c = {0};
        milnce_error err = {0};
        ck_assert_msg(milnce_transcript_parse("lt.srt", srt, strlen(srt), MILNCE_CAPTIONS_SRT, NULL, &c, NULL, &err) == 0,
                      "%s", err.msg);
        ck_assert_uint_eq(c.n, 1);
        ck_assert_msg(strcmp(c.v[0].text, k[i][1]) == 0, "'%s' -> '%s', want '%s'", k[i][0], c.v[0].text, k[i][1]);
        milnce_cues_free(&c);
    }
}
END_TEST

int main(int argc, char **argv) {
    tu_need_cmd(tu_python(), "reads the CSVs with Python's csv module");
    tu_need_cmd("ffmpeg", "muxes subtitle streams");
    Suite *s = suite_create("transcript");
    TCase *tc = tcase_create("readers");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_csv_real_files_match_python_csv);
    tcase_add_test(tc, test_csv_rfc4180_quoting);
    tcase_add_test(tc, test_csv_youcook2_layout);
    tcase_add_test(tc, test_overlap_dedupe_real);
    tcase_add_test(tc, test_srt_files);
    tcase_add_test(tc, test_webvtt_py_samples);
    tcase_add_test(tc, test_clean_text);
    tcase_add_test(tc, test_youtube_demo_matches_webvtt_to_json);
    tcase_add_test(tc, test_youtube_each_word_once);
    tcase_add_test(tc, test_transports_plain_text);
    tcase_add_test(tc, test_caption_json_stream);
    tcase_add_test(tc, test_embedded_matches_vtt);
    tcase_add_test(tc, test_utf16_and_bom);
    tcase_add_test(tc, test_format_names);
    tcase_add_test(tc, test_fuzz_truncated_and_random);
    tcase_add_test(tc, test_times_bounded);
    tcase_add_test(tc, test_utf32_bom);
    tcase_add_test(tc, test_srt_lt_text);
    suite_add_tcase(s, tc);
    return tu_run(s, argc, argv);
}
