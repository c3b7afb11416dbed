#include "torch_pickle.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Bounds that no torch.save of a model reaches but that keep a hostile file from asking for
 * unbounded memory before it runs out of bytes. */
#define MAX_STACK (1u << 22)
#define MAX_MEMO (1u << 24)

enum { G_ODICT = 1, G_REBUILD_V2, G_REBUILD, G_PARAM, G_STORAGE };

static const struct { const char *name; milnce_torch_dtype dtype; } STORAGES[] = {
    {"FloatStorage", MILNCE_TORCH_F32},   {"DoubleStorage", MILNCE_TORCH_F64},
    {"HalfStorage", MILNCE_TORCH_F16},    {"BFloat16Storage", MILNCE_TORCH_BF16},
    {"LongStorage", MILNCE_TORCH_I64},    {"IntStorage", MILNCE_TORCH_I32},
    {"ShortStorage", MILNCE_TORCH_I16},   {"CharStorage", MILNCE_TORCH_I8},
    {"ByteStorage", MILNCE_TORCH_U8},     {"BoolStorage", MILNCE_TORCH_BOOL},
};

static const size_t DSIZE[] = {4, 8, 2, 2, 8, 4, 2, 1, 1, 1};
static const char *const DNAME[] = {"float32", "float64", "float16", "bfloat16", "int64", "int32",
                                    "int16", "int8", "uint8", "bool"};

size_t milnce_torch_dtype_size(milnce_torch_dtype t) { return DSIZE[t]; }
const char *milnce_torch_dtype_name(milnce_torch_dtype t) { return DNAME[t]; }

typedef struct vm {
    milnce_pickle *pk;
    const uint8_t *b;
    size_t n, p, op_at; /* buffer, read position, offset of the current opcode */
    const char *name;
    milnce_pk **stack;
    size_t sn, scap;
    size_t *marks;
    size_t mn, mcap;
    milnce_pk **memo;
    size_t memocap;
    milnce_error *err;
} vm;

static int fail(vm *v, int code, const char *what) {
    return milnce_error_set(v->err, code, "%s: pickle byte %zu: %s", v->name, v->op_at, what);
}

static int grow(void **arr, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return 0;
    size_t c = *cap ? *cap : 16;
    while (c < need) c *= 2;
    void *a = realloc(*arr, c * elem);
    if (!a) return -1;
    *arr = a;
    *cap = c;
    return 0;
}

static milnce_pk *new_val(vm *v, milnce_pk_kind kind) {
    milnce_pickle *pk = v->pk;
    if (grow((void **)&pk->arena, &pk->cap, pk->narena + 1, sizeof *pk->arena) < 0) return NULL;
    milnce_pk *x = calloc(1, sizeof *x);
    if (!x) return NULL;
    x->kind = kind;
    pk->arena[pk->narena++] = x;
    return x;
}

static int push(vm *v, milnce_pk *x) {
    if (!x) return milnce_error_set(v->err, MILNCE_ERR_NOMEM, "%s: pickle values", v->name);
    if (v->sn >= MAX_STACK) return fail(v, MILNCE_ERR_FORMAT, "stack deeper than any torch.save file");
    if (grow((void **)&v->stack, &v->scap, v->sn + 1, sizeof *v->stack) < 0)
        return milnce_error_set(v->err, MILNCE_ERR_NOMEM, "%s: pickle stack", v->name);
    v->stack[v->sn++] = x;
    return 0;
}

static milnce_pk *pop(vm *v) {
    size_t floor = v->mn ? v->marks[v->mn - 1] : 0;
    if (v->sn <= floor) return NULL;
    return v->stack[--v->sn];
}

static milnce_pk *top(vm *v) {
    size_t floor = v->mn ? v->marks[v->mn - 1] : 0;
    return v->sn > floor ? v->stack[v->sn - 1] : NULL;
}

static int need(vm *v, size_t k) {
    if (v->n - v->p < k) return fail(v, MILNCE_ERR_FORMAT, "ends inside an opcode (truncated file)");
    return 0;
}

static uint64_t rd_le(const uint8_t *p, int k) {
    uint64_t x = 0;
    for (int i = k - 1; i >= 0; i--) x = x << 8 | p[i];
    return x;
}

