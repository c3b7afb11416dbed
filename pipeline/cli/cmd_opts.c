/* Option tables of the subcommands: parsing, --help and --set integration (see cmd_opts.h). */
#include "cmd_opts.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"

static void *field(void *args, const milnce_opt *o) { return (char *)args + o->off; }
static const void *cfield(const void *args, const milnce_opt *o) { return (const char *)args + o->off; }

static int takes_value(const milnce_opt *o) { return o->type != MILNCE_OPT_FLAG && o->type != MILNCE_OPT_ARG; }

/* The one integer and number parsers of the command line: the whole text, in [lo, hi]. */
static int parse_int(const char *s, double lo, double hi, int *out) {
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || (double)v < lo || (double)v > hi) return -1;
    *out = (int)v;
    return 0;
}

static int parse_double(const char *s, double lo, double hi, double *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v) || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

/* Index of s in "a|b|c", or -1. */
static int choice_index(const char *choices, const char *s) {
    size_t n = strlen(s);
    int i = 0;
    for (const char *c = choices; c; i++) {
        const char *bar = strchr(c, '|');
        size_t len = bar ? (size_t)(bar - c) : strlen(c);
        if (len == n && strncmp(c, s, n) == 0) return i;
        c = bar ? bar + 1 : NULL;
    }
    return -1;
}

/* "--fps" / "-v" / "FILE", for messages. */
static const char *shown(const milnce_opt *o, char *buf, size_t cap) {
    if (o->type == MILNCE_OPT_ARG) snprintf(buf, cap, "%s", o->name);
    else snprintf(buf, cap, "--%s", o->name);
    return buf;
}

static int usage_error(const milnce_cmd_spec *spec, const char *fmt, const char *a, const char *b) {
    fprintf(stderr, "milnce %s: ", spec->name);
    fprintf(stderr, fmt, a, b);
    fprintf(stderr, " (see 'milnce %s --help')\n", spec->name);
    return MILNCE_EXIT_USAGE;
}

static int push_set(milnce_cli *cli, const char *set, int owned, int cap) {
    if (cli->nsets >= cap) return -1;
    cli->sets[cli->nsets++] = set;
    if (owned) cli->owned[cli->nowned++] = (char *)set;
    return 0;
}

/* Stores text as the value of o; 0, or a usage error printed (exit code). */
static int store(const milnce_cmd_spec *spec, const milnce_opt *o, const char *text, void *args) {
    char name[64];
    void *f = o->flags & MILNCE_OPT_NOFIELD ? NULL : field(args, o);
    switch (o->type) {
    case MILNCE_OPT_FLAG: if (f) *(int *)f = 1; return 0;
    case MILNCE_OPT_STRING:
    case MILNCE_OPT_ARG: if (f) *(const char **)f = text; return 0;
    case MILNCE_OPT_INT: {
        int v;
        if (parse_int(text, o->lo, o->hi, &v) < 0) {
            char range[96];
            snprintf(range, sizeof range, "'%s': want an integer in [%.0f, %.0f]", text, o->lo, o->hi);
            return usage_error(spec, "bad value for %s %s", shown(o, name, sizeof name), range);
        }
        if (f) *(int *)f = v;
        return 0;
    }
    case MILNCE_OPT_DOUBLE: {
        double v;
        if (parse_double(text, o->lo, o->hi, &v) < 0) {
            char range[96];
            snprintf(range, sizeof range, "'%s': want a number in [%g, %g]", text, o->lo, o->hi);
            return usage_error(spec, "bad value for %s %s", shown(o, name, sizeof name), range);
        }
        if (f) *(double *)f = v;
        return 0;
    }
    case MILNCE_OPT_CHOICE: {
        int i = choice_index(o->choices, text);
        if (i < 0) {
            char want[160];
            snprintf(want, sizeof want, "'%s': one of %s", text, o->choices);
            return usage_error(spec, "bad value for %s %s", shown(o, name, sizeof name), want);
        }
        if (f) *(int *)f = i;
        return 0;
    }
    case MILNCE_OPT_CUSTOM: {
        milnce_error err = {0};
        if (o->parse(text, f, &err) < 0)
            return usage_error(spec, "%s: %s", shown(o, name, sizeof name), err.msg[0] ? err.msg : text);
        return 0;
    }
    case MILNCE_OPT_CONFIG:
    case MILNCE_OPT_SET: return 0; /* kept in cli by the caller */
    }
    return 0;
}

static const milnce_opt *find_long(const milnce_opt *opts, const char *name, size_t n) {
    for (const milnce_opt *o = opts; o->name; o++)
        if (o->type != MILNCE_OPT_ARG && strlen(o->name) == n && strncmp(o->name, name, n) == 0) return o;
    return NULL;
}

