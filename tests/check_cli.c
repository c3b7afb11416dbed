/* The option tables of the subcommands (pipeline/cli/cmd_opts.h): for every command, --help lists
 * exactly the options its table accepts, every option is accepted with a valid value, the keys
 * options set exist in the config schema, and unknown options, missing values and missing
 * required arguments are usage errors (exit 2). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd_opts.h"
#include "commands.h"
#include "config.h"
#include "testutil.h"

/* A valid value for an option of each type (CUSTOM ones by name). */
static const char *sample(const milnce_opt *o, char *buf, size_t cap) {
    static const struct { const char *name, *value; } custom[] = {
        {"crop", "0.5,0.25"}, {"seed", "7"}, {"size", "64x48"}, {"format", "srt"}, {"window", "nearest:3"}, {"stop-at", "5"}};
    switch (o->type) {
    case MILNCE_OPT_INT: snprintf(buf, cap, "%.0f", o->lo); return buf;
    case MILNCE_OPT_DOUBLE: snprintf(buf, cap, "%.17g", o->lo); return buf;
    case MILNCE_OPT_CHOICE: {
        const char *bar = strchr(o->choices, '|');
        snprintf(buf, cap, "%.*s", bar ? (int)(bar - o->choices) : (int)strlen(o->choices), o->choices);
        return buf;
    }
    case MILNCE_OPT_SET: return "data.fps=5";
    case MILNCE_OPT_CUSTOM:
        for (size_t i = 0; i < sizeof custom / sizeof custom[0]; i++)
            if (strcmp(custom[i].name, o->name) == 0) return custom[i].value;
        ck_abort_msg("no sample value for custom option --%s: add one to this test", o->name);
        return NULL;
    default: return "x";
    }
}

/* argv with the command name, every required argument, then extra[0..nextra). */
static int build_argv(const milnce_cmd_spec *spec, const char **argv, char bufs[][64], const char *const *extra,
                      int nextra) {
    int argc = 0, b = 0;
    argv[argc++] = spec->name;
    for (const milnce_opt *o = spec->opts; o->name; o++) {
        if (!(o->flags & MILNCE_OPT_REQUIRED)) continue;
        if (o->type != MILNCE_OPT_ARG) {
            snprintf(bufs[b], 64, "--%s", o->name);
            argv[argc++] = bufs[b++];
        }
        argv[argc++] = sample(o, bufs[b++], 64);
    }
    for (int i = 0; i < nextra; i++) argv[argc++] = extra[i];
    argv[argc] = NULL;
    return argc;
}

static int parse(const milnce_cmd_spec *spec, int argc, const char **argv, milnce_cli *cli) {
    void *args = calloc(1, spec->args_size ? spec->args_size : 1);
    int rc = milnce_cli_parse(spec, args, argc, (char **)argv, cli);
    free(args);
    return rc;
}

START_TEST(test_help_lists_exactly_the_table) {
    size_t n;
    const milnce_command *cmds = milnce_commands(&n);
    ck_assert_uint_ge(n, 12);
    for (size_t c = 0; c < n; c++) {
        const milnce_cmd_spec *spec = cmds[c].spec;
        ck_assert_ptr_nonnull(spec);
        ck_assert_str_eq(spec->name, cmds[c].name);
        char *text = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&text, &len);
        milnce_cli_help(spec, NULL, f);
        fclose(f);
        ck_assert_msg(strncmp(text, "usage: milnce ", 14) == 0, "%s", text);
        /* every option of the table has its line */
        size_t nopts = 0;
        for (const milnce_opt *o = spec->opts; o->name; o++, nopts++) {
            char want[96];
            if (o->type == MILNCE_OPT_ARG) snprintf(want, sizeof want, "\n  %s ", o->name);
            else if (o->short_name) snprintf(want, sizeof want, "\n  -%c, --%s", o->short_name, o->name);
            else snprintf(want, sizeof want, "\n  --%s", o->name);
            ck_assert_msg(strstr(text, want), "milnce %s --help lacks '%s'", spec->name, want + 1);
        }
        /* and every option line of the help is in the table (or is --help) */
        size_t lines = 0;
        for (const char *p = strstr(text, "\noptions:\n"); p && (p = strstr(p + 1, "\n  -")); lines++) {
            const char *name = strstr(p, "--");
            ck_assert_ptr_nonnull(name);
            size_t k = strcspn(name + 2, " \n");
            if (k == 4 && strncmp(name + 2, "help", 4) == 0) continue;
            int found = 0;
            for (const milnce_opt *o = spec->opts; o->name && !found; o++)
                found = o->type != MILNCE_OPT_ARG && strlen(o->name) == k && strncmp(o->name, name + 2, k) == 0;
            ck_assert_msg(found, "milnce %s --help lists '--%.*s', which its table does not accept", spec->name,
                          (int)k, name + 2);
        }
        size_t nargs = 0;
        for (const milnce_opt *o = spec->opts; o->name; o++) nargs += o->type == MILNCE_OPT_ARG;
        ck_assert_uint_eq(lines, nopts - nargs + 1); /* + -h, --help */
        free(text);
    }
}
END_TEST