static int add_item(vm *v, milnce_pk *c, milnce_pk *x) {
    if (grow((void **)&c->items, &c->cap, c->n + 1, sizeof *c->items) < 0)
        return milnce_error_set(v->err, MILNCE_ERR_NOMEM, "%s: pickle container", v->name);
    c->items[c->n++] = x;
    return 0;
}

static int key_equal(const milnce_pk *a, const milnce_pk *b) {
    if (a->kind != b->kind) return 0;
    if (a->kind == MILNCE_PK_STR) return a->len == b->len && memcmp(a->s, b->s, a->len) == 0;
    if (a->kind == MILNCE_PK_INT) return a->i == b->i;
    return 0;
}

/* d[k] = x, replacing an equal string or integer key as Python would. */
static int dict_set(vm *v, milnce_pk *d, milnce_pk *k, milnce_pk *x) {
    if (d->kind != MILNCE_PK_DICT) return fail(v, MILNCE_ERR_FORMAT, "SETITEM on something that is not a dict");
    for (size_t i = 0; i + 1 < d->n; i += 2)
        if (key_equal(d->items[i], k)) {
            d->items[i + 1] = x;
            return 0;
        }
    int ret;
    if ((ret = add_item(v, d, k)) < 0) return ret;
    return add_item(v, d, x);
}

/* Pops everything above the last mark (and the mark) into a fresh container. */
static int pop_mark(vm *v, milnce_pk_kind kind, milnce_pk **out) {
    if (!v->mn) return fail(v, MILNCE_ERR_FORMAT, "no MARK before a collecting opcode");
    size_t m = v->marks[--v->mn];
    milnce_pk *c = new_val(v, kind);
    if (!c) return milnce_error_set(v->err, MILNCE_ERR_NOMEM, "%s: pickle values", v->name);
    for (size_t i = m; i < v->sn; i++) {
        int ret = add_item(v, c, v->stack[i]);
        if (ret < 0) return ret;
    }
    v->sn = m;
    *out = c;
    return 0;
}

static int make_str(vm *v, size_t len, milnce_pk_kind kind) {
    int ret = need(v, len);
    if (ret < 0) return ret;
    milnce_pk *x = new_val(v, kind);
    if (!x || !(x->s = malloc(len + 1))) return milnce_error_set(v->err, MILNCE_ERR_NOMEM, "%s: pickle string", v->name);
    memcpy(x->s, v->b + v->p, len);
    x->s[len] = '\0';
    x->len = len;
    v->p += len;
    return push(v, x);
}

static int lookup_global(vm *v, const char *mod, size_t ml, const char *nm, size_t nl) {
    milnce_pk *g = new_val(v, MILNCE_PK_GLOBAL);
    if (!g) return milnce_error_set(v->err, MILNCE_ERR_NOMEM, "%s: pickle values", v->name);
#define IS(a, b) (ml == strlen(a) && memcmp(mod, a, ml) == 0 && nl == strlen(b) && memcmp(nm, b, nl) == 0)
    if (IS("collections", "OrderedDict")) g->i = G_ODICT;
    else if (IS("torch._utils", "_rebuild_tensor_v2")) g->i = G_REBUILD_V2;
    else if (IS("torch._utils", "_rebuild_tensor")) g->i = G_REBUILD;
    else if (IS("torch._utils", "_rebuild_parameter")) g->i = G_PARAM;
    else if (ml == 5 && memcmp(mod, "torch", 5) == 0) {
        for (size_t k = 0; k < sizeof STORAGES / sizeof STORAGES[0]; k++)
            if (nl == strlen(STORAGES[k].name) && memcmp(nm, STORAGES[k].name, nl) == 0) {
                g->i = G_STORAGE;
                g->dtype = STORAGES[k].dtype;
            }
    }
#undef IS
    if (!g->i)
        return milnce_error_set(v->err, MILNCE_ERR_UNSUPPORTED,
                                "%s: pickle byte %zu: refers to %.*s.%.*s, which is not something torch.save writes for a "
                                "dict of tensors; refused (it is never imported or run)",
                                v->name, v->op_at, (int)(ml > 80 ? 80 : ml), mod, (int)(nl > 80 ? 80 : nl), nm);
    return push(v, g);
}

static int get_int(const milnce_pk *x, int64_t *out) {
    if (!x || x->kind != MILNCE_PK_INT) return -1;
    *out = x->i;
    return 0;
}

