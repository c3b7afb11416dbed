/* WebVTT file parsing against every W3C web-platform-tests case: each .vtt in
 * testdata/subtitles/wpt-file-parsing has a .js of testharness asserts over `cues`. The parser's
 * cues (all attributes, regions shared by identity) are written as JSON and node runs the .js
 * against them unchanged. The cue-text cases (wpt-cue-parsing, .json of text and expected DOM
 * tree) check the text the cue-text tokenizer leaves. */
#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "caption_clean.h"
#include "testutil.h"
#include "transcript.h"

static const char *k_harness =
    "const fs = require('fs');\n"
    "const d = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));\n"
    "const __regions = d.regions;\n"
    "const cues = d.cues.map(c => { c.region = c.region === null ? null : __regions[c.region]; return c; });\n"
    "function same(a, b) { return (typeof a === 'number' && typeof b === 'number') ?\n"
    "  (a === b ? (a !== 0 || 1 / a === 1 / b) : (a !== a && b !== b)) : a === b; }\n"
    "function assert_equals(a, b, m) { if (!same(a, b)) throw new Error('assert_equals: got ' +\n"
    "  JSON.stringify(a) + ' expected ' + JSON.stringify(b) + ' ' + (m || '')); }\n"
    "function assert_not_equals(a, b, m) { if (same(a, b)) throw new Error('assert_not_equals ' + (m || '')); }\n"
    "function assert_true(a, m) { if (a !== true) throw new Error('assert_true ' + (m || '')); }\n"
    "function assert_false(a, m) { if (a !== false) throw new Error('assert_false ' + (m || '')); }\n"
    "try { eval(fs.readFileSync(process.argv[3], 'utf8')); } catch (e) { console.log(e.message); process.exit(1); }\n";

static void json_str(FILE *f, const char *s) {
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') fprintf(f, "\\%c", *p);
        else if (*p < 0x20) fprintf(f, "\\u%04x", *p);
        else fputc(*p, f);
    }
    fputc('"', f);
}

static void json_num(FILE *f, double v) {
    if (v == 0 && 1 / v < 0) fprintf(f, "-0");
    else fprintf(f, "%.17g", v);
}

static void write_json(FILE *f, const milnce_vtt *v) {
    static const char *align[] = {"start", "center", "end", "left", "right"};
    static const char *lalign[] = {"start", "center", "end"};
    static const char *palign[] = {"auto", "line-left", "center", "line-right"};
    static const char *vert[] = {"", "rl", "lr"};
    fprintf(f, "{\"regions\": [");
    for (size_t i = 0; i < v->nregions; i++) {
        const milnce_vtt_region *r = &v->regions[i];
        fprintf(f, "%s{\"id\": ", i ? ", " : "");
        json_str(f, r->id);
        fprintf(f, ", \"width\": "); json_num(f, r->width);
        fprintf(f, ", \"lines\": "); json_num(f, r->lines);
        fprintf(f, ", \"regionAnchorX\": "); json_num(f, r->anchor_x);
        fprintf(f, ", \"regionAnchorY\": "); json_num(f, r->anchor_y);
        fprintf(f, ", \"viewportAnchorX\": "); json_num(f, r->viewport_x);
        fprintf(f, ", \"viewportAnchorY\": "); json_num(f, r->viewport_y);
        fprintf(f, ", \"scroll\": \"%s\"}", r->scroll_up ? "up" : "");
    }
    fprintf(f, "], \"cues\": [");
    for (size_t i = 0; i < v->n; i++) {
        const milnce_vtt_cue *c = &v->cues[i];
        fprintf(f, "%s{\"id\": ", i ? ", " : "");
        json_str(f, c->id);
        fprintf(f, ", \"text\": "); json_str(f, c->text);
        fprintf(f, ", \"startTime\": "); json_num(f, c->start);
        fprintf(f, ", \"endTime\": "); json_num(f, c->end);
        fprintf(f, ", \"region\": ");
        if (c->region < 0) fprintf(f, "null"); else fprintf(f, "%d", c->region);
        fprintf(f, ", \"vertical\": \"%s\"", vert[c->vertical]);
        fprintf(f, ", \"snapToLines\": %s", c->snap_to_lines ? "true" : "false");
        fprintf(f, ", \"line\": ");
        if (c->line_auto) fprintf(f, "\"auto\""); else json_num(f, c->line);
        fprintf(f, ", \"lineAlign\": \"%s\"", lalign[c->line_align]);
        fprintf(f, ", \"position\": ");
        if (c->position_auto) fprintf(f, "\"auto\""); else json_num(f, c->position);
        fprintf(f, ", \"positionAlign\": \"%s\"", palign[c->position_align]);
        fprintf(f, ", \"size\": "); json_num(f, c->size);
        fprintf(f, ", \"align\": \"%s\"}", align[c->align]);
    }
    fprintf(f, "]}\n");
}

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

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