static const milnce_opt *find_short(const milnce_opt *opts, char c) {
    for (const milnce_opt *o = opts; o->name; o++)
        if (o->short_name && o->short_name == c) return o;
    return NULL;
}

static int wants_help(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) break;
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) return 1;
    }
    return 0;
}

/* Parses argv after help is ruled out; 0 or an exit code. */
static int parse_args(const milnce_cmd_spec *spec, void *args, int argc, char **argv, milnce_cli *cli,
                      const char **seen, int cap) {
    const milnce_opt *opts = spec->opts;
    int only_args = 0;
    char name[64];
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const milnce_opt *o = NULL;
        const char *val = NULL;
        if (!only_args && strcmp(a, "--") == 0) {
            only_args = 1;
            continue;
        }
        if (!only_args && a[0] == '-' && a[1]) {
            if (a[1] == '-') {
                const char *eq = strchr(a + 2, '=');
                o = find_long(opts, a + 2, eq ? (size_t)(eq - a - 2) : strlen(a + 2));
                if (o && eq) {
                    if (!takes_value(o)) return usage_error(spec, "option --%s takes no value%s", o->name, "");
                    val = eq + 1;
                }
            } else if (!a[2]) o = find_short(opts, a[1]);
            if (!o) return usage_error(spec, "unknown option '%s'%s", a, "");
            if (takes_value(o) && !val) {
                if (i + 1 >= argc)
                    return usage_error(spec, "option %s needs a value (%s)", a, o->meta ? o->meta : "VALUE");
                val = argv[++i];
            }
        } else {
            for (const milnce_opt *p = opts; p->name; p++)
                if (p->type == MILNCE_OPT_ARG && !seen[p - opts]) {
                    o = p;
                    break;
                }
            if (!o) return usage_error(spec, "unexpected argument '%s'%s", a, "");
            val = a;
        }
        seen[o - opts] = val ? val : "true"; /* a FLAG's text for its config key */
        if (o->type == MILNCE_OPT_CONFIG) cli->config = val;
        else if (o->type == MILNCE_OPT_SET && push_set(cli, val, 0, cap) < 0)
            return usage_error(spec, "too many --set%s%s", "", "");
        int rc = store(spec, o, val, args);
        if (rc) return rc;
    }
    /* Options that set a config key: after every --set, in table order, with their last text. */
    for (const milnce_opt *o = opts; o->name; o++) {
        const char *v = seen[o - opts];
        if (!o->key || !v) continue;
        size_t len = strlen(o->key) + strlen(v) + 2;
        char *s = malloc(len);
        if (!s) return MILNCE_EXIT_ERROR;
        snprintf(s, len, "%s=%s", o->key, v);
        if (push_set(cli, s, 1, cap) < 0) {
            free(s);
            return MILNCE_EXIT_ERROR;
        }
    }
    for (const milnce_opt *o = opts; o->name; o++)
        if ((o->flags & MILNCE_OPT_REQUIRED) && !seen[o - opts]) {
            if (o->type == MILNCE_OPT_ARG) return usage_error(spec, "missing %s%s", o->name, "");
            return usage_error(spec, "missing %s %s", shown(o, name, sizeof name), o->meta ? o->meta : "");
        }
    return 0;
}

int milnce_cli_parse(const milnce_cmd_spec *spec, void *args, int argc, char **argv, milnce_cli *cli) {
    memset(cli, 0, sizeof *cli);
    if (wants_help(argc, argv)) {
        milnce_cli_help(spec, args, stdout);
        return MILNCE_EXIT_OK;
    }
    size_t nopts = 0;
    while (spec->opts[nopts].name) nopts++;
    int cap = argc + (int)nopts + 1;
    const char **seen = calloc(nopts + 1, sizeof *seen); /* text of each option given, by index */
    cli->sets = calloc((size_t)cap, sizeof *cli->sets);
    cli->owned = calloc(nopts + 1, sizeof *cli->owned);
    if (!seen || !cli->sets || !cli->owned) {
        free((void *)seen);
        milnce_cli_free(cli);
        fprintf(stderr, "milnce %s: out of memory\n", spec->name);
        return MILNCE_EXIT_ERROR;
    }
    int rc = parse_args(spec, args, argc, argv, cli, seen, cap);
    free((void *)seen);
    if (rc) {
        milnce_cli_free(cli);
        return rc;
    }
    return MILNCE_CLI_RUN;
}

void milnce_cli_free(milnce_cli *cli) {
    for (int i = 0; i < cli->nowned; i++) free(cli->owned[i]);
    free(cli->owned);
    free((void *)cli->sets);
    memset(cli, 0, sizeof *cli);
}

