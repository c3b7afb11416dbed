/* Matrix products of the layers at a chosen arithmetic precision.
 *
 * fp32: OpenBLAS's cblas_sgemm. bf16: mixed precision as GPUs train, on CPUs with AVX512_BF16
 * (Zen 4 and later, Cooper Lake, Sapphire Rapids): both operands are rounded to bfloat16
 * (round to nearest even, 8 significant bits) as they are packed, products are exact in fp32
 * and summed in fp32 (vdpbf16ps), C and alpha/beta stay fp32. Debian's OpenBLAS 0.3.21
 * declares cblas_sbgemm but its libraries export none, so the kernel is milnce's own
 * (src/nn/gemm_bf16.c). Not a public header. */
#ifndef MILNCE_GEMM_H
#define MILNCE_GEMM_H

#include <stddef.h>

#include "milnce/context.h" /* MILNCE_PREC_*, milnce_bf16_supported */

/* Bytes of packing scratch one milnce_gemm call with MILNCE_PREC_BF16 needs (a constant:
 * panels are cut to fixed cache blocks). 0 for fp32. */
size_t milnce_gemm_ws_bytes(int prec);

/* C (M, N) = alpha op(A) op(B) + beta C, row-major, as cblas_sgemm(CblasRowMajor, ...):
 * op(A) (M, K) is A (M, K) with leading dimension lda, or A^T of A (K, M) when transA;
 * op(B) (K, N) likewise. beta 0 does not read C. ws: milnce_gemm_ws_bytes(prec) bytes,
 * any float alignment, or NULL (bf16 then allocates its own for the call). Single-threaded:
 * callers split work over their threads. MILNCE_PREC_BF16 on a CPU without bf16 is refused
 * (callers decide with milnce_bf16_supported). Returns 0, MILNCE_ERR_NOMEM (ws NULL and no
 * memory) or MILNCE_ERR_UNSUPPORTED (bf16 on a CPU without it). */
int milnce_gemm(int prec, int transA, int transB, int M, int N, int K, float alpha,
                const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc,
                void *ws);

/* A weight matrix used by many products (a conv layer's units) is packed once:
 * milnce_gemm_packed_a_bytes(prec, M, K) bytes (0 in fp32), filled by milnce_gemm_pack_a from
 * op(A) (M, K), then given to milnce_gemm_ex as apacked (A itself is then only read in fp32).
 * pack_a returns 0 or MILNCE_ERR_UNSUPPORTED. */
size_t milnce_gemm_packed_a_bytes(int prec, int M, int K);
int milnce_gemm_pack_a(int prec, void *dst, int transA, int M, int K, const float *A, int lda);
int milnce_gemm_ex(int prec, int transA, int transB, int M, int N, int K, float alpha,
                   const float *A, int lda, const void *apacked, const float *B, int ldb,
                   float beta, float *C, int ldc, void *ws);

/* float -> bfloat16 -> float, round to nearest even (NaN stays NaN): what a value becomes as a
 * bf16 operand. For tests and tolerance derivations. */
float milnce_bf16_round(float x);

#endif
