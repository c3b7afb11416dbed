#include "checkpoint.h"

#include <math.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vocab_io.h"

static const char *const RESERVED[] = {"format", "format_version", "step", "config", "rng", "optim.kind",
                                       "optim.step", "vocab"};

/* Groups of a checkpoint: parameters, buffers, then moments (prefixed). Returns the count. */
static int make_groups(milnce_st_group g[4], const milnce_checkpoint *ck) {
    int n = 0;
    g[n++] = (milnce_st_group){ck->params, ck->param_block, NULL};
    if (ck->buffers && ck->buffers->n) g[n++] = (milnce_st_group){ck->buffers, ck->buffer_block, NULL};
    if (ck->optim && ck->optim->m) g[n++] = (milnce_st_group){ck->params, ck->optim->m, MILNCE_CHECKPOINT_OPTIM_M};
    if (ck->optim && ck->optim->v) g[n++] = (milnce_st_group){ck->params, ck->optim->v, MILNCE_CHECKPOINT_OPTIM_V};
    return n;
}

int milnce_checkpoint_save(const char *path, const milnce_checkpoint *ck, const milnce_st_meta *extra,
                           int nextra, milnce_error *err) {
    if (!ck->params || !ck->param_block || (ck->buffers && ck->buffers->n && !ck->buffer_block))
        return milnce_error_set(err, MILNCE_ERR_INVALID, "%s: checkpoint without parameter blocks", path);
    if (ck->optim && ck->optim->n != ck->params->total)
        return milnce_error_set(err, MILNCE_ERR_INVALID, "%s: optimizer has %zu values, parameters %zu", path,
                                ck->optim->n, ck->params->total);
    for (int i = 0; i < nextra; i++)
        for (size_t r = 0; r < sizeof RESERVED / sizeof RESERVED[0]; r++)
            if (strcmp(extra[i].key, RESERVED[r]) == 0)
                return milnce_error_set(err, MILNCE_ERR_INVALID, "%s: metadata key %s is reserved", path, extra[i].key);
    int nmeta = 0, ret;
    char *vocab = NULL;
    if (ck->vocab && !(vocab = milnce_vocab_to_text(ck->vocab)))
        return milnce_error_set(err, MILNCE_ERR_NOMEM, "%s: vocabulary of %zu words", path, ck->vocab->n);
    milnce_st_meta *meta = malloc(sizeof *meta * (size_t)(9 + (nextra > 0 ? nextra : 0)));
    char *rng = malloc((size_t)(ck->nrng > 0 ? ck->nrng : 1) * MILNCE_RNG_STATE_CHARS);
    if (!meta || !rng) {
        free(meta);
        free(rng);
        free(vocab);
        return milnce_error_set(err, MILNCE_ERR_NOMEM, "%s: metadata", path);
    }
    char version[16], step[32], ostep[32];
    snprintf(version, sizeof version, "%d", MILNCE_CHECKPOINT_VERSION);
    snprintf(step, sizeof step, "%" PRId64, ck->step);
    meta[nmeta++] = (milnce_st_meta){"format", "milnce"};
    meta[nmeta++] = (milnce_st_meta){"format_version", version};
    meta[nmeta++] = (milnce_st_meta){"step", step};
    if (ck->config) meta[nmeta++] = (milnce_st_meta){"config", ck->config};
    if (vocab) meta[nmeta++] = (milnce_st_meta){"vocab", vocab};
    if (ck->rngs && ck->nrng > 0) {
        rng[0] = '\0';
        for (int i = 0; i < ck->nrng; i++) {
            if (i) strcat(rng, ",");
            milnce_rng_to_string(&ck->rngs[i], rng + strlen(rng));
        }
        meta[nmeta++] = (milnce_st_meta){"rng", rng};
    }
    if (ck->optim) {
        snprintf(ostep, sizeof ostep, "%" PRId64, ck->optim->step);
        meta[nmeta++] = (milnce_st_meta){"optim.kind", milnce_optim_kind_name(ck->optim->cfg.kind)};
        meta[nmeta++] = (milnce_st_meta){"optim.step", ostep};
    }
    for (int i = 0; i < nextra; i++) meta[nmeta++] = extra[i];
    milnce_st_group g[4];
    int ng = make_groups(g, ck);
    ret = milnce_safetensors_write(path, g, ng, meta, nmeta, err);
    free(meta);
    free(rng);
    free(vocab);
    return ret;
}

