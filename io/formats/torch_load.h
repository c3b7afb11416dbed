/* PyTorch files written by torch.save, read without Python: the zip format (PyTorch >= 1.6:
 * <archive>/data.pkl + one member <archive>/data/<key> per storage, io/formats/zip_read.h) and the legacy
 * format (_use_new_zipfile_serialization=False: magic, protocol and system-info pickles, the
 * object pickle, the pickled list of storage keys, then per storage an int64 element count and
 * its bytes). The object pickle goes through the restricted reader of io/formats/torch_pickle.h, so a
 * file that would run code when torch.load-ed is refused, never executed.
 *
 * What is kept: the tensors of a state_dict. The object may be a state_dict (dict/OrderedDict of
 * name -> tensor), a checkpoint dict holding one under "state_dict", "model" or
 * "model_state_dict" (MIL-NCE_HowTo100M's main_distributed.py saves {"epoch", "state_dict",
 * "optimizer", ...}), or one bare tensor (word2vec.pth). The "module." prefix that
 * DataParallel adds is removed. Every tensor is copied out in C order (any strides), floating
 * ones converted to float32. Little-endian files only (the legacy system info says so; the zip
 * format has been little-endian on every platform torch saves from). */
#ifndef MILNCE_TORCH_LOAD_H
#define MILNCE_TORCH_LOAD_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "torch_pickle.h"

typedef struct milnce_torch_tensor {
    char *name;                /* state_dict key without "module."; "" for a bare tensor */
    milnce_torch_dtype dtype;  /* as stored */
    int ndim;
    int64_t shape[MILNCE_PK_MAX_DIMS];
    size_t count;              /* elements */
    float *data;               /* (count) float32, C order; NULL for integer and bool tensors */
} milnce_torch_tensor;

typedef struct milnce_torch_file {
    char path[1024];
    int legacy;                /* 1: the pre-1.6 (non-zip) format */
    milnce_torch_tensor *t;    /* (n) in the file's order */
    size_t n;
    size_t skipped;            /* dict entries that are not tensors (epoch, optimizer, ...) */
    char container[32];        /* "" (the object itself), or the key it was found under */
} milnce_torch_file;

/* Reads path. Errors: MILNCE_ERR_IO, MILNCE_ERR_FORMAT (truncated/damaged, naming what and where),
 * MILNCE_ERR_UNSUPPORTED (a pickle that is not a torch.save of tensors, a compressed zip, a
 * big-endian file). On error f holds nothing. */
int milnce_torch_load(milnce_torch_file *f, const char *path, milnce_error *err);
/* The tensor named name, or NULL. */
const milnce_torch_tensor *milnce_torch_find(const milnce_torch_file *f, const char *name);
void milnce_torch_free(milnce_torch_file *f);

#endif