/* (storage, offset, size, stride, ...) -> TENSOR */
static int rebuild_tensor(vm *v, const milnce_pk *args, milnce_pk **out) {
    if (args->kind != MILNCE_PK_TUPLE || args->n < 4 || !args->items[0] || args->items[0]->kind != MILNCE_PK_STORAGE)
        return fail(v, MILNCE_ERR_FORMAT, "_rebuild_tensor without (storage, offset, size, stride)");
    const milnce_pk *size = args->items[2], *stride = args->items[3];
    milnce_pk *t = new_val(v, MILNCE_PK_TENSOR);
    if (!t) return milnce_error_set(v->err, MILNCE_ERR_NOMEM, "%s: pickle values", v->name);
    t->storage = args->items[0];
    if (get_int(args->items[1], &t->offset) < 0 || t->offset < 0) return fail(v, MILNCE_ERR_FORMAT, "tensor storage offset is not a non-negative integer");
    if (size->kind != MILNCE_PK_TUPLE || stride->kind != MILNCE_PK_TUPLE || size->n != stride->n)
        return fail(v, MILNCE_ERR_FORMAT, "tensor size and stride are not tuples of one length");
    if (size->n > MILNCE_PK_MAX_DIMS) return fail(v, MILNCE_ERR_UNSUPPORTED, "tensor with more than 8 dimensions");
    t->ndim = (int)size->n;
    for (int d = 0; d < t->ndim; d++)
        if (get_int(size->items[d], &t->shape[d]) < 0 || get_int(stride->items[d], &t->stride[d]) < 0 || t->shape[d] < 0 ||
            t->stride[d] < 0)
            return fail(v, MILNCE_ERR_FORMAT, "tensor size or stride is not a non-negative integer");
    *out = t;
    return 0;
}

static int do_reduce(vm *v) {
    milnce_pk *args = pop(v), *fn = pop(v), *res = NULL;
    int ret;
    if (!args || !fn) return fail(v, MILNCE_ERR_FORMAT, "REDUCE on an empty stack");
    if (fn->kind != MILNCE_PK_GLOBAL || args->kind != MILNCE_PK_TUPLE)
        return fail(v, MILNCE_ERR_UNSUPPORTED, "REDUCE of something that is not an allowed global; refused");
    switch (fn->i) {
    case G_ODICT:
        if (args->n) return fail(v, MILNCE_ERR_UNSUPPORTED, "OrderedDict built from arguments; refused");
        res = new_val(v, MILNCE_PK_DICT);
        break;
    case G_REBUILD_V2:
    case G_REBUILD:
        if ((ret = rebuild_tensor(v, args, &res)) < 0) return ret;
        break;
    case G_PARAM: /* (data, requires_grad, backward_hooks): the data is what matters */
        if (args->n < 1 || args->items[0]->kind != MILNCE_PK_TENSOR) return fail(v, MILNCE_ERR_FORMAT, "_rebuild_parameter without a tensor");
        res = args->items[0];
        break;
    default:
        return fail(v, MILNCE_ERR_UNSUPPORTED, "a storage class called as a function; refused");
    }
    return push(v, res);
}

/* ("storage", <Type>Storage, key, location, numel[, view_metadata]) -> STORAGE */
static int do_persid(vm *v) {
    milnce_pk *pid = pop(v);
    if (!pid || pid->kind != MILNCE_PK_TUPLE || pid->n < 5 || pid->items[0]->kind != MILNCE_PK_STR ||
        strcmp(pid->items[0]->s, "storage") != 0)
        return fail(v, MILNCE_ERR_UNSUPPORTED, "a persistent id that is not a torch storage");
    const milnce_pk *cls = pid->items[1], *key = pid->items[2];
    if (cls->kind != MILNCE_PK_GLOBAL || cls->i != G_STORAGE) return fail(v, MILNCE_ERR_UNSUPPORTED, "storage of an unknown type");
    if (key->kind != MILNCE_PK_STR) return fail(v, MILNCE_ERR_FORMAT, "storage key is not a string");
    if (pid->n > 5 && pid->items[5]->kind != MILNCE_PK_NONE)
        return fail(v, MILNCE_ERR_UNSUPPORTED, "a storage view (torch < 0.4 files) is not supported");
    milnce_pk *s = new_val(v, MILNCE_PK_STORAGE);
    if (!s) return milnce_error_set(v->err, MILNCE_ERR_NOMEM, "%s: pickle values", v->name);
    s->dtype = cls->dtype;
    s->s = key->s; /* owned by the key value, which lives in the same arena */
    s->len = key->len;
    if (get_int(pid->items[4], &s->i) < 0 || s->i < 0) return fail(v, MILNCE_ERR_FORMAT, "storage size is not a non-negative integer");
    return push(v, s);
}