START_TEST(test_wpt_file_parsing_all) {
    ck_assert_msg(system("node --version >/dev/null 2>&1") == 0, "node is needed to run the W3C .js expectations");
    const char *dir = tu_testdata("subtitles/wpt-file-parsing");
    char dirbuf[4096];
    snprintf(dirbuf, sizeof dirbuf, "%s", dir);
    const char *tmp = tu_tmpdir();
    char harness[4200];
    snprintf(harness, sizeof harness, "%s/harness.js", tmp);
    FILE *h = fopen(harness, "w");
    ck_assert_ptr_nonnull(h);
    fputs(k_harness, h);
    fclose(h);
    DIR *d = opendir(dirbuf);
    ck_assert_msg(d != NULL, "no folder %s", dirbuf);
    char *names[256];
    size_t nn = 0;
    struct dirent *de;
    while ((de = readdir(d)) && nn < 256) {
        size_t L = strlen(de->d_name);
        if (L > 4 && strcmp(de->d_name + L - 4, ".vtt") == 0) names[nn++] = strdup(de->d_name);
    }
    closedir(d);
    qsort(names, nn, sizeof names[0], cmp_str);
    ck_assert_int_ge(nn, 37); /* the 37 cases of w3c/webvtt.js test/ */
    char failures[8192] = "";
    int nfail = 0;
    for (size_t i = 0; i < nn; i++) {
        char vtt[4400], js[4400], json[4400], cmd[13000];
        snprintf(vtt, sizeof vtt, "%s/%s", dirbuf, names[i]);
        snprintf(js, sizeof js, "%.*s.js", (int)(strlen(vtt) - 4), vtt);
        snprintf(json, sizeof json, "%s/%s.json", tmp, names[i]);
        size_t n;
        char *text = slurp(vtt, &n);
        ck_assert_ptr_nonnull(text);
        milnce_vtt v;
        milnce_error err = {0};
        int rc = milnce_vtt_parse(vtt, text, n, &v, &err);
        free(text);
        ck_assert_msg(rc == 0, "%s: %s", names[i], err.msg);
        FILE *f = fopen(json, "w");
        write_json(f, &v);
        fclose(f);
        milnce_vtt_free(&v);
        ck_assert_int_lt(snprintf(cmd, sizeof cmd, "node '%s' '%s' '%s' 2>&1", harness, json, js), (int)sizeof cmd);
        FILE *p = popen(cmd, "r");
        char msg[600] = "";
        size_t got = fread(msg, 1, sizeof msg - 1, p);
        msg[got] = '\0';
        int st = pclose(p);
        if (st != 0) {
            nfail++;
            size_t L = strlen(failures);
            snprintf(failures + L, sizeof failures - L, "\n  %s: %.200s", names[i], msg);
        }
        free(names[i]);
    }
    ck_assert_msg(nfail == 0, "%d of %zu W3C cases fail:%s", nfail, nn, failures);
}
END_TEST