START_TEST(test_every_option_is_accepted) {
    size_t n;
    const milnce_command *cmds = milnce_commands(&n);
    for (size_t c = 0; c < n; c++) {
        const milnce_cmd_spec *spec = cmds[c].spec;
        for (const milnce_opt *o = spec->opts; o->name; o++) {
            if (o->type == MILNCE_OPT_ARG) continue;
            char flag[64], val[64], bufs[32][64];
            const char *argv[40], *extra[2] = {flag, NULL};
            snprintf(flag, sizeof flag, "--%s", o->name);
            int nextra = 1;
            if (o->type != MILNCE_OPT_FLAG) extra[nextra++] = sample(o, val, sizeof val);
            int argc = build_argv(spec, argv, bufs, extra, nextra);
            milnce_cli cli;
            int rc = parse(spec, argc, argv, &cli);
            ck_assert_msg(rc == MILNCE_CLI_RUN, "milnce %s %s %s: exit %d", spec->name, flag,
                          nextra > 1 ? extra[1] : "", rc);
            if (o->key) {
                /* the key exists and takes the option's values */
                milnce_config cfg;
                milnce_error err = {0};
                milnce_config_defaults(&cfg);
                ck_assert_msg(milnce_cli_apply_config(&cli, &cfg, &err) == 0, "%s --%s: %s", spec->name, o->name,
                              err.msg);
            }
            if (o->type == MILNCE_OPT_CONFIG) ck_assert_str_eq(cli.config, "x");
            milnce_cli_free(&cli);
            /* the --name=value form too */
            if (o->type != MILNCE_OPT_FLAG) {
                char eq[160];
                snprintf(eq, sizeof eq, "--%s=%s", o->name, extra[1]);
                const char *e1[1] = {eq};
                argc = build_argv(spec, argv, bufs, e1, 1);
                ck_assert_int_eq(parse(spec, argc, argv, &cli), MILNCE_CLI_RUN);
                milnce_cli_free(&cli);
            }
        }
    }
}
END_TEST

START_TEST(test_usage_errors) {
    size_t n;
    const milnce_command *cmds = milnce_commands(&n);
    for (size_t c = 0; c < n; c++) {
        const milnce_cmd_spec *spec = cmds[c].spec;
        char bufs[32][64];
        const char *argv[40];
        milnce_cli cli;
        const char *unknown[1] = {"--no-such-option"};
        int argc = build_argv(spec, argv, bufs, unknown, 1);
        ck_assert_int_eq(parse(spec, argc, argv, &cli), MILNCE_EXIT_USAGE);
        const char *help[1] = {"--help"};
        argc = build_argv(spec, argv, bufs, help, 1);
        ck_assert_int_eq(parse(spec, argc, argv, &cli), MILNCE_EXIT_OK);
        for (const milnce_opt *o = spec->opts; o->name; o++) {
            if (o->type == MILNCE_OPT_ARG || o->type == MILNCE_OPT_FLAG) continue;
            char flag[64];
            snprintf(flag, sizeof flag, "--%s", o->name);
            const char *last[1] = {flag}; /* the value is missing */
            argc = build_argv(spec, argv, bufs, last, 1);
            ck_assert_int_eq(parse(spec, argc, argv, &cli), MILNCE_EXIT_USAGE);
        }
        int required = 0;
        for (const milnce_opt *o = spec->opts; o->name; o++) required |= o->flags & MILNCE_OPT_REQUIRED;
        const char *bare[2] = {spec->name, NULL};
        ck_assert_int_eq(parse(spec, 1, bare, &cli), required ? MILNCE_EXIT_USAGE : MILNCE_CLI_RUN);
        if (!required) milnce_cli_free(&cli);
    }
}
END_TEST

START_TEST(test_ranges_and_key_order) {
    size_t n;
    const milnce_command *cmds = milnce_commands(&n);
    const milnce_cmd_spec *pre = NULL;
    for (size_t c = 0; c < n; c++)
        if (strcmp(cmds[c].name, "preprocess") == 0) pre = cmds[c].spec;
    ck_assert_ptr_nonnull(pre);
    milnce_cli cli;
    const char *bad[] = {"preprocess", "--out", "o", "--fps", "500", NULL};
    ck_assert_int_eq(parse(pre, 5, bad, &cli), MILNCE_EXIT_USAGE); /* data.fps is at most 120 */
    const char *notnum[] = {"preprocess", "--out", "o", "--jobs", "4x", NULL};
    ck_assert_int_eq(parse(pre, 5, notnum, &cli), MILNCE_EXIT_USAGE);
    /* an option's key beats --set whatever the order on the line */
    const char *argv[] = {"preprocess", "--fps", "10", "--out", "o", "--set", "data.fps=3", NULL};
    ck_assert_int_eq(parse(pre, 7, argv, &cli), MILNCE_CLI_RUN);
    milnce_config cfg;
    milnce_error err = {0};
    milnce_config_defaults(&cfg);
    ck_assert_int_eq(milnce_cli_apply_config(&cli, &cfg, &err), 0);
    ck_assert_double_eq(cfg.data.fps, 10);
    milnce_cli_free(&cli);
    /* after "--", a dash-led word is a positional */
    const milnce_cmd_spec *probe = NULL;
    for (size_t c = 0; c < n; c++)
        if (strcmp(cmds[c].name, "probe") == 0) probe = cmds[c].spec;
    const char *dash[] = {"probe", "--", "-odd-name.mp4", NULL};
    struct { const char *path; } pa = {0};
    ck_assert_int_eq(milnce_cli_parse(probe, &pa, 3, (char **)dash, &cli), MILNCE_CLI_RUN);
    ck_assert_str_eq(pa.path, "-odd-name.mp4");
    milnce_cli_free(&cli);
}
END_TEST

int main(int argc, char **argv) {
    Suite *s = suite_create("cli");
    TCase *tc = tcase_create("tables");
    tcase_add_test(tc, test_help_lists_exactly_the_table);
    tcase_add_test(tc, test_every_option_is_accepted);
    tcase_add_test(tc, test_usage_errors);
    tcase_add_test(tc, test_ranges_and_key_order);
    suite_add_tcase(s, tc);
    return tu_run(s, argc, argv);
}
