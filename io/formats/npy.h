/* numpy .npy files (format version 1.0/2.0, C order, little-endian): the interchange format for
 * clips (`milnce clip`), embeddings (`milnce embed`) and the reference fixtures of the tests. */
#ifndef MILNCE_NPY_H
#define MILNCE_NPY_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

typedef enum {
    MILNCE_NPY_U8 = 0,  /* '|u1' */
    MILNCE_NPY_I32 = 1, /* '<i4' */
    MILNCE_NPY_I64 = 2, /* '<i8' */
    MILNCE_NPY_F32 = 3, /* '<f4' */
    MILNCE_NPY_F64 = 4, /* '<f8' */
    MILNCE_NPY_BOOL = 5 /* '|b1' */
} milnce_npy_dtype;

#define MILNCE_NPY_MAX_DIMS 8

typedef struct milnce_npy {
    milnce_npy_dtype dtype;
    int ndim;
    int64_t shape[MILNCE_NPY_MAX_DIMS];
    size_t count; /* product of shape (1 for a scalar) */
    void *data;   /* count elements, owned */
} milnce_npy;

size_t milnce_npy_dtype_size(milnce_npy_dtype t);

/* Writes data (count = prod(shape) elements of dtype) to path atomically (temp + fsync + rename). */
int milnce_npy_write(const char *path, milnce_npy_dtype dtype, int ndim, const int64_t *shape,
                     const void *data, milnce_error *err);

/* Reads a whole file. Refuses Fortran order, big-endian, object dtypes, truncated data. */
int milnce_npy_read(const char *path, milnce_npy *out, milnce_error *err);

/* Reads and converts to float32 (from f32/f64/i32/i64/u8/bool); *out_data is malloc'ed. */
int milnce_npy_read_f32(const char *path, float **out_data, int *ndim, int64_t *shape,
                        milnce_error *err);

void milnce_npy_free(milnce_npy *a);

/* Reads an array of strings (any shape, C order, flattened): numpy unicode '<U<w>' (w UTF-32
 * code points per element, NUL-padded: what np.save writes for np.array(list_of_str)) or bytes
 * '|S<w>', each element returned as a NUL-terminated UTF-8 string without its padding. Object
 * arrays ('|O': pickled Python objects) are refused with the command that converts them.
 * *out (n strings) is freed with milnce_npy_strings_free. */
int milnce_npy_read_strings(const char *path, char ***out, size_t *n, milnce_error *err);
void milnce_npy_strings_free(char **s, size_t n);

#endif