/* Errors and edge cases of the signature. */
START_TEST(test_signature) {
    milnce_vtt v;
    milnce_error err = {0};
    ck_assert_int_eq(milnce_vtt_parse("x.vtt", "WEBVTTX\n", 8, &v, &err), MILNCE_ERR_FORMAT);
    ck_assert_msg(strstr(err.msg, "x.vtt:1:") != NULL, "%s", err.msg);
    ck_assert_int_eq(milnce_vtt_parse("x.vtt", "", 0, &v, &err), MILNCE_ERR_FORMAT);
    ck_assert_int_eq(milnce_vtt_parse("x.vtt", "WEBVTT", 6, &v, &err), 0);
    ck_assert_int_eq((int)v.n, 0);
    milnce_vtt_free(&v);
    const char *t = "WEBVTT\r\n\r\n00:01.000 --> 00:02.000\r\nhi\r\n";
    ck_assert_int_eq(milnce_vtt_parse("x.vtt", t, strlen(t), &v, &err), 0);
    ck_assert_int_eq((int)v.n, 1);
    ck_assert_str_eq(v.cues[0].text, "hi");
    ck_assert_double_eq(v.cues[0].start, 1.0);
    milnce_vtt_free(&v);
}
END_TEST


/* The text nodes of a WPT expected tree ("| <span>\n|   \"x\"\n"), concatenated. */
static char *tree_text(const char *tree) {
    size_t n = strlen(tree), k = 0;
    char *o = malloc(n + 1);
    for (size_t i = 0; i < n;) {
        /* A line: "|" then indentation, then a node. */
        size_t e = i;
        while (e < n && tree[e] != '\n') e++;
        size_t j = i + 1;
        while (j < e && tree[j] == ' ') j++;
        if (tree[i] == '|' && j < e && tree[j] == '"') {
            /* A text node runs to the '"' that ends a line followed by the next "|" or the end. */
            size_t b = j + 1, q = b;
            for (;;) {
                const char *x = strstr(tree + q, "\"\n");
                ck_assert_ptr_nonnull(x);
                size_t at = (size_t)(x - tree);
                if (at + 2 >= n || tree[at + 2] == '|') { q = at; break; }
                q = at + 1;
            }
            memcpy(o + k, tree + b, q - b);
            k += q - b;
            i = q + 2;
            continue;
        }
        i = e + 1;
    }
    o[k] = '\0';
    return o;
}

/* What the cleaning does to text besides markup: NBSP -> space, U+200E/U+200F dropped, blanks
 * collapsed, lines trimmed, empty lines dropped. */
static char *normalise_text(const char *s) {
    size_t n = strlen(s), k = 0;
    char *t = malloc(n + 1), *o = malloc(n + 2);
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        if (c == 0xC2 && (unsigned char)s[i + 1] == 0xA0) { t[k++] = ' '; i += 2; continue; }
        if (c == 0xE2 && (unsigned char)s[i + 1] == 0x80 && ((unsigned char)s[i + 2] == 0x8E || (unsigned char)s[i + 2] == 0x8F)) { i += 3; continue; }
        t[k++] = (c == '\t' || c == '\f' || c == '\r') ? ' ' : (char)c;
        i++;
    }
    t[k] = '\0';
    size_t m = 0;
    for (char *line = t; line;) {
        char *nl = strchr(line, '\n');
        if (nl) *nl = '\0';
        size_t l0 = m;
        int space = 0;
        for (char *p = line; *p; p++) {
            if (*p == ' ') { space = m > l0; continue; }
            if (space) { o[m++] = ' '; space = 0; }
            o[m++] = *p;
        }
        if (m > l0) o[m++] = '\n';
        line = nl ? nl + 1 : NULL;
    }
    while (m && o[m - 1] == '\n') m--;
    o[m] = '\0';
    free(t);
    return o;
}

/* Named character references the caption cleaner does not decode (HTML has 2231; captions use a
 * handful, src/text/caption_clean.c lists them): these cases keep the reference as written. */
static const char *const k_entity_not_decoded[] = {
    "&amp\n", "&AMP;\n", "&copy;\n", "&ClockwiseContourIntegral;\n", "&nsubE;\n", "&notin;\n",
    "&not;\n", "&not\n", "&notit;\n",
};