static int parse_i64(const milnce_safetensors *st, const char *key, int64_t *out, milnce_error *err) {
    const char *v = milnce_safetensors_meta(st, key);
    if (!v) return 1;
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (errno || end == v || *end || x < 0)
        return milnce_error_set(err, MILNCE_ERR_FORMAT, "%s: metadata %s = \"%.40s\" is not a non-negative integer",
                                st->path, key, v);
    *out = x;
    return 0;
}

int milnce_checkpoint_load(const char *path, milnce_checkpoint *ck, const milnce_st_load_opts *opts,
                           milnce_safetensors *keep, milnce_error *err) {
    milnce_safetensors st;
    int ret = milnce_safetensors_open(&st, path, err);
    if (ret < 0) return ret;
    milnce_rng *rngs = NULL;
    int64_t step = 0, ostep = 0;
    const char *ver = milnce_safetensors_meta(&st, "format_version");
    if (ver && strcmp(ver, "1") != 0) {
        ret = milnce_error_set(err, MILNCE_ERR_UNSUPPORTED,
                               "%s: checkpoint format_version %.20s; this milnce reads version %d (upgrade milnce)",
                               path, ver, MILNCE_CHECKPOINT_VERSION);
        goto end;
    }
    if ((ret = parse_i64(&st, "step", &step, err)) < 0) goto end;
    ret = 0; /* no step in the file (a converted reference state_dict): 0 */
    if (ck->optim) {
        const char *kind = milnce_safetensors_meta(&st, "optim.kind");
        if (!kind) {
            ret = milnce_error_set(err, MILNCE_ERR_NOTFOUND,
                                   "%s: no optimizer state (a model checkpoint, not a training one)", path);
            goto end;
        }
        if (milnce_optim_kind_from_name(kind) != (int)ck->optim->cfg.kind) {
            ret = milnce_error_set(err, MILNCE_ERR_INVALID, "%s: optimizer state is %.20s, the run uses %s", path, kind,
                                   milnce_optim_kind_name(ck->optim->cfg.kind));
            goto end;
        }
        if ((ret = parse_i64(&st, "optim.step", &ostep, err)) != 0) {
            if (ret > 0) ret = milnce_error_set(err, MILNCE_ERR_NOTFOUND, "%s: metadata optim.step missing", path);
            goto end;
        }
    }
    if (ck->rngs && ck->nrng > 0) {
        const char *s = milnce_safetensors_meta(&st, "rng");
        if (!s) {
            ret = milnce_error_set(err, MILNCE_ERR_NOTFOUND, "%s: metadata rng missing", path);
            goto end;
        }
        rngs = malloc(sizeof *rngs * (size_t)ck->nrng);
        if (!rngs) {
            ret = milnce_error_set(err, MILNCE_ERR_NOMEM, "%s: rng", path);
            goto end;
        }
        int i = 0;
        for (; i < ck->nrng; i++) {
            char one[MILNCE_RNG_STATE_CHARS];
            size_t len = strcspn(s, ",");
            if (len != 64) break;
            memcpy(one, s, 64);
            one[64] = '\0';
            if ((ret = milnce_rng_from_string(&rngs[i], one, err)) < 0) {
                milnce_error_prefix(err, "%s: metadata rng[%d]", path, i);
                goto end;
            }
            s += len;
            if (*s == ',') s++;
        }
        if (i != ck->nrng || *s) {
            ret = milnce_error_set(err, MILNCE_ERR_FORMAT, "%s: metadata rng does not hold %d states", path, ck->nrng);
            goto end;
        }
    }
    milnce_st_load_opts o = opts ? *opts : (milnce_st_load_opts){0};
    if (!ck->optim && !o.ignore_prefix) o.ignore_prefix = "optim.";
    milnce_st_group g[4];
    int ng = make_groups(g, ck);
    if ((ret = milnce_safetensors_load(&st, g, ng, &o, err)) < 0) goto end;
    ck->step = step;
    if (ck->optim) ck->optim->step = ostep;
    if (rngs) memcpy(ck->rngs, rngs, sizeof *rngs * (size_t)ck->nrng);
end:
    free(rngs);
    if (keep && ret == 0) *keep = st;
    else milnce_safetensors_close(&st);
    return ret;
}

