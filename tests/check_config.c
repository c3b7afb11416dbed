/* Configs: defaults, YAML files, overrides, and errors that name file, line and key. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "milnce/context.h"
#include "run_model.h"
#include "testutil.h"

static const char *write_tmp(const char *name, const char *text) {
    static char path[4][4200];
    static int slot;
    char *p = path[slot++ % 4];
    snprintf(p, 4200, "%s/%s", tu_tmpdir(), name);
    FILE *f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
    return p;
}

START_TEST(test_defaults_are_valid) {
    milnce_config cfg;
    milnce_error err = {0};
    milnce_config_defaults(&cfg);
    /* Every default must itself pass the key's type and range check. */
    for (const milnce_config_key *k = milnce_config_schema(); k->name; k++) {
        char a[256];
        snprintf(a, sizeof a, "%s=%s", k->name, k->dflt);
        ck_assert_msg(milnce_config_set(&cfg, a, &err) == 0, "default of %s: %s", k->name, err.msg);
    }
    ck_assert_int_eq(milnce_config_validate(&cfg, &err), 0);
    ck_assert_int_eq(cfg.data.num_frames, 16);
    ck_assert_double_eq(cfg.data.fps, 5.0);
    ck_assert_int_eq(cfg.data.max_words, 20);
    ck_assert_int_eq(cfg.eval.max_words, 30);
    ck_assert_str_eq(cfg.data.window, "nearest");
    ck_assert_double_eq(cfg.train.lr, 1e-3);
}
END_TEST

