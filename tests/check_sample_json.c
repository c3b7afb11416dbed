/* io/sample_json: the loader's one-pass reader of a sample's .json member, against jansson (the
 * library that writes these documents and that read them before) on documents built from every
 * real HowTo100M caption file of the test data, and on malformed documents. */
#include <dirent.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "sample_json.h"
#include "testutil.h"
#include "transcript.h"

/* A sample document as preprocess writes it (same members, same float precision), with made-up
 * token ids derived from the text; flags = jansson dump flags. */
static char *make_doc(const milnce_cues *c, const char *id, size_t flags) {
    json_t *root = json_pack("{s:s, s:s, s:f, s:f, s:i, s:i, s:i, s:s}", "id", id, "source", "/videos/x \"q\".mp4",
                             "duration", c->n ? c->v[c->n - 1].end + 0.25 : 0.0, "fps", 5.0, "width", 456, "height",
                             256, "frames", 1234, "source_codec", "h264");
    json_t *sents = json_array();
    for (size_t i = 0; i < c->n; i++) {
        json_t *tok = json_array();
        unsigned h = 2166136261u;
        for (const char *p = c->v[i].text; *p; p++) {
            h = (h ^ (unsigned char)*p) * 16777619u;
            if (*p == ' ') json_array_append_new(tok, json_integer(1 + h % 50000));
        }
        json_array_append_new(sents, json_pack("{s:f, s:f, s:s, s:o}", "start", c->v[i].start, "end", c->v[i].end,
                                               "text", c->v[i].text, "tokens", tok));
    }
    json_object_set_new(root, "sentences", sents);
    char *txt = json_dumps(root, flags | JSON_REAL_PRECISION(10));
    json_decref(root);
    return txt;
}

/* What the loader read before: jansson's tree. */
static void check_against_jansson(const char *txt, const char *what) {
    json_error_t je;
    json_t *root = json_loads(txt, 0, &je);
    ck_assert_msg(root, "%s: %s", what, je.text);
    milnce_sample_sentences s;
    milnce_error err = {0};
    ck_assert_msg(milnce_sample_sentences_parse((const uint8_t *)txt, strlen(txt), what, &s, &err) == 0, "%s", err.msg);
    json_t *arr = json_object_get(root, "sentences");
    ck_assert_uint_eq(s.n, json_array_size(arr));
    ck_assert(s.duration == json_number_value(json_object_get(root, "duration")));
    for (size_t i = 0; i < s.n; i++) {
        json_t *e = json_array_get(arr, i), *t = json_object_get(e, "tokens");
        ck_assert_msg(s.start[i] == json_number_value(json_object_get(e, "start")), "%s: start %zu", what, i);
        ck_assert(s.end[i] == json_number_value(json_object_get(e, "end")));
        ck_assert_int_eq(s.ntok[i], (int)json_array_size(t));
        for (size_t k = 0; k < json_array_size(t); k++)
            ck_assert_int_eq(s.tok[i][k], (int32_t)json_integer_value(json_array_get(t, k)));
    }
    milnce_sample_sentences_free(&s);
    json_decref(root);
}

START_TEST(test_real_captions_match_jansson) {
    const char *dir = tu_testdata("howto100m/captions");
    DIR *d = opendir(dir);
    ck_assert_msg(d, "%s", dir);
    struct dirent *de;
    int files = 0;
    milnce_cues cues = {0};
    while ((de = readdir(d))) {
        size_t n = strlen(de->d_name);
        if (n < 5 || strcmp(de->d_name + n - 4, ".csv") != 0) continue;
        char path[4200];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        milnce_error err = {0};
        ck_assert_msg(milnce_transcript_read(path, MILNCE_CAPTIONS_AUTO, NULL, &cues, NULL, &err) == 0, "%s", err.msg);
        if (cues.n == 0) continue;
        for (int f = 0; f < 2; f++) { /* compact as preprocess writes, and indented */
            char *txt = make_doc(&cues, de->d_name, f ? JSON_INDENT(2) : JSON_COMPACT);
            check_against_jansson(txt, de->d_name);
            free(txt);
        }
        files++;
    }
    closedir(d);
    milnce_cues_free(&cues);
    ck_assert_int_eq(files, 40);
}
END_TEST