int milnce_checkpoint_check_finite(const char *what, const milnce_st_group *groups, int ngroups, milnce_error *err) {
    char names[600] = "";
    size_t bad_tensors = 0, bad_values = 0, len = 0;
    for (int g = 0; g < ngroups; g++) {
        const milnce_param_table *tab = groups[g].tab;
        for (size_t i = 0; i < tab->n; i++) {
            const float *x = groups[g].block + tab->t[i].offset;
            size_t bad = 0;
            for (size_t k = 0; k < tab->t[i].count; k++) bad += !isfinite(x[k]);
            if (!bad) continue;
            if (bad_tensors < 4)
                len += (size_t)snprintf(names + len, len < sizeof names ? sizeof names - len : 0, "%s%s%s (%zu)",
                                        bad_tensors ? ", " : "", groups[g].prefix ? groups[g].prefix : "", tab->t[i].name, bad);
            bad_tensors++;
            bad_values += bad;
        }
    }
    if (!bad_tensors) return 0;
    return milnce_error_set(err, MILNCE_ERR_NUMERIC, "%s: %zu non-finite value%s (NaN/Inf) in %zu tensor%s: %s%s", what, bad_values,
                            bad_values == 1 ? "" : "s", bad_tensors, bad_tensors == 1 ? "" : "s", names, bad_tensors > 4 ? ", ..." : "");
}

int milnce_checkpoint_check_file_finite(const milnce_safetensors *st, milnce_error *err) {
    char names[600] = "";
    size_t bad_tensors = 0, bad_values = 0, len = 0;
    for (int i = 0; i < st->n; i++) {
        const milnce_st_entry *e = &st->e[i];
        if (strncmp(e->name, "optim.", 6) == 0) continue;
        size_t bad = 0;
        const uint8_t *p = st->data + e->begin;
        if (e->dtype == MILNCE_ST_F32)
            for (size_t k = 0; k < e->count; k++) {
                float x;
                memcpy(&x, p + 4 * k, 4);
                bad += !isfinite(x);
            }
        else if (e->dtype == MILNCE_ST_F64)
            for (size_t k = 0; k < e->count; k++) {
                double x;
                memcpy(&x, p + 8 * k, 8);
                bad += !isfinite(x);
            }
        else
            continue; /* F16/BF16 are converted (and checked) by the loader's caller */
        if (!bad) continue;
        if (bad_tensors < 4)
            len += (size_t)snprintf(names + len, len < sizeof names ? sizeof names - len : 0, "%s%s (%zu)", bad_tensors ? ", " : "", e->name, bad);
        bad_tensors++;
        bad_values += bad;
    }
    if (!bad_tensors) return 0;
    return milnce_error_set(err, MILNCE_ERR_NUMERIC, "%s: %zu non-finite value%s (NaN/Inf) in %zu tensor%s: %s%s", st->path, bad_values,
                            bad_values == 1 ? "" : "s", bad_tensors, bad_tensors == 1 ? "" : "s", names, bad_tensors > 4 ? ", ..." : "");
}