START_TEST(test_load_and_override) {
    const char *p = write_tmp("c.yaml", "# comment\ndata:\n  num_frames: 8\n  window: symmetric\n"
                                        "train:\n  lr: 2.5e-4\n  normalize: yes\n  out_dir: \"a b/c\"\neval:\n");
    milnce_config cfg;
    milnce_error err = {0};
    milnce_config_defaults(&cfg);
    ck_assert_msg(milnce_config_load(&cfg, p, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(cfg.data.num_frames, 8);
    ck_assert_str_eq(cfg.data.window, "symmetric");
    ck_assert_double_eq(cfg.train.lr, 2.5e-4);
    ck_assert_int_eq(cfg.train.normalize, 1);
    ck_assert_str_eq(cfg.train.out_dir, "a b/c");
    ck_assert_int_eq(cfg.data.size, 224); /* untouched keys keep defaults */
    ck_assert_int_eq(milnce_config_set(&cfg, "data.num_frames=32", &err), 0);
    ck_assert_int_eq(cfg.data.num_frames, 32);
}
END_TEST

START_TEST(test_errors_name_file_line_key) {
    milnce_config cfg;
    milnce_error err = {0};
    milnce_config_defaults(&cfg);
    const char *p = write_tmp("bad.yaml", "data:\n  num_frames: 8\n  nmu_frames: 9\n");
    ck_assert_int_lt(milnce_config_load(&cfg, p, &err), 0);
    ck_assert_msg(strstr(err.msg, "bad.yaml:3") && strstr(err.msg, "data.nmu_frames"), "%s", err.msg);

    p = write_tmp("type.yaml", "train:\n\n  lr: fast\n");
    ck_assert_int_lt(milnce_config_load(&cfg, p, &err), 0);
    ck_assert_msg(strstr(err.msg, "type.yaml:3") && strstr(err.msg, "train.lr"), "%s", err.msg);

    p = write_tmp("range.yaml", "data:\n  num_frames: 0\n");
    ck_assert_int_eq(milnce_config_load(&cfg, p, &err), MILNCE_ERR_RANGE);
    ck_assert_msg(strstr(err.msg, "range.yaml:2") && strstr(err.msg, "data.num_frames"), "%s", err.msg);

    p = write_tmp("enum.yaml", "data:\n  window: widest\n");
    ck_assert_int_lt(milnce_config_load(&cfg, p, &err), 0);
    ck_assert_msg(strstr(err.msg, "nearest|symmetric"), "%s", err.msg);

    p = write_tmp("section.yaml", "trian:\n  lr: 1\n");
    ck_assert_int_lt(milnce_config_load(&cfg, p, &err), 0);
    ck_assert_msg(strstr(err.msg, "section.yaml:1") && strstr(err.msg, "trian"), "%s", err.msg);

    p = write_tmp("syntax.yaml", "data:\n  num_frames: [1, 2\n");
    ck_assert_int_lt(milnce_config_load(&cfg, p, &err), 0);
    ck_assert_msg(strstr(err.msg, "syntax.yaml:"), "%s", err.msg);

    p = write_tmp("nested.yaml", "data:\n  num_frames:\n    a: 1\n");
    ck_assert_int_lt(milnce_config_load(&cfg, p, &err), 0);
    ck_assert_msg(strstr(err.msg, "nested.yaml:3") && strstr(err.msg, "data.num_frames"), "%s", err.msg);

    ck_assert_int_lt(milnce_config_set(&cfg, "train.bogus=1", &err), 0);
    ck_assert_msg(strstr(err.msg, "train.bogus"), "%s", err.msg);
    ck_assert_int_lt(milnce_config_set(&cfg, "train.batch_size=-3", &err), 0);
    ck_assert_int_lt(milnce_config_set(&cfg, "novalue", &err), 0);
    ck_assert_int_lt(milnce_config_load(&cfg, "/nonexistent/x.yaml", &err), 0);
    ck_assert_msg(strstr(err.msg, "/nonexistent/x.yaml"), "%s", err.msg);

    /* A failed load must not have changed earlier keys of a valid prefix beyond what it read,
     * and an empty file is a valid config (all defaults). */
    milnce_config_defaults(&cfg);
    p = write_tmp("empty.yaml", "");
    ck_assert_int_eq(milnce_config_load(&cfg, p, &err), 0);
}
END_TEST

START_TEST(test_resolved_yaml_round_trips) {
    milnce_config a, b;
    milnce_error err = {0};
    milnce_config_defaults(&a);
    ck_assert_int_eq(milnce_config_set(&a, "train.out_dir=we\"ird\\path", &err), 0);
    ck_assert_int_eq(milnce_config_set(&a, "train.lr=0.1", &err), 0);
    ck_assert_int_eq(milnce_config_set(&a, "model.width=0.3333333333333333", &err), 0);
    const char *dir = tu_tmpdir();
    char path[4200];
    snprintf(path, sizeof path, "%s/resolved.yaml", dir);
    ck_assert_int_eq(milnce_config_write(&a, path, &err), 0);
    milnce_config_defaults(&b);
    ck_assert_msg(milnce_config_load(&b, path, &err) == 0, "%s", err.msg);
    ck_assert_mem_eq(&a, &b, sizeof a);
}
END_TEST


/* Property: every string value (random bytes 1..255, any length up to the limit: control
 * characters, newlines, quotes, invalid UTF-8, C1 controls, U+FEFF ...) written by
 * milnce_config_to_yaml loads back to the same bytes, in every string key at once. */
START_TEST(test_resolved_yaml_round_trips_random_strings) {
    unsigned seed = 12345;
    static const char *keys[] = {"data.shards", "data.video_list", "data.captions", "model.vocab",
                                 "model.word2vec", "train.out_dir", "eval.csv", "eval.video_root"};
    static const char *pieces[] = {"\n", "\r\n", "\t", "\"", "\\", "'", ": ", "# ", "\xff", "\xc3\xa9", "\xc2\x85",
                                   "\xc2\x80", "\xef\xbb\xbf", "\xef\xbf\xbe", "\xed\xa0\x80", "\x7f", "\x01", " ",
                                   "---", "&a", "*a", "!!binary ", "\xf0\x9f\x98\x80", "\xe2\x80\xa8", "~", "null"};
    for (int it = 0; it < 3000; it++) {
        milnce_config a, b;
        milnce_config_defaults(&a);
        for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
            char v[MILNCE_CONFIG_STR];
            size_t n = 0, want = (size_t)rand_r(&seed) % (it % 10 == 0 ? MILNCE_CONFIG_STR - 1 : 40);
            while (n < want) {
                if (rand_r(&seed) % 3 == 0) {
                    const char *pc = pieces[rand_r(&seed) % (sizeof pieces / sizeof pieces[0])];
                    size_t l = strlen(pc);
                    if (n + l > want) break;
                    memcpy(v + n, pc, l);
                    n += l;
                } else {
                    v[n++] = (char)(1 + rand_r(&seed) % 255);
                }
            }
            v[n] = '\0';
            char *base = NULL;
            const milnce_config_key *key = NULL;
            for (const milnce_config_key *q = milnce_config_schema(); q->name; q++)
                if (strcmp(q->name, keys[k]) == 0) key = q;
            ck_assert_ptr_nonnull(key);
            base = (char *)&a + key->offset;
            strcpy(base, v);
        }
        char *y = milnce_config_to_yaml(&a);
        ck_assert_ptr_nonnull(y);
        milnce_error err = {0};
        milnce_config_defaults(&b);
        ck_assert_msg(milnce_config_load_string(&b, y, "resolved.yaml", &err) == 0, "iteration %d: %s\n%s", it, err.msg, y);
        for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++)
            for (const milnce_config_key *q = milnce_config_schema(); q->name; q++)
                if (strcmp(q->name, keys[k]) == 0)
                    { const char *x = (char *)&a + q->offset, *z = (char *)&b + q->offset; size_t d = 0; while (x[d] && x[d] == z[d]) d++; ck_assert_msg(x[d] == z[d], "iteration %d key %s: byte %zu: %02x vs %02x (%02x %02x %02x) yaml: %.200s", it, q->name, d, (unsigned char)x[d], (unsigned char)z[d], d ? (unsigned char)x[d-1] : 0, (unsigned char)x[d+1], (unsigned char)x[d+2], strstr(y, q->name + 6)); }
        ck_assert_mem_eq(&a, &b, sizeof a);
        free(y);
    }
}
END_TEST

