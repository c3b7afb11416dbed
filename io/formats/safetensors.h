/* safetensors files: read, validate, convert to float32, write atomically.
 *
 * Layout: u64 little-endian N, then N bytes of JSON (padded with spaces), then the data section.
 * The JSON maps each tensor name to {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}
 * (byte offsets into the data section) and may hold "__metadata__": {string: string}.
 * Tensors are read into / written from named tensors of milnce_param_table blocks, each block
 * with an optional name prefix (the training checkpoint stores moments as "optim.m.<name>").
 * This host is little-endian (x86-64/aarch64); the data is copied as is. */
#ifndef MILNCE_SAFETENSORS_H
#define MILNCE_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "params.h"

typedef enum {
    MILNCE_ST_F32 = 0, MILNCE_ST_F64, MILNCE_ST_F16, MILNCE_ST_BF16,
    MILNCE_ST_I64, MILNCE_ST_I32, MILNCE_ST_I16, MILNCE_ST_I8,
    MILNCE_ST_U64, MILNCE_ST_U32, MILNCE_ST_U16, MILNCE_ST_U8, MILNCE_ST_BOOL
} milnce_st_dtype;

#define MILNCE_ST_MAX_DIMS 8
#define MILNCE_ST_MAX_HEADER (100u << 20) /* as the reference implementation */

typedef struct milnce_st_entry {
    char *name;
    milnce_st_dtype dtype;
    int ndim;
    int64_t shape[MILNCE_ST_MAX_DIMS];
    size_t count;       /* elements */
    size_t begin, end;  /* byte offsets in the data section */
} milnce_st_entry;

typedef struct milnce_st_meta {
    const char *key, *value;
} milnce_st_meta;

typedef struct milnce_safetensors {
    char path[1024];       /* for messages */
    uint8_t *buf;          /* whole file (owned) */
    size_t size;
    const uint8_t *data;   /* start of the data section in buf */
    size_t data_size;
    milnce_st_entry *e;    /* (n) in file order */
    int n;
    milnce_st_meta *meta;  /* (nmeta) owned strings */
    int nmeta;
} milnce_safetensors;

/* One (table, block) pair; the file name of tensor i is prefix + tab->t[i].name. */
typedef struct milnce_st_group {
    const milnce_param_table *tab;
    float *block;        /* (tab->total) source when writing, destination when reading */
    const char *prefix;  /* NULL or "" = none */
} milnce_st_group;

typedef struct milnce_st_load_opts {
    int allow_missing;         /* leave tensors the file lacks as they are instead of failing */
    int allow_unexpected;      /* ignore float tensors no group asks for instead of failing */
    const char *ignore_prefix; /* file tensors with this prefix are ignored (e.g. "optim.") */
    const milnce_logger *log;  /* notes about skipped tensors (num_batches_tracked, ...) */
} milnce_st_load_opts;

const char *milnce_st_dtype_name(milnce_st_dtype t);
size_t milnce_st_dtype_size(milnce_st_dtype t);

/* Reads and validates the whole file: size, header length, JSON, dtypes, shapes against
 * data_offsets, offsets inside the data section and not overlapping, metadata values strings.
 * Errors are MILNCE_ERR_IO (open/read), MILNCE_ERR_FORMAT (names the file and what is wrong),
 * MILNCE_ERR_UNSUPPORTED (unknown dtype). On error st holds nothing to free. */
int milnce_safetensors_open(milnce_safetensors *st, const char *path, milnce_error *err);
/* The same on a buffer in memory (copied); name is used in messages. */
int milnce_safetensors_parse(milnce_safetensors *st, const void *buf, size_t n, const char *name,
                             milnce_error *err);
void milnce_safetensors_close(milnce_safetensors *st);

/* Index of a tensor, or -1. Metadata value or NULL. */
int milnce_safetensors_find(const milnce_safetensors *st, const char *name);
const char *milnce_safetensors_meta(const milnce_safetensors *st, const char *key);

/* Copies tensor i into dst (count floats), converting F64/F16/BF16 to float32. Non-float dtypes
 * give MILNCE_ERR_UNSUPPORTED. */
int milnce_safetensors_get_f32(const milnce_safetensors *st, int i, float *dst, milnce_error *err);

/* Fills the groups' blocks from st. Every tensor of every table must be in the file with the
 * same shape (else MILNCE_ERR_NOTFOUND / MILNCE_ERR_FORMAT naming it), and every float tensor of
 * the file must be wanted (else MILNCE_ERR_INVALID "unexpected tensor"), unless opts say
 * otherwise; non-float tensors nobody wants (BatchNorm's I64 num_batches_tracked) are skipped
 * with a note. Everything is checked before anything is written: on error the blocks are
 * unchanged. opts may be NULL. */
int milnce_safetensors_load(const milnce_safetensors *st, const milnce_st_group *groups, int ngroups,
                            const milnce_st_load_opts *opts, milnce_error *err);

/* Writes the groups' tensors (F32, in table order, group after group) and metadata to path
 * atomically (temp + fsync + rename). Duplicate names give MILNCE_ERR_INVALID. */
int milnce_safetensors_write(const char *path, const milnce_st_group *groups, int ngroups,
                             const milnce_st_meta *meta, int nmeta, milnce_error *err);

#endif