static int memo_put(vm *v, uint64_t idx) {
    milnce_pk *x = top(v);
    if (!x) return fail(v, MILNCE_ERR_FORMAT, "PUT on an empty stack");
    if (idx >= MAX_MEMO) return fail(v, MILNCE_ERR_FORMAT, "memo index beyond any torch.save file");
    if (idx >= v->memocap) {
        size_t old = v->memocap, c = old ? old : 256;
        while (c <= idx) c *= 2;
        milnce_pk **m = realloc(v->memo, c * sizeof *m);
        if (!m) return milnce_error_set(v->err, MILNCE_ERR_NOMEM, "%s: pickle memo", v->name);
        memset(m + old, 0, (c - old) * sizeof *m);
        v->memo = m;
        v->memocap = c;
    }
    v->memo[idx] = x;
    return 0;
}

static int memo_get(vm *v, uint64_t idx) {
    if (idx >= v->memocap || !v->memo[idx]) return fail(v, MILNCE_ERR_FORMAT, "GET of a memo slot never PUT");
    return push(v, v->memo[idx]);
}

/* The literal-value opcodes (None, bools, ints, floats, strings and bytes): pushes the value.
 * Returns NOT_LITERAL for any other opcode. */
enum { NOT_LITERAL = 1 };
static int op_literal(vm *v, uint8_t op) {
    int ret = 0;
    milnce_pk *x;
    uint64_t u;
    switch (op) {
    case 'N': ret = push(v, new_val(v, MILNCE_PK_NONE)); break;
    case 0x88: case 0x89:
        if ((x = new_val(v, MILNCE_PK_BOOL))) x->i = op == 0x88;
        ret = push(v, x);
        break;
    case 'J': case 'K': case 'M': { /* BININT (signed 4), BININT1, BININT2 */
        int k = op == 'J' ? 4 : op == 'K' ? 1 : 2;
        if ((ret = need(v, (size_t)k)) < 0) return ret;
        u = rd_le(v->b + v->p, k);
        v->p += (size_t)k;
        if ((x = new_val(v, MILNCE_PK_INT))) x->i = op == 'J' ? (int64_t)(int32_t)(uint32_t)u : (int64_t)u;
        ret = push(v, x);
        break;
    }
    case 0x8a: { /* LONG1: n bytes of little-endian two's complement */
        if ((ret = need(v, 1)) < 0) return ret;
        size_t k = v->b[v->p++];
        if ((ret = need(v, k)) < 0) return ret;
        if (k > 8) { /* torch's legacy magic number is 10 bytes: kept as bytes */
            ret = make_str(v, k, MILNCE_PK_BIGINT);
            break;
        }
        u = k ? rd_le(v->b + v->p, (int)k) : 0;
        if (k && k < 8 && (v->b[v->p + k - 1] & 0x80)) u |= ~(uint64_t)0 << (8 * k);
        v->p += k;
        if ((x = new_val(v, MILNCE_PK_INT))) x->i = (int64_t)u;
        ret = push(v, x);
        break;
    }
    case 'G': { /* BINFLOAT, big-endian */
        if ((ret = need(v, 8)) < 0) return ret;
        uint64_t bits = 0;
        for (int i = 0; i < 8; i++) bits = bits << 8 | v->b[v->p + i];
        v->p += 8;
        double d;
        memcpy(&d, &bits, sizeof d);
        if ((x = new_val(v, MILNCE_PK_FLOAT))) x->f = d;
        ret = push(v, x);
        break;
    }
    case 'X': case 0x8c: case 0x8d: case 'T': case 'U': case 'B': case 'C': case 0x8e: {
        int k = (op == 0x8c || op == 'U' || op == 'C') ? 1 : (op == 0x8d || op == 0x8e) ? 8 : 4;
        if ((ret = need(v, (size_t)k)) < 0) return ret;
        u = rd_le(v->b + v->p, k);
        v->p += (size_t)k;
        if (u > v->n - v->p) return fail(v, MILNCE_ERR_FORMAT, "a string longer than the rest of the file (truncated?)");
        ret = make_str(v, (size_t)u, (op == 'B' || op == 'C' || op == 0x8e) ? MILNCE_PK_BYTES : MILNCE_PK_STR);
        break;
    }
    default: return NOT_LITERAL;
    }
    return ret;
}