START_TEST(test_wpt_cue_text) {
    static const char *files[] = {"tags", "text", "timestamps", "tree-building", "entities"};
    int checked = 0, skipped = 0;
    for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
        char rel[128];
        snprintf(rel, sizeof rel, "subtitles/wpt-cue-parsing/%s.json", files[f]);
        json_error_t je;
        json_t *arr = json_load_file(tu_testdata(rel), JSON_ALLOW_NUL, &je);
        ck_assert_msg(arr != NULL, "%s: %s", rel, je.text);
        for (size_t i = 0; i < json_array_size(arr); i++) {
            json_t *c = json_array_get(arr, i);
            const char *in = json_string_value(json_object_get(c, "text"));
            const char *tree = json_string_value(json_object_get(c, "expectedTree"));
            int skip = 0;
            for (size_t k = 0; k < sizeof k_entity_not_decoded / sizeof k_entity_not_decoded[0]; k++)
                skip |= strcmp(in, k_entity_not_decoded[k]) == 0;
            if (skip) { skipped++; continue; }
            /* buildtests.py appended the .dat line's newline; the cue text is without it. NUL
             * becomes U+FFFD in the file parser, before the cue text is read. */
            size_t len = json_string_length(json_object_get(c, "text")), n = 0;
            char *buf = malloc(3 * len + 1);
            for (size_t k = 0; k < len; k++) {
                if (in[k]) { buf[n++] = in[k]; continue; }
                memcpy(buf + n, "\xEF\xBF\xBD", 3);
                n += 3;
            }
            if (n && buf[n - 1] == '\n') n--;
            buf[n] = '\0';
            /* A blank line ends the cue in a file: the cue text stops there. */
            char *blank = strstr(buf, "\n\n");
            if (blank) { *blank = '\0'; n = (size_t)(blank - buf); }
            in = buf;
            char *got, *want_raw = tree_text(tree), *want = normalise_text(want_raw);
            ck_assert_int_eq(milnce_caption_clean_markup(in, n, MILNCE_MARKUP_WEBVTT, &got, NULL), 0);
            ck_assert_msg(strcmp(got, want) == 0, "%s case %zu '%s': got '%s', want '%s'", files[f], i, in, got, want);
            free(got);
            free(want);
            free(want_raw);
            free(buf);
            checked++;
        }
        json_decref(arr);
    }
    ck_assert_int_eq(checked + skipped, 77);
    ck_assert_int_eq(skipped, 9);
}
END_TEST

/* The cases, through the whole reader. */
START_TEST(test_cue_text_lt) {
    static const char *k[][2] = {
        {"<v It's a blue apple tree!", ""},
        {"This is </c awesome!", "This is"},
        {"< 00:01.000>word", "word"},
        {"<v Bob>Hello</v> &lt;3", "Hello <3"},
        {"<c.yellow.bg_blue>x</c> a < b", "x a"},
    };
    for (size_t i = 0; i < sizeof k / sizeof k[0]; i++) {
        char vtt[256];
        snprintf(vtt, sizeof vtt, "WEBVTT\n\n00:01.000 --> 00:02.000\n%s\n", k[i][0]);
        milnce_transcript_opts o;
        milnce_transcript_opts_default(&o);
        o.keep_empty = 1;
        milnce_cues c = {0};
        milnce_error err = {0};
        ck_assert_msg(milnce_transcript_parse("lt.vtt", vtt, strlen(vtt), MILNCE_CAPTIONS_AUTO, &o, &c, NULL, &err) == 0, "%s", err.msg);
        ck_assert_uint_eq(c.n, 1);
        ck_assert_msg(strcmp(c.v[0].text, k[i][1]) == 0, "'%s' -> '%s', want '%s'", k[i][0], c.v[0].text, k[i][1]);
        milnce_cues_free(&c);
    }
}
END_TEST

int main(int argc, char **argv) {
    tu_need_cmd("node", "runs the W3C .js expectations; Debian package nodejs");
    Suite *s = suite_create("webvtt");
    TCase *tc = tcase_create("wpt");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_wpt_file_parsing_all);
    tcase_add_test(tc, test_signature);
    tcase_add_test(tc, test_wpt_cue_text);
    tcase_add_test(tc, test_cue_text_lt);
    suite_add_tcase(s, tc);
    return tu_run(s, argc, argv);
}
