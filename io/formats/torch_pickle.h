/* A restricted reader of the pickles torch.save writes (protocol 2; the opcodes of protocols 3-4
 * that could appear are understood too). It builds a tree of plain values and never runs code:
 * the only globals it accepts are the ones torch.save needs for a dict of tensors
 * (collections.OrderedDict, torch._utils._rebuild_tensor_v2 / _rebuild_tensor /
 * _rebuild_parameter, torch.<Type>Storage), and REDUCE only applies those. Any other global
 * (os.system, builtins.eval, ...), NEWOBJ, INST/OBJ or an unknown opcode is refused with a
 * message naming it and its byte offset; nothing is imported, called or executed.
 *
 * Storages are persistent ids ("storage", <Type>Storage, key, location, numel[, view]): they are
 * returned as STORAGE values (dtype, key, numel) whose bytes the caller finds (io/formats/torch_load.c). */
#ifndef MILNCE_TORCH_PICKLE_H
#define MILNCE_TORCH_PICKLE_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

typedef enum {
    MILNCE_TORCH_F32 = 0, MILNCE_TORCH_F64, MILNCE_TORCH_F16, MILNCE_TORCH_BF16,
    MILNCE_TORCH_I64, MILNCE_TORCH_I32, MILNCE_TORCH_I16, MILNCE_TORCH_I8, MILNCE_TORCH_U8,
    MILNCE_TORCH_BOOL
} milnce_torch_dtype;

size_t milnce_torch_dtype_size(milnce_torch_dtype t);
const char *milnce_torch_dtype_name(milnce_torch_dtype t); /* "float32", ... */

typedef enum {
    MILNCE_PK_NONE = 0, MILNCE_PK_BOOL, MILNCE_PK_INT, MILNCE_PK_BIGINT, MILNCE_PK_FLOAT,
    MILNCE_PK_STR, MILNCE_PK_BYTES, MILNCE_PK_TUPLE, MILNCE_PK_LIST, MILNCE_PK_DICT,
    MILNCE_PK_GLOBAL, MILNCE_PK_STORAGE, MILNCE_PK_TENSOR
} milnce_pk_kind;

#define MILNCE_PK_MAX_DIMS 8

typedef struct milnce_pk milnce_pk;
struct milnce_pk {
    milnce_pk_kind kind;
    int64_t i;            /* BOOL, INT; GLOBAL: which (internal); STORAGE: numel */
    double f;             /* FLOAT */
    char *s;              /* STR (UTF-8, NUL-terminated), BYTES and BIGINT (little-endian
                             two's complement), STORAGE: its key */
    size_t len;           /* bytes of s */
    milnce_pk **items;    /* TUPLE, LIST: (n) items; DICT: (2n) key, value, key, value... */
    size_t n, cap;
    milnce_torch_dtype dtype; /* STORAGE */
    milnce_pk *storage;   /* TENSOR: its STORAGE */
    int64_t offset;       /* TENSOR: first element, in elements of the storage */
    int ndim;
    int64_t shape[MILNCE_PK_MAX_DIMS], stride[MILNCE_PK_MAX_DIMS]; /* TENSOR, strides in elements */
};

/* A parsed pickle: every value lives in the arena and is freed with it. */
typedef struct milnce_pickle {
    milnce_pk *root;
    milnce_pk **arena;
    size_t narena, cap;
} milnce_pickle;

/* Reads one pickle from buf (n bytes) up to its STOP; *used (may be NULL) receives the bytes
 * read (torch's legacy format holds several pickles back to back). name is for messages. */
int milnce_pickle_load(milnce_pickle *pk, const uint8_t *buf, size_t n, size_t *used, const char *name,
                       milnce_error *err);
void milnce_pickle_free(milnce_pickle *pk);

/* Value of a DICT under a string key, or NULL. */
const milnce_pk *milnce_pk_get(const milnce_pk *dict, const char *key);

#endif
