/* 16-float vectors for the hand-vectorised loops of the layers (GCC vector extensions), and the
 * attribute that compiles a kernel for AVX-512, AVX2+FMA and the x86-64 baseline, the best one
 * the CPU runs picked at load time by feature (target_clones; by feature, not by CPU model:
 * "arch=skylake-avx512" would not match a Cascade Lake). So the library needs no -march flag.
 * fp-contract=fast lets a*b+c become one FMA (the library is built in ISO C mode, where GCC
 * would not contract). Not a public header. */
#ifndef MILNCE_SIMD_H
#define MILNCE_SIMD_H

typedef float milnce_vf __attribute__((vector_size(64)));
/* Unaligned access through the vector type (may_alias: the data are floats). Loads and stores
 * are macros, not functions: a vector argument or return value would change the baseline ABI. */
typedef float milnce_vf_u __attribute__((vector_size(64), aligned(4), may_alias));
#define MILNCE_VL 16
#define milnce_ldu(p) (*(const milnce_vf_u *)(p))
#define milnce_stu(p, v) (*(milnce_vf_u *)(p) = (v))

/* 8-float vectors for loops that compare: GCC 12 turns a comparison of 16-float vectors into
 * 16 scalar compares (AVX-512 compares give mask registers it does not convert back), while
 * 8-float (AVX) comparisons stay one instruction. */
typedef float milnce_vf8 __attribute__((vector_size(32)));
typedef int milnce_vi8 __attribute__((vector_size(32)));
typedef float milnce_vf8_u __attribute__((vector_size(32), aligned(4), may_alias));
typedef int milnce_vi8_u __attribute__((vector_size(32), aligned(4), may_alias));
#define MILNCE_VL8 8
#define milnce_ldu8(p) (*(const milnce_vf8_u *)(p))
#define milnce_stu8(p, v) (*(milnce_vf8_u *)(p) = (v))
#define milnce_ldi8(p) (*(const milnce_vi8_u *)(p))
#define milnce_sti8(p, v) (*(milnce_vi8_u *)(p) = (v))
#define milnce_and8(v, mask) ((milnce_vf8)((milnce_vi8)(v) & (mask)))

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define MILNCE_KERNEL                                                                          \
    __attribute__((target_clones("avx512f", "fma", "default"), optimize("fp-contract=fast")))
#else
#define MILNCE_KERNEL
#endif

#endif
