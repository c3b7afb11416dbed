/* Named tensors cut from one contiguous float block.
 *
 * A model declares its tensors in a table (name, shape, kind) once; the table's offsets cut the
 * parameter block, and the same offsets cut the gradient block and each optimizer-moment block,
 * so the optimizer is one flat loop and a checkpoint is one pass over the table. Trainable
 * parameters and non-trainable buffers (BatchNorm running statistics) live in separate tables
 * and blocks: gradients and moments exist only for parameters. Names follow the PyTorch
 * reference (`conv1.conv1.weight`, `mixed_3b.conv_b1_b.bn2.running_mean`, `text_module.fc1.weight`). */
#ifndef MILNCE_PARAMS_H
#define MILNCE_PARAMS_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define MILNCE_NAME_MAX 128
#define MILNCE_TENSOR_MAX_DIMS 5

typedef struct milnce_tensor_desc {
    char name[MILNCE_NAME_MAX];
    int ndim;
    int64_t shape[MILNCE_TENSOR_MAX_DIMS];
    size_t offset; /* in floats, from the start of the block */
    size_t count;  /* product of shape */
} milnce_tensor_desc;

typedef struct milnce_param_table {
    milnce_tensor_desc *t; /* (n) in declaration order */
    size_t n, cap;
    size_t total; /* floats in a block cut by this table */
} milnce_param_table;

/* Appends a tensor; returns its index (>= 0) or a negative error. Offsets are 16-float aligned
 * so every tensor starts on a 64-byte boundary for the vector kernels. */
int milnce_params_add(milnce_param_table *tab, const char *name, int ndim, const int64_t *shape,
                      milnce_error *err);
/* Index of name, or -1. */
int milnce_params_find(const milnce_param_table *tab, const char *name);
/* 64-byte aligned zeroed block of tab->total floats (free with free()). */
float *milnce_params_alloc_block(const milnce_param_table *tab, milnce_error *err);
void milnce_params_free(milnce_param_table *tab);

#endif
