#include "params.h"

#include <stdlib.h>
#include <string.h>

int milnce_params_add(milnce_param_table *tab, const char *name, int ndim, const int64_t *shape,
                      milnce_error *err) {
    if (ndim < 0 || ndim > MILNCE_TENSOR_MAX_DIMS)
        return milnce_error_set(err, MILNCE_ERR_INVALID, "tensor %s: %d dims", name, ndim);
    if (strlen(name) >= MILNCE_NAME_MAX)
        return milnce_error_set(err, MILNCE_ERR_INVALID, "tensor name too long: %s", name);
    if (milnce_params_find(tab, name) >= 0)
        return milnce_error_set(err, MILNCE_ERR_INVALID, "tensor %s declared twice", name);
    if (tab->n == tab->cap) {
        size_t cap = tab->cap ? 2 * tab->cap : 64;
        milnce_tensor_desc *t = realloc(tab->t, cap * sizeof *t);
        if (!t) return milnce_error_set(err, MILNCE_ERR_NOMEM, "param table");
        tab->t = t;
        tab->cap = cap;
    }
    milnce_tensor_desc *d = &tab->t[tab->n];
    memset(d, 0, sizeof *d);
    strcpy(d->name, name);
    d->ndim = ndim;
    d->count = 1;
    for (int i = 0; i < ndim; i++) {
        d->shape[i] = shape[i];
        d->count *= (size_t)shape[i];
    }
    d->offset = (tab->total + 15) & ~(size_t)15;
    tab->total = d->offset + d->count;
    return (int)tab->n++;
}

int milnce_params_find(const milnce_param_table *tab, const char *name) {
    for (size_t i = 0; i < tab->n; i++)
        if (strcmp(tab->t[i].name, name) == 0) return (int)i;
    return -1;
}

float *milnce_params_alloc_block(const milnce_param_table *tab, milnce_error *err) {
    size_t bytes = ((tab->total ? tab->total : 1) * sizeof(float) + 63) & ~(size_t)63;
    float *p = aligned_alloc(64, bytes);
    if (!p) {
        milnce_error_set(err, MILNCE_ERR_NOMEM, "parameter block of %zu bytes", bytes);
        return NULL;
    }
    memset(p, 0, bytes);
    return p;
}

void milnce_params_free(milnce_param_table *tab) {
    free(tab->t);
    tab->t = NULL;
    tab->n = tab->cap = tab->total = 0;
}