static int run(vm *v) {
    int ret = 0;
    size_t memo_next = 0;
    for (;;) {
        if (v->p >= v->n) return fail(v, MILNCE_ERR_FORMAT, "ends before STOP (truncated file)");
        v->op_at = v->p;
        uint8_t op = v->b[v->p++];
        milnce_pk *x, *y, *z;
        uint64_t u;
        switch (op) {
        case 0x80: /* PROTO */
            if ((ret = need(v, 1)) < 0) return ret;
            if (v->b[v->p++] > 5) return fail(v, MILNCE_ERR_UNSUPPORTED, "pickle protocol above 5");
            break;
        case 0x95: /* FRAME: a length hint */
            if ((ret = need(v, 8)) < 0) return ret;
            v->p += 8;
            break;
        case '.': /* STOP */
            if (v->sn != 1 || v->mn) return fail(v, MILNCE_ERR_FORMAT, "STOP with a stack that does not hold one value");
            v->pk->root = v->stack[0];
            return 0;
        case '(':
            if (grow((void **)&v->marks, &v->mcap, v->mn + 1, sizeof *v->marks) < 0)
                return milnce_error_set(v->err, MILNCE_ERR_NOMEM, "%s: pickle marks", v->name);
            if (v->mn >= MAX_STACK) return fail(v, MILNCE_ERR_FORMAT, "too many MARKs");
            v->marks[v->mn++] = v->sn;
            break;
        case ')': ret = push(v, new_val(v, MILNCE_PK_TUPLE)); break;
        case ']': ret = push(v, new_val(v, MILNCE_PK_LIST)); break;
        case '}': ret = push(v, new_val(v, MILNCE_PK_DICT)); break;
        case 't':
        case 'l':
            if ((ret = pop_mark(v, op == 't' ? MILNCE_PK_TUPLE : MILNCE_PK_LIST, &x)) < 0) return ret;
            ret = push(v, x);
            break;
        case 0x85: case 0x86: case 0x87: { /* TUPLE1..3 */
            int k = op - 0x84;
            milnce_pk *it[3];
            for (int i = k - 1; i >= 0; i--)
                if (!(it[i] = pop(v))) return fail(v, MILNCE_ERR_FORMAT, "TUPLEn on a short stack");
            if (!(x = new_val(v, MILNCE_PK_TUPLE))) return milnce_error_set(v->err, MILNCE_ERR_NOMEM, "%s", v->name);
            for (int i = 0; i < k; i++)
                if ((ret = add_item(v, x, it[i])) < 0) return ret;
            ret = push(v, x);
            break;
        }
        case 'a': /* APPEND */
            if (!(x = pop(v)) || !(y = top(v)) || y->kind != MILNCE_PK_LIST) return fail(v, MILNCE_ERR_FORMAT, "APPEND without a list");
            ret = add_item(v, y, x);
            break;
        case 'e': /* APPENDS */
            if ((ret = pop_mark(v, MILNCE_PK_TUPLE, &x)) < 0) return ret;
            if (!(y = top(v)) || y->kind != MILNCE_PK_LIST) return fail(v, MILNCE_ERR_FORMAT, "APPENDS without a list");
            for (size_t i = 0; i < x->n && ret == 0; i++) ret = add_item(v, y, x->items[i]);
            break;
        case 's': /* SETITEM */
            if (!(x = pop(v)) || !(y = pop(v)) || !(z = top(v))) return fail(v, MILNCE_ERR_FORMAT, "SETITEM on a short stack");
            ret = dict_set(v, z, y, x);
            break;
        case 'u': /* SETITEMS */
        case 'd': /* DICT */
            if ((ret = pop_mark(v, MILNCE_PK_TUPLE, &x)) < 0) return ret;
            if (x->n % 2) return fail(v, MILNCE_ERR_FORMAT, "SETITEMS with an odd number of values");
            if (op == 'd') {
                if ((ret = push(v, new_val(v, MILNCE_PK_DICT))) < 0) return ret;
            }
            if (!(z = top(v))) return fail(v, MILNCE_ERR_FORMAT, "SETITEMS without a dict");
            for (size_t i = 0; i + 1 < x->n && ret == 0; i += 2) ret = dict_set(v, z, x->items[i], x->items[i + 1]);
            break;
        case 'q': case 'r':
            if ((ret = need(v, op == 'q' ? 1 : 4)) < 0) return ret;
            u = rd_le(v->b + v->p, op == 'q' ? 1 : 4);
            v->p += op == 'q' ? 1 : 4;
            ret = memo_put(v, u);
            break;
        case 0x94: /* MEMOIZE */
            ret = memo_put(v, memo_next++);
            break;
        case 'h': case 'j':
            if ((ret = need(v, op == 'h' ? 1 : 4)) < 0) return ret;
            u = rd_le(v->b + v->p, op == 'h' ? 1 : 4);
            v->p += op == 'h' ? 1 : 4;
            ret = memo_get(v, u);
            break;
        case 'c': { /* GLOBAL "module\nname\n" */
            const uint8_t *m = v->b + v->p, *e1 = memchr(m, '\n', v->n - v->p);
            if (!e1) return fail(v, MILNCE_ERR_FORMAT, "GLOBAL without its module line (truncated?)");
            const uint8_t *nm = e1 + 1, *e2 = memchr(nm, '\n', (size_t)(v->b + v->n - nm));
            if (!e2) return fail(v, MILNCE_ERR_FORMAT, "GLOBAL without its name line (truncated?)");
            v->p = (size_t)(e2 + 1 - v->b);
            ret = lookup_global(v, (const char *)m, (size_t)(e1 - m), (const char *)nm, (size_t)(e2 - nm));
            break;
        }
        case 0x93: /* STACK_GLOBAL */
            if (!(y = pop(v)) || !(x = pop(v)) || x->kind != MILNCE_PK_STR || y->kind != MILNCE_PK_STR)
                return fail(v, MILNCE_ERR_FORMAT, "STACK_GLOBAL without module and name strings");
            ret = lookup_global(v, x->s, x->len, y->s, y->len);
            break;
        case 'R': ret = do_reduce(v); break;
        case 'Q': ret = do_persid(v); break;
        case 'b': /* BUILD: only the attribute dict of an OrderedDict (state_dict._metadata) */
            if (!(x = pop(v)) || !(y = top(v))) return fail(v, MILNCE_ERR_FORMAT, "BUILD on a short stack");
            if (y->kind != MILNCE_PK_DICT && y->kind != MILNCE_PK_TENSOR)
                return fail(v, MILNCE_ERR_UNSUPPORTED, "BUILD (object state) of something that is not a dict or tensor; refused");
            break; /* the state is not needed: ignored */
        default: {
            if ((ret = op_literal(v, op)) != NOT_LITERAL) break;
            char what[160];
            snprintf(what, sizeof what, "opcode 0x%02x is not one torch.save writes for a dict of tensors; refused", op);
            return fail(v, MILNCE_ERR_UNSUPPORTED, what);
        }
        }
        if (ret < 0) return ret;
    }
}