/* A byte YAML may not hold is reported on its own line, not line 1; a list at the root names
 * the file and says what a config is. */
START_TEST(test_yaml_error_lines) {
    milnce_config cfg;
    milnce_error err = {0};
    milnce_config_defaults(&cfg);
    const char *p = write_tmp("badbyte.yaml", "data:\n  num_frames: 8\n  fps: 5\n  size: 224\n  resize: 256\n  shards: \"a\xff\"\n");
    ck_assert_int_lt(milnce_config_load(&cfg, p, &err), 0);
    ck_assert_msg(strstr(err.msg, "badbyte.yaml:6:"), "%s", err.msg);
    ck_assert_int_lt(milnce_config_load_string(&cfg, "train:\n  lr: 1\n\x01\n", "mem.yaml", &err), 0);
    ck_assert_msg(strstr(err.msg, "mem.yaml:3:"), "%s", err.msg);
    p = write_tmp("list.yaml", "- data\n- train\n");
    ck_assert_int_eq(milnce_config_load(&cfg, p, &err), MILNCE_ERR_FORMAT);
    ck_assert_msg(strstr(err.msg, "list.yaml:1:") && strstr(err.msg, "mapping of sections"), "%s", err.msg);
}
END_TEST

/* Text in memory parses like the same text in a file, and errors name the given name and line. */
START_TEST(test_load_string) {
    milnce_config a, b;
    milnce_error err = {0};
    const char *text = "train:\n  lr: 0.25\n  out_dir: \"x y\"\nmodel:\n  width: 0.5\n";
    milnce_config_defaults(&a);
    ck_assert_msg(milnce_config_load_string(&a, text, "inline", &err) == 0, "%s", err.msg);
    milnce_config_defaults(&b);
    ck_assert_msg(milnce_config_load(&b, write_tmp("same.yaml", text), &err) == 0, "%s", err.msg);
    ck_assert_mem_eq(&a, &b, sizeof a);
    ck_assert(a.train.lr == 0.25 && a.model.width == 0.5 && strcmp(a.train.out_dir, "x y") == 0);
    ck_assert_int_eq(milnce_config_load_string(&a, "train:\n  lr: 0.1\n  bogus: 3\n", "stored config", &err),
                     MILNCE_ERR_NOTFOUND);
    ck_assert_msg(strstr(err.msg, "stored config:3") && strstr(err.msg, "train.bogus"), "%s", err.msg);
    ck_assert_int_lt(milnce_config_load_string(&a, "train: [1, 2\n", "broken", &err), 0);
    ck_assert_msg(strstr(err.msg, "broken:"), "%s", err.msg);
}
END_TEST