START_TEST(test_other_members_and_layouts) {
    /* Unknown members of any type before and after, nested containers, escapes, keys that only
     * look like the wanted ones, members in another order, a sentence without tokens. */
    const char *txt =
        " {\"x\": {\"sentences\": [1, 2], \"duration\": \"no\"}, \"list\": [[{\"start\": 9}], null, true],\n"
        "  \"sentences\": [ {\"tokens\": [5, 6, 7], \"text\": \"say \\\"hi\\\" \\u00e9\\n\", \"end\": 2.5e0,"
        "  \"starts\": 99, \"start\": 1, \"extra\": {\"tokens\": [1]}},\n"
        "  {\"start\": 3.25, \"end\": 4, \"tokens\": []} ], \"duration\": 12.5, \"tail\": false }";
    milnce_sample_sentences s;
    milnce_error err = {0};
    ck_assert_msg(milnce_sample_sentences_parse((const uint8_t *)txt, strlen(txt), "a.json", &s, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(s.n, 2);
    ck_assert(s.duration == 12.5);
    ck_assert(s.start[0] == 1 && s.end[0] == 2.5 && s.start[1] == 3.25 && s.end[1] == 4);
    ck_assert_int_eq(s.ntok[0], 3);
    ck_assert_int_eq(s.ntok[1], 0);
    ck_assert(s.tok[0][0] == 5 && s.tok[0][1] == 6 && s.tok[0][2] == 7);
    milnce_sample_sentences_free(&s);
    check_against_jansson(txt, "a.json");
}
END_TEST

START_TEST(test_malformed_documents) {
    static const struct { const char *txt, *want; } bad[] = {
        {"", "b.json"},
        {"{\"sentences\": [{\"start\": 1, \"end\": 2, \"tokens\": [1]}", "b.json"}, /* truncated */
        {"{\"sentences\": []}", "no sentences"},
        {"{\"duration\": 3}", "no sentences"},
        {"[1, 2]", "not a JSON object"},
        {"{\"sentences\": {\"start\": 1}}", "not an array"},
        {"{\"sentences\": 5}", "not an array"},
        {"7", "not a JSON object"},
        {"{\"sentences\": [{\"start\": 0, \"end\": 1, \"tokens\": \"1 2\"}]}", "\"tokens\" is not an array"},
        {"{\"sentences\": [3]}", "non-object"},
        {"{\"sentences\": [{\"end\": 2, \"tokens\": [1]}]}", "lacks \"start\""},
        {"{\"sentences\": [{\"start\": 0, \"tokens\": [1]}]}", "lacks \"end\""},
        {"{\"sentences\": [{\"start\": 0, \"end\": 1}]}", "lacks \"tokens\""},
        {"{\"sentences\": [{\"start\": \"0\", \"end\": 1, \"tokens\": []}]}", "not a number"},
        {"{\"sentences\": [{\"start\": 0, \"end\": 1, \"tokens\": [1.5]}]}", "not an integer"},
        {"{\"sentences\": [{\"start\": 0, \"end\": 1, \"tokens\": [-2]}]}", "not an integer"},
        {"{\"sentences\": [{\"start\": 0, \"end\": 1, \"tokens\": [\"w\"]}]}", "not an integer"},
        {"{\"duration\": [1], \"sentences\": [{\"start\": 0, \"end\": 1, \"tokens\": []}]}", "\"duration\""},
        {"{\"sentences\": [{\"start\": 0, \"end\": 1, \"tokens\": []}]} x", "b.json"}, /* trailing bytes */
        /* times beyond MILNCE_CUE_TIME_MAX (1e7 s), NaN-producing or negative */
        {"{\"sentences\": [{\"start\": 3.6e23, \"end\": 3.6e23, \"tokens\": [1]}]}", "outside 0 to 1e7 s"},
        {"{\"sentences\": [{\"start\": 0, \"end\": 1e999, \"tokens\": [1]}]}", "outside 0 to 1e7 s"},
        {"{\"sentences\": [{\"start\": -1, \"end\": 1, \"tokens\": [1]}]}", "outside 0 to 1e7 s"},
        {"{\"duration\": 1e300, \"sentences\": [{\"start\": 0, \"end\": 1, \"tokens\": []}]}", "\"duration\" outside"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        milnce_sample_sentences s;
        milnce_error err = {0};
        int ret = milnce_sample_sentences_parse((const uint8_t *)bad[i].txt, strlen(bad[i].txt), "b.json", &s, &err);
        ck_assert_msg(ret == MILNCE_ERR_FORMAT, "case %zu: %d %s", i, ret, err.msg);
        ck_assert_msg(strstr(err.msg, "b.json") && strstr(err.msg, bad[i].want), "case %zu: %s", i, err.msg);
        ck_assert(s.n == 0 && !s.start && !s.tokens);
    }
}
END_TEST

int main(int argc, char **argv) {
    Suite *s = suite_create("sample_json");
    TCase *tc = tcase_create("parse");
    tcase_add_test(tc, test_real_captions_match_jansson);
    tcase_add_test(tc, test_other_members_and_layouts);
    tcase_add_test(tc, test_malformed_documents);
    suite_add_tcase(s, tc);
    return tu_run(s, argc, argv);
}
