/* milnce import: published PyTorch models and word vectors -> milnce files (pipeline/import.h). */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "import.h"

static void help(void) {
    printf("usage: milnce import s3d-howto100m --weights s3d_howto100m.pth --dict s3d_dict.npy --out MODEL.safetensors\n"
           "       milnce import howto100m-word2vec --weights word2vec.pth --dict dict.npy --out DIR\n\n"
           "Reads PyTorch files without Python (torch.save zip or legacy format; only the pickle opcodes and\n"
           "globals torch.save writes for tensors are accepted, nothing in the file is ever executed) and\n"
           "numpy string arrays.\n"
           "  s3d-howto100m       the released S3D HowTo100M model (antoine77340/S3D_HowTo100M) -> one\n"
           "                      self-contained checkpoint: weights, model config, vocabulary, text\n"
           "                      settings (max_words 16), the released protocol (32 frames at 10 fps,\n"
           "                      224x224) and provenance. `milnce eval` and `milnce embed` need nothing else.\n"
           "  howto100m-word2vec  MIL-NCE_HowTo100M's inputs for training from scratch -> DIR/vocab.txt and\n"
           "                      DIR/word2vec.bin (set model.vocab and model.word2vec to them).\n"
           "Exit: 0 ok, 1 error, 2 usage.\n");
}

int milnce_cmd_import(int argc, char **argv) {
    if (milnce_wants_help(argc, argv)) {
        help();
        return MILNCE_EXIT_OK;
    }
    const char *kind = NULL;
    milnce_import_opts o = {0};
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--weights") == 0 && i + 1 < argc) o.weights = argv[++i];
        else if (strcmp(argv[i], "--dict") == 0 && i + 1 < argc) o.dict = argv[++i];
        else if (strcmp(argv[i], "--out") == 0 && i + 1 < argc) o.out = argv[++i];
        else if (!kind && argv[i][0] != '-') kind = argv[i];
        else {
            fprintf(stderr, "milnce import: unexpected argument '%s' (see --help)\n", argv[i]);
            return MILNCE_EXIT_USAGE;
        }
    }
    int s3d = kind && strcmp(kind, "s3d-howto100m") == 0, w2v = kind && strcmp(kind, "howto100m-word2vec") == 0;
    if (!s3d && !w2v) {
        fprintf(stderr, "milnce import: the first argument is s3d-howto100m or howto100m-word2vec%s%s%s (see --help)\n",
                kind ? ", got '" : "", kind ? kind : "", kind ? "'" : "");
        return MILNCE_EXIT_USAGE;
    }
    if (!o.weights || !o.dict || !o.out) {
        fprintf(stderr, "milnce import: needs --weights, --dict and --out (see --help)\n");
        return MILNCE_EXIT_USAGE;
    }
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
