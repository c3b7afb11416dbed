/* `milnce import` (pipeline/import.h). */
#include "import.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fileutil.h"
#include "checkpoint.h"
#include "config.h"
#include "model.h"
#include "npy.h"
#include "torch_load.h"
#include "run_model.h"
#include "vocab.h"
#include "vocab_io.h"

static const char *base_name(const char *p) {
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

/* dict.npy -> vocabulary (word i -> id i + 1). */
static int read_words(const char *path, milnce_vocab *v, milnce_error *err) {
    char **w = NULL;
    size_t n = 0;
    int ret = milnce_npy_read_strings(path, &w, &n, err);
    if (ret < 0) return ret;
    if (n == 0) ret = milnce_error_set(err, MILNCE_ERR_FORMAT, "%s: no words", path);
    for (size_t i = 0; i < n && ret == 0; i++) {
        size_t len = strlen(w[i]);
        if (len == 0 || strpbrk(w[i], "\n\r")) {
            ret = milnce_error_set(err, MILNCE_ERR_FORMAT, "%s: word %zu is %s", path, i, len ? "split by a line break" : "empty");
            break;
        }
        int32_t id;
        if ((ret = milnce_vocab_add(v, w[i], len, &id, err)) < 0) break;
        if (ret == 0) /* Python's dict would keep the later id and leave id i+1 unreachable */
            ret = milnce_error_set(err, MILNCE_ERR_FORMAT, "%s: word %zu '%.60s' repeats word %d: the ids after it would shift", path, i,
                                   w[i], id - 1);
        else ret = 0;
    }
    milnce_npy_strings_free(w, n);
    if (ret < 0) milnce_vocab_free(v);
    return ret;
}

/* Sets a key of cfg from text (the config's own parser, so types and ranges are checked). */
static int set(milnce_config *cfg, const char *kv, milnce_error *err) { return milnce_config_set(cfg, kv, err); }

static int file_size(const char *p, long long *out) {
    struct stat st;
    if (stat(p, &st) < 0) return -1;
    *out = (long long)st.st_size;
    return 0;
}

int milnce_import_s3d_howto100m(const milnce_import_opts *o, milnce_import_result *r, milnce_error *err) {
    memset(r, 0, sizeof *r);
    if (!o->weights || !o->dict || !o->out) return milnce_error_set(err, MILNCE_ERR_INVALID, "import: weights, dict and out are needed");
    milnce_vocab vocab = {0};
    milnce_torch_file tf = {0};
    milnce_model *m = NULL;
    char *yaml = NULL;
    int ret = read_words(o->dict, &vocab, err);
    if (ret < 0) return ret;
    if ((ret = milnce_torch_load(&tf, o->weights, err)) < 0) goto end;
    r->legacy = tf.legacy;
    const milnce_torch_tensor *we = milnce_torch_find(&tf, "text_module.word_embd.weight");
    const milnce_torch_tensor *fc1 = milnce_torch_find(&tf, "text_module.fc1.weight");
    const milnce_torch_tensor *fc = milnce_torch_find(&tf, "fc.weight");
    const milnce_torch_tensor *c1 = milnce_torch_find(&tf, "conv1.conv1.weight");
    if (!we || !fc1 || !fc || !c1 || we->ndim != 2 || fc1->ndim != 2 || fc->ndim != 2 || c1->ndim != 5) {
        ret = milnce_error_set(err, MILNCE_ERR_FORMAT,
                               "%s: not the S3D HowTo100M layout (conv1.conv1.weight, fc.weight, text_module.word_embd.weight and "
                               "text_module.fc1.weight expected)", o->weights);
        goto end;
    }
    if (c1->shape[1] != 24) {
        ret = milnce_error_set(err, MILNCE_ERR_FORMAT, "%s: conv1.conv1.weight has %lld input channels; the released model's "
                               "space-to-depth stem has 24", o->weights, (long long)c1->shape[1]);
        goto end;
    }
    if (we->shape[0] != (int64_t)vocab.n + 1) {
        ret = milnce_error_set(err, MILNCE_ERR_FORMAT, "%s has %zu words but text_module.word_embd.weight of %s has %lld rows "
                               "(one per word + padding expected: %zu): the dictionary and the weights do not belong together",
                               o->dict, vocab.n, o->weights, (long long)we->shape[0], vocab.n + 1);
        goto end;
    }
    /* the released model: full S3D-G, space-to-depth stem; its protocol as the defaults */
    milnce_config cfg;
    milnce_config_defaults(&cfg);
    char kv[128];
    const char *fixed[] = {"model.space_to_depth=true", "model.width=1", "model.blocks3=2", "model.blocks4=5", "model.blocks5=2",
                           "data.num_frames=32", "data.fps=10", "data.size=224", "data.max_words=16", "eval.max_words=16",
                           "eval.num_windows=4", NULL};
    for (int i = 0; fixed[i]; i++)
        if ((ret = set(&cfg, fixed[i], err)) < 0) goto end;
    snprintf(kv, sizeof kv, "model.embed_dim=%lld", (long long)fc->shape[0]);
    if ((ret = set(&cfg, kv, err)) < 0) goto end;
    snprintf(kv, sizeof kv, "model.word_dim=%lld", (long long)we->shape[1]);
    if ((ret = set(&cfg, kv, err)) < 0) goto end;
    snprintf(kv, sizeof kv, "model.text_hidden=%lld", (long long)fc1->shape[0]);
    if ((ret = set(&cfg, kv, err)) < 0) goto end;
    milnce_model_cfg mc;
    milnce_model_cfg_from_config(&cfg, (int)vocab.n + 1, 1, &mc);
    if ((ret = milnce_model_create(&m, &mc, err)) < 0) goto end;
    /* every model tensor from the file, shapes equal */
    const milnce_param_table *tabs[2] = {&m->ptab, &m->btab};
    float *blocks[2] = {m->params, m->buffers};
    size_t used = 0;
    for (int g = 0; g < 2; g++)
        for (size_t i = 0; i < tabs[g]->n; i++) {
            const milnce_tensor_desc *d = &tabs[g]->t[i];
            const milnce_torch_tensor *t = milnce_torch_find(&tf, d->name);
            if (!t) {
                ret = milnce_error_set(err, MILNCE_ERR_NOTFOUND, "%s: tensor %s is missing", o->weights, d->name);
                goto end;
            }
            int same = t->ndim == d->ndim && t->data;
            for (int k = 0; same && k < d->ndim; k++) same = t->shape[k] == d->shape[k];
            if (!same) {
                char want[96] = "", got[96] = "";
                for (int k = 0; k < d->ndim; k++) snprintf(want + strlen(want), sizeof want - strlen(want), "%s%lld", k ? "x" : "", (long long)d->shape[k]);
                for (int k = 0; k < t->ndim; k++) snprintf(got + strlen(got), sizeof got - strlen(got), "%s%lld", k ? "x" : "", (long long)t->shape[k]);
                ret = milnce_error_set(err, MILNCE_ERR_FORMAT, "%s: tensor %s is %s %s, the released layout has float %s", o->weights, d->name,
                                       milnce_torch_dtype_name(t->dtype), got, want);
                goto end;
            }
            memcpy(blocks[g] + d->offset, t->data, d->count * sizeof(float));
            used++;
            r->values += d->count;
        }
    for (size_t i = 0; i < tf.n; i++) {
        const milnce_torch_tensor *t = &tf.t[i];
        if (milnce_params_find(&m->ptab, t->name) >= 0 || milnce_params_find(&m->btab, t->name) >= 0) continue;
        if (t->data) {
            ret = milnce_error_set(err, MILNCE_ERR_FORMAT, "%s: unexpected tensor %s (not part of the released layout)", o->weights, t->name);
            goto end;
        }
        r->skipped++;
    }
    r->skipped += tf.skipped;
    milnce_st_group groups[2] = {{&m->ptab, m->params, NULL}, {&m->btab, m->buffers, NULL}};
    if ((ret = milnce_checkpoint_check_finite(o->weights, groups, 2, err)) < 0) goto end;
    if (!(yaml = milnce_config_to_yaml(&cfg))) { ret = milnce_error_set(err, MILNCE_ERR_NOMEM, "config"); goto end; }
    long long wsz = -1, dsz = -1;
    file_size(o->weights, &wsz);
    file_size(o->dict, &dsz);
    char src_w[1200], src_d[1200];
    snprintf(src_w, sizeof src_w, "%s (%lld bytes, torch.save %s format%s%s)", base_name(o->weights), wsz, tf.legacy ? "legacy" : "zip",
             tf.container[0] ? ", under " : "", tf.container);
    snprintf(src_d, sizeof src_d, "%s (%lld bytes, %zu words)", base_name(o->dict), dsz, vocab.n);
    milnce_st_meta extra[] = {{"source", "s3d-howto100m (antoine77340/S3D_HowTo100M, MIL-NCE, Miech et al. CVPR 2020)"},
                              {"source.weights", src_w},
                              {"source.dict", src_d},
                              {"imported_by", "milnce import s3d-howto100m " MILNCE_VERSION}};
    milnce_checkpoint ck = {.params = &m->ptab, .param_block = m->params, .buffers = &m->btab, .buffer_block = m->buffers,
                            .step = 0, .config = yaml, .vocab = &vocab};
    if ((ret = milnce_checkpoint_save(o->out, &ck, extra, 4, err)) < 0) goto end;
    r->tensors = used;
    r->words = vocab.n;
    snprintf(r->out, sizeof r->out, "%s", o->out);
end:
    free(yaml);
    milnce_model_free(&m);
    milnce_torch_free(&tf);
    milnce_vocab_free(&vocab);
    return ret;
}

int milnce_import_howto100m_word2vec(const milnce_import_opts *o, milnce_import_result *r, milnce_error *err) {
    memset(r, 0, sizeof *r);
    if (!o->weights || !o->dict || !o->out) return milnce_error_set(err, MILNCE_ERR_INVALID, "import: weights, dict and out are needed");
    milnce_vocab vocab = {0};
    milnce_torch_file tf = {0};
    char *buf = NULL;
    int ret = read_words(o->dict, &vocab, err);
    if (ret < 0) return ret;
    if ((ret = milnce_torch_load(&tf, o->weights, err)) < 0) goto end;
    r->legacy = tf.legacy;
    const milnce_torch_tensor *t = tf.n == 1 ? &tf.t[0] : milnce_torch_find(&tf, "weight");
    if (!t) t = milnce_torch_find(&tf, "word_embd.weight");
    if (!t || t->ndim != 2 || !t->data) {
        ret = milnce_error_set(err, MILNCE_ERR_FORMAT, "%s: a (words + 1, dim) float tensor expected (word2vec.pth holds one)", o->weights);
        goto end;
    }
    size_t V = vocab.n, D = (size_t)t->shape[1];
    if (t->shape[0] != (int64_t)V + 1) {
        ret = milnce_error_set(err, MILNCE_ERR_FORMAT, "%s has %zu words but %s has %lld rows (one per word + the padding row 0 expected: %zu)",
                               o->dict, V, o->weights, (long long)t->shape[0], V + 1);
        goto end;
    }
    for (size_t k = 0; k < t->count; k++)
        if (!isfinite(t->data[k])) {
            ret = milnce_error_set(err, MILNCE_ERR_NUMERIC, "%s: row %zu holds a non-finite value", o->weights, k / D);
            goto end;
        }
    if ((ret = milnce_mkdirs(o->out, err)) < 0) goto end;
    snprintf(r->out, sizeof r->out, "%s/vocab.txt", o->out);
    snprintf(r->out2, sizeof r->out2, "%s/word2vec.bin", o->out);
    if ((ret = milnce_vocab_save(r->out, &vocab, err)) < 0) goto end;
    /* word2vec binary: "V D\n", then per word "<word> " + D little-endian float32 + "\n" */
    size_t total = 64;
    for (size_t id = 1; id <= V; id++) {
        if (memchr(vocab.words[id], ' ', vocab.lens[id]) || memchr(vocab.words[id], '\t', vocab.lens[id])) {
            ret = milnce_error_set(err, MILNCE_ERR_FORMAT, "%s: word %zu '%.60s' holds a space, which word2vec files cannot carry", o->dict, id - 1,
                                   vocab.words[id]);
            goto end;
        }
        total += vocab.lens[id] + 2 + D * sizeof(float);
    }
    if (!(buf = malloc(total))) { ret = milnce_error_set(err, MILNCE_ERR_NOMEM, "%s: %zu bytes", r->out2, total); goto end; }
    size_t k = (size_t)snprintf(buf, 64, "%zu %zu\n", V, D);
    for (size_t id = 1; id <= V; id++) {
        memcpy(buf + k, vocab.words[id], vocab.lens[id]);
        k += vocab.lens[id];
        buf[k++] = ' ';
        memcpy(buf + k, t->data + id * D, D * sizeof(float));
        k += D * sizeof(float);
        buf[k++] = '\n';
    }
    if ((ret = milnce_write_file_atomic(r->out2, buf, k, err)) < 0) goto end;
    r->words = V;
    r->tensors = 1;
    r->values = t->count;
end:
    free(buf);
    milnce_torch_free(&tf);
    milnce_vocab_free(&vocab);
    return ret;
}