START_TEST(test_shipped_configs_load) {
    static const char *files[] = {"configs/demo.yaml", "configs/howto100m_s3dg.yaml", "configs/eval_youcook2.yaml"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        milnce_config cfg;
        milnce_error err = {0};
        milnce_config_defaults(&cfg);
        ck_assert_msg(milnce_config_load(&cfg, files[i], &err) == 0, "%s", err.msg);
        ck_assert_msg(milnce_config_validate(&cfg, &err) == 0, "%s", err.msg);
    }
}
END_TEST

/* train.precision / eval.precision: the keys take fp32|bf16|auto (default fp32: results as
 * before), and the choice on a CPU with and without AVX512_BF16 (a pure function: both CPUs are
 * tested on any machine). */
START_TEST(test_precision) {
    milnce_config cfg;
    milnce_error err = {0};
    milnce_config_defaults(&cfg);
    ck_assert_str_eq(cfg.train.precision, "fp32");
    ck_assert_str_eq(cfg.eval.precision, "fp32");
    ck_assert_int_eq(milnce_config_set(&cfg, "train.precision=bf16", &err), 0);
    ck_assert_int_eq(milnce_config_set(&cfg, "eval.precision=auto", &err), 0);
    ck_assert_int_lt(milnce_config_set(&cfg, "train.precision=fp16", &err), 0);
    ck_assert_msg(strstr(err.msg, "train.precision"), "%s", err.msg);
    int prec = -1;
    const char *note = "x";
    for (int cpu = 0; cpu < 2; cpu++) {
        ck_assert_int_eq(milnce_precision_choose("train.precision", "fp32", cpu, &prec, &note, &err), 0);
        ck_assert(prec == MILNCE_PREC_FP32 && note == NULL);
        ck_assert_int_eq(milnce_precision_choose("train.precision", "auto", cpu, &prec, &note, &err), 0);
        ck_assert_int_eq(prec, cpu ? MILNCE_PREC_BF16 : MILNCE_PREC_FP32);
        ck_assert(cpu ? note == NULL : note != NULL); /* auto without bf16 says so */
    }
    ck_assert_int_eq(milnce_precision_choose("eval.precision", "bf16", 1, &prec, &note, &err), 0);
    ck_assert_int_eq(prec, MILNCE_PREC_BF16);
    /* bf16 asked for on a CPU without it: refused, naming the key and the way out */
    ck_assert_int_eq(milnce_precision_choose("eval.precision", "bf16", 0, &prec, &note, &err),
                     MILNCE_ERR_UNSUPPORTED);
    ck_assert_msg(strstr(err.msg, "eval.precision") && strstr(err.msg, "AVX512_BF16") &&
                      strstr(err.msg, "fp32"),
                  "%s", err.msg);
    ck_assert_int_eq(milnce_precision_choose("train.precision", "half", 1, &prec, &note, &err),
                     MILNCE_ERR_INVALID);
}
END_TEST

int main(int argc, char **argv) {
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("config");
    tcase_add_test(tc, test_defaults_are_valid);
    tcase_add_test(tc, test_load_and_override);
    tcase_add_test(tc, test_errors_name_file_line_key);
    tcase_add_test(tc, test_resolved_yaml_round_trips);
    tcase_add_test(tc, test_resolved_yaml_round_trips_random_strings);
    tcase_add_test(tc, test_yaml_error_lines);
    tcase_add_test(tc, test_shipped_configs_load);
    tcase_add_test(tc, test_load_string);
    tcase_add_test(tc, test_precision);
    suite_add_tcase(s, tc);
    return tu_run(s, argc, argv);
}