int milnce_pickle_load(milnce_pickle *pk, const uint8_t *buf, size_t n, size_t *used, const char *name,
                       milnce_error *err) {
    memset(pk, 0, sizeof *pk);
    vm v = {.pk = pk, .b = buf, .n = n, .name = name, .err = err};
    int ret = run(&v);
    if (ret == 0 && used) *used = v.p;
    free(v.stack);
    free(v.marks);
    free(v.memo);
    if (ret < 0) milnce_pickle_free(pk);
    return ret;
}

void milnce_pickle_free(milnce_pickle *pk) {
    for (size_t i = 0; i < pk->narena; i++) {
        milnce_pk *x = pk->arena[i];
        if (x->kind != MILNCE_PK_STORAGE) free(x->s); /* a storage borrows its key's string */
        free(x->items);
        free(x);
    }
    free(pk->arena);
    memset(pk, 0, sizeof *pk);
}

const milnce_pk *milnce_pk_get(const milnce_pk *d, const char *key) {
    if (!d || d->kind != MILNCE_PK_DICT) return NULL;
    for (size_t i = 0; i + 1 < d->n; i += 2)
        if (d->items[i]->kind == MILNCE_PK_STR && strcmp(d->items[i]->s, key) == 0) return d->items[i + 1];
    return NULL;
}
