/* milnce import: published PyTorch models and word vectors -> milnce files (pipeline/import.h). */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "cmd_opts.h"
#include "commands.h"
#include "import.h"

typedef struct import_args {
    const char *kind, *weights, *dict, *out;
} import_args;

#define A(f) offsetof(import_args, f)
static const milnce_opt import_opts[] = {
    {.name = "KIND", .type = MILNCE_OPT_ARG, .off = A(kind), .flags = MILNCE_OPT_REQUIRED,
     .help = "s3d-howto100m: the released S3D HowTo100M model (antoine77340/S3D_HowTo100M) -> one\n"
             "self-contained checkpoint: weights, model config, vocabulary, text settings\n"
             "(max_words 16), the released protocol (32 frames at 10 fps, 224x224) and provenance;\n"
             "`milnce eval` and `milnce embed` need nothing else.\n"
             "howto100m-word2vec: MIL-NCE_HowTo100M's inputs for training from scratch ->\n"
             "OUT/vocab.txt and OUT/word2vec.bin (set model.vocab and model.word2vec to them)"},
    {.name = "weights", .type = MILNCE_OPT_STRING, .off = A(weights), .meta = "FILE", .flags = MILNCE_OPT_REQUIRED,
     .help = "s3d_howto100m.pth or word2vec.pth (torch.save, zip or legacy format)"},
    {.name = "dict", .type = MILNCE_OPT_STRING, .off = A(dict), .meta = "FILE", .flags = MILNCE_OPT_REQUIRED,
     .help = "s3d_dict.npy or dict.npy (numpy array of strings)"},
    {.name = "out", .type = MILNCE_OPT_STRING, .off = A(out), .meta = "PATH", .flags = MILNCE_OPT_REQUIRED,
     .help = "MODEL.safetensors (s3d-howto100m) or a folder (howto100m-word2vec)"},
    {0}};

const milnce_cmd_spec milnce_cmd_import_spec = {
    "import",
    "Reads PyTorch files without Python (torch.save zip or legacy format; only the pickle opcodes and\n"
    "globals torch.save writes for tensors are accepted, nothing in the file is ever executed) and\n"
    "numpy string arrays. Exit: 0 ok, 1 error, 2 usage.",
    import_opts, sizeof(import_args)};

int milnce_cmd_import(int argc, char **argv) {
    import_args a = {0};
    milnce_cli cli;
    int rc = milnce_cli_parse(&milnce_cmd_import_spec, &a, argc, argv, &cli);
    if (rc != MILNCE_CLI_RUN) return rc;
    milnce_cli_free(&cli);
    int s3d = strcmp(a.kind, "s3d-howto100m") == 0, w2v = strcmp(a.kind, "howto100m-word2vec") == 0;
    if (!s3d && !w2v) {
        fprintf(stderr, "milnce import: KIND is s3d-howto100m or howto100m-word2vec, got '%s' (see --help)\n", a.kind);
        return MILNCE_EXIT_USAGE;
    }
    milnce_import_opts o = {.weights = a.weights, .dict = a.dict, .out = a.out};
    milnce_logger lg = milnce_stderr_logger("import");
    o.lg = &lg;
    milnce_error err = {0};
    milnce_import_result r;
    int ret = s3d ? milnce_import_s3d_howto100m(&o, &r, &err) : milnce_import_howto100m_word2vec(&o, &r, &err);
    if (ret < 0) {
        fprintf(stderr, "milnce import: %s\n", err.msg);
        return MILNCE_EXIT_ERROR;
    }
    if (s3d)
        printf("import: %s: %zu tensors (%zu values, %zu entries skipped), %zu words, from the %s torch.save format\n", r.out, r.tensors,
               r.values, r.skipped, r.words, r.legacy ? "legacy" : "zip");
    else
        printf("import: %s (%zu words) and %s (%zu values); set model.vocab and model.word2vec to them\n", r.out, r.words, r.out2, r.values);
    return MILNCE_EXIT_OK;
}