int milnce_cli_apply_config(const milnce_cli *cli, milnce_config *cfg, milnce_error *err) {
    int ret;
    if (cli->config && (ret = milnce_config_load(cfg, cli->config, err)) < 0) return ret;
    for (int i = 0; i < cli->nsets; i++)
        if ((ret = milnce_config_set(cfg, cli->sets[i], err)) < 0) return ret;
    return 0;
}

/* ---------------------------------------------------------------- --help */

/* The default as shown: dflt, else the field's value when it says something. */
static void default_text(const milnce_opt *o, const void *args, char *buf, size_t cap) {
    buf[0] = '\0';
    if (o->dflt) {
        snprintf(buf, cap, "%s", o->dflt);
        return;
    }
    if (o->key) { /* the key's default: the config schema is its one source */
        for (const milnce_config_key *k = milnce_config_schema(); k->name; k++)
            if (strcmp(k->name, o->key) == 0 && k->dflt[0]) snprintf(buf, cap, "%s", k->dflt);
        return;
    }
    if (!args || (o->flags & (MILNCE_OPT_NOFIELD | MILNCE_OPT_REQUIRED))) return;
    const void *f = cfield(args, o);
    switch (o->type) {
    case MILNCE_OPT_STRING:
        if (*(const char *const *)f) snprintf(buf, cap, "%s", *(const char *const *)f);
        break;
    case MILNCE_OPT_INT: snprintf(buf, cap, "%d", *(const int *)f); break;
    case MILNCE_OPT_DOUBLE: snprintf(buf, cap, "%g", *(const double *)f); break;
    case MILNCE_OPT_CHOICE: {
        int k = *(const int *)f;
        const char *c = o->choices;
        for (; k > 0 && c; k--) c = strchr(c, '|') ? strchr(c, '|') + 1 : NULL;
        if (c) snprintf(buf, cap, "%.*s", (int)(strchr(c, '|') ? (size_t)(strchr(c, '|') - c) : strlen(c)), c);
        break;
    }
    default: break;
    }
}

static void print_help_lines(FILE *out, const char *left, const char *help, const char *tail) {
    const int col = 24;
    int w = fprintf(out, "  %s", left);
    const char *h = help ? help : "";
    int first = 1;
    do {
        const char *nl = strchr(h, '\n');
        int len = nl ? (int)(nl - h) : (int)strlen(h);
        if (first && w >= col - 1) {
            fputc('\n', out);
            w = 0;
        }
        fprintf(out, "%*s%.*s", col - (first ? w : 0), "", len, h);
        if (!nl && tail[0]) fprintf(out, " %s", tail);
        fputc('\n', out);
        first = 0;
        h = nl ? nl + 1 : NULL;
    } while (h);
}

void milnce_cli_help(const milnce_cmd_spec *spec, const void *args, FILE *out) {
    int optional = 0;
    fprintf(out, "usage: milnce %s", spec->name);
    for (const milnce_opt *o = spec->opts; o->name; o++) {
        if (o->type == MILNCE_OPT_ARG) fprintf(out, (o->flags & MILNCE_OPT_REQUIRED) ? " %s" : " [%s]", o->name);
        else if (o->flags & MILNCE_OPT_REQUIRED) fprintf(out, " --%s %s", o->name, o->meta ? o->meta : "");
        else optional = 1;
    }
    fprintf(out, "%s\n\n%s\n\noptions:\n", optional ? " [options]" : "", spec->about);
    for (const milnce_opt *o = spec->opts; o->name; o++) {
        char left[96], dft[128], tail[256] = "";
        if (o->type == MILNCE_OPT_ARG) snprintf(left, sizeof left, "%s", o->name);
        else if (o->short_name)
            snprintf(left, sizeof left, "-%c, --%s%s%s", o->short_name, o->name, o->meta ? " " : "", o->meta ? o->meta : "");
        else snprintf(left, sizeof left, "--%s%s%s", o->name, o->meta ? " " : "", o->meta ? o->meta : "");
        default_text(o, args, dft, sizeof dft);
        size_t t = 0;
        if (o->type == MILNCE_OPT_CHOICE && o->meta && strcmp(o->meta, o->choices) != 0)
            t += (size_t)snprintf(tail + t, sizeof tail - t, "(%s)", o->choices);
        if (dft[0] && t < sizeof tail)
            t += (size_t)snprintf(tail + t, sizeof tail - t, "%s(default %s)", t ? " " : "", dft);
        if (o->key && t < sizeof tail)
            snprintf(tail + t, sizeof tail - t, "%s[sets %s]", t ? " " : "", o->key);
        print_help_lines(out, left, o->help, tail);
    }
    print_help_lines(out, "-h, --help", "this help", "");
}
