/* bf16 x bf16 -> fp32 GEMM on AVX512_BF16 (vdpbf16ps), blocked as BLIS/GotoBLAS do.
 *
 * vdpbf16ps multiplies 16 lanes of bf16 pairs: c[j] += a[2j]*b[2j] + a[2j+1]*b[2j+1], both
 * products exact in fp32 (8-bit x 8-bit significands), the sums rounded to fp32 (denormal
 * inputs and outputs flushed to zero). So operands are packed as pairs along K:
 *  - A panel, MR rows: for each pair p of k, MR 32-bit words (A[i][2p] low, A[i][2p+1] high),
 *    one word broadcast to all lanes per row;
 *  - B panel, NR columns: for each pair p, NR 32-bit words (B[2p][j] low, B[2p+1][j] high),
 *    NR/16 zmm loads.
 * An odd K is padded with a zero k; rows and columns past M, N with zeros (never stored).
 * Operands are converted 16 or 32 at a time (vcvtneps2bf16 / vcvtne2ps2bf16, round to nearest
 * even, like milnce_bf16_round except that subnormal inputs become 0, as vdpbf16ps would treat
 * them anyway); the 16x16 word transposes put k-contiguous lines into panel order.
 * Loops (outer to inner): NC columns of B -> K blocks of at most KC (equal, even) -> pack B
 * (KC x NC bf16, 1.2 MB, L2/L3) -> MC rows of A (pack A, MC x KC, 147 kB, L2; or the weights
 * packed once per layer pass, milnce_gemm_pack_a) -> NR columns (a B micro-panel, KC x NR,
 * 36 kB, stays in L1) -> MR rows -> the 8x48 micro-kernel: 24 zmm accumulators, 3 B loads and
 * 8 broadcasts per 24 vdpbf16ps, the C tile prefetched while it runs. MR = 8 divides every
 * channel count of S3D-G.
 * Summation order is fixed by the blocking, not by timing: results are deterministic. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "error.h"
#include "gemm.h"

#define MR 8
#define NR 48
#define KC 384 /* most k values per block (K is cut into equal even blocks of at most KC) */
#define MC 192
#define NC 1536

float milnce_bf16_round(float x) {
    uint32_t u;
    memcpy(&u, &x, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) u |= 0x00400000u; /* NaN: keep it, quiet */
    else u += 0x7fffu + ((u >> 16) & 1u);                    /* nearest, ties to even */
    u &= 0xffff0000u;
    memcpy(&x, &u, 4);
    return x;
}

size_t milnce_gemm_ws_bytes(int prec) {
    if (prec != MILNCE_PREC_BF16) return 0;
    /* B panel NC x KC, A panel MC x KC (2 bytes each), C tile for edges, alignment */
    return (size_t)NC * KC * 2 + (size_t)MC * KC * 2 + 256;
}

static int cblas_fallback(int transA, int transB, int M, int N, int K, float alpha,
                          const float *A, int lda, const float *B, int ldb, float beta, float *C,
                          int ldc) {
    cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans,
                transB ? CblasTrans : CblasNoTrans, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    return 0;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#define BF16_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))

int milnce_bf16_supported(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bf16");
}

/* Pairs (x[2q], x[2q+1]), q < 16, of 32 consecutive floats (n of them real, the rest 0) as
 * 16 words, k even in the low half: cvtne2ps puts its second operand's 16 bf16 first. */
BF16_TARGET static inline __m512i pairs_contig(const float *x, int n) {
    __mmask16 m0 = n >= 16 ? 0xffff : (__mmask16)((1u << n) - 1);
    __mmask16 m1 = n >= 32 ? 0xffff : n <= 16 ? 0 : (__mmask16)((1u << (n - 16)) - 1);
    __m512 lo = _mm512_maskz_loadu_ps(m0, x), hi = _mm512_maskz_loadu_ps(m1, x + 16);
    return (__m512i)_mm512_cvtne2ps_pbh(hi, lo);
}

/* Words of two rows r0, r1 (r1 NULL: zeros), w <= 16 floats each, interleaved pairwise:
 * word j = (r0[j] low, r1[j] high). */
BF16_TARGET static inline __m512i pairs_rows(const float *r0, const float *r1, int w) {
    __mmask16 m = w >= 16 ? 0xffff : (__mmask16)((1u << w) - 1);
    __m512 x0 = _mm512_maskz_loadu_ps(m, r0);
    __m512 x1 = r1 ? _mm512_maskz_loadu_ps(m, r1) : _mm512_setzero_ps();
    __m512i lo = _mm512_cvtepu16_epi32((__m256i)_mm512_cvtneps_pbh(x0));
    __m512i hi = _mm512_cvtepu16_epi32((__m256i)_mm512_cvtneps_pbh(x1));
    return _mm512_or_si512(lo, _mm512_slli_epi32(hi, 16));
}

/* 16x16 transpose of 32-bit words: r[i] word c -> r[c] word i. Words (4 in a 128-bit lane)
 * are interleaved within lanes (two unpack stages), then whole lanes are moved (shuffle_i32x4):
 * after the unpacks, s[g][j] holds in lane L the rows 4g..4g+3 of column 4L+j. */
BF16_TARGET static inline void transpose16(__m512i r[16]) {
    __m512i t[16], s[16];
    for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm512_unpacklo_epi32(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_epi32(r[2 * i], r[2 * i + 1]);
    }
    for (int g = 0; g < 4; g++) {
        s[4 * g + 0] = _mm512_unpacklo_epi64(t[4 * g], t[4 * g + 2]);
        s[4 * g + 1] = _mm512_unpackhi_epi64(t[4 * g], t[4 * g + 2]);
        s[4 * g + 2] = _mm512_unpacklo_epi64(t[4 * g + 1], t[4 * g + 3]);
        s[4 * g + 3] = _mm512_unpackhi_epi64(t[4 * g + 1], t[4 * g + 3]);
    }
    for (int j = 0; j < 4; j++) { /* 4x4 transpose of lanes of s[0..3][j] */
        __m512i x0 = _mm512_shuffle_i32x4(s[j], s[4 + j], 0x44);
        __m512i x1 = _mm512_shuffle_i32x4(s[j], s[4 + j], 0xee);
        __m512i x2 = _mm512_shuffle_i32x4(s[8 + j], s[12 + j], 0x44);
        __m512i x3 = _mm512_shuffle_i32x4(s[8 + j], s[12 + j], 0xee);
        r[j] = _mm512_shuffle_i32x4(x0, x2, 0x88);
        r[4 + j] = _mm512_shuffle_i32x4(x0, x2, 0xdd);
        r[8 + j] = _mm512_shuffle_i32x4(x1, x3, 0x88);
        r[12 + j] = _mm512_shuffle_i32x4(x1, x3, 0xdd);
    }
}

/* Pack a (kc x w) block whose w lines run along the panel width (an op(B) row or an op(A)
 * column is contiguous: line l starts at src + l*ld) as dst[p][l], width R (8 or a multiple
 * of 16; lines w..R-1 zero): 16 lines x 16 pairs converted, transposed, stored by pair. */
BF16_TARGET static void pack_lines(uint32_t *dst, int R, const float *src, size_t ld, int w,
                                   int kc) {
    const int kp = (kc + 1) / 2, step = R < 16 ? R : 16;
    for (int l0 = 0; l0 < R; l0 += step) {
        for (int p = 0; p < kp; p += 16) {
            __m512i r[16];
            for (int i = 0; i < 16; i++)
                r[i] = i < step && l0 + i < w
                           ? pairs_contig(src + (size_t)(l0 + i) * ld + 2 * p, kc - 2 * p)
                           : _mm512_setzero_si512();
            transpose16(r);
            const int q1 = kp - p < 16 ? kp - p : 16;
            uint32_t *d = dst + (size_t)p * R + l0;
            for (int q = 0; q < q1; q++, d += R) {
                if (step == 16) _mm512_storeu_si512((void *)d, r[q]);
                else _mm256_storeu_si256((__m256i *)d, _mm512_castsi512_si256(r[q]));
            }
        }
    }
}

/* Pack a (kc x w) block stored by k (row k starts at src + k*ld, w contiguous floats) as
 * dst[p][l], width R (a multiple of 16 or 8). */
BF16_TARGET static void pack_rows(uint32_t *dst, int R, const float *src, size_t ld, int w,
                                  int kc) {
    const int kp = (kc + 1) / 2;
    for (int p = 0; p < kp; p++) {
        const float *r0 = src + (size_t)2 * p * ld;
        const float *r1 = 2 * p + 1 < kc ? r0 + ld : NULL;
        uint32_t *d = dst + (size_t)p * R;
        for (int v = 0; v < R; v += 16) {
            const int n = w - v < 16 ? (w - v > 0 ? w - v : 0) : 16;
            __m512i x = n ? pairs_rows(r0 + v, r1 ? r1 + v : NULL, n) : _mm512_setzero_si512();
            if (R - v >= 16) _mm512_storeu_si512((void *)(d + v), x);
            else _mm256_storeu_si256((__m256i *)(d + v), _mm512_castsi512_si256(x));
        }
    }
}

/* Pack an operand's rows [k0, k0+kc) of k and its lines [l0, l0+len) (rows of op(A), columns
 * of op(B)) into R-wide panels dst[panel][p][l]. by_k: element (k, l) is X[k*ld + l] (op(A)
 * transposed, op(B) as stored), else X[l*ld + k]. */
BF16_TARGET static void pack_panels(uint32_t *dst, int R, const float *X, int ld, int by_k, int k0,
                                    int kc, int l0, int len) {
    const int kp = (kc + 1) / 2;
    for (int lp = 0; lp < len; lp += R) {
        const int w = len - lp < R ? len - lp : R;
        uint32_t *d = dst + (size_t)(lp / R) * kp * R;
        if (by_k) pack_rows(d, R, X + (size_t)k0 * ld + l0 + lp, (size_t)ld, w, kc);
        else pack_lines(d, R, X + (size_t)(l0 + lp) * ld + k0, (size_t)ld, w, kc);
    }
}

/* op(B) rows [k0, k0+kc), columns [j0, j0+nc) in NR-wide panels. */
static void pack_b(uint32_t *dst, const float *B, int ldb, int transB, int k0, int kc, int j0,
                   int nc) {
    pack_panels(dst, NR, B, ldb, !transB, k0, kc, j0, nc);
}

/* op(A) rows [i0, i0+mc), k [k0, k0+kc) in MR-row panels. */
static void pack_a(uint32_t *dst, const float *A, int lda, int transA, int i0, int mc, int k0,
                   int kc) {
    pack_panels(dst, MR, A, lda, transA, k0, kc, i0, mc);
}

/* C tile (m <= MR, n <= NR) = alpha * a-panel . b-panel + beta * C over kp pairs. first: this
 * is the first K block (beta applies), else the tile accumulates (C += alpha * ...). */
BF16_TARGET static void kernel_8x48(int kp, const uint32_t *a, const uint32_t *b, float *C,
                                    int ldc, int m, int n, float alpha, float beta, int first) {
    __m512 c[MR][3];
    /* the C tile's rows are ldc apart: fetch them now, their misses hide behind the loop */
    for (int i = 0; i < m; i++) {
        const char *ci = (const char *)(C + (size_t)i * ldc);
        _mm_prefetch(ci, _MM_HINT_T0);
        _mm_prefetch(ci + 64, _MM_HINT_T0);
        _mm_prefetch(ci + 128, _MM_HINT_T0);
    }
#pragma GCC unroll 8
    for (int i = 0; i < MR; i++)
#pragma GCC unroll 3
        for (int v = 0; v < 3; v++) c[i][v] = _mm512_setzero_ps();
    for (int p = 0; p < kp; p++) {
        const __m512bh b0 = (__m512bh)_mm512_loadu_si512((const void *)(b));
        const __m512bh b1 = (__m512bh)_mm512_loadu_si512((const void *)(b + 16));
        const __m512bh b2 = (__m512bh)_mm512_loadu_si512((const void *)(b + 32));
#pragma GCC unroll 8
        for (int i = 0; i < MR; i++) {
            const __m512bh ai = (__m512bh)_mm512_set1_epi32((int)a[i]);
            c[i][0] = _mm512_dpbf16_ps(c[i][0], ai, b0);
            c[i][1] = _mm512_dpbf16_ps(c[i][1], ai, b1);
            c[i][2] = _mm512_dpbf16_ps(c[i][2], ai, b2);
        }
        a += MR;
        b += NR;
    }
    const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(first ? beta : 1.0f);
    const int read_c = !first || beta != 0.0f;
    __mmask16 mk[3];
    for (int v = 0; v < 3; v++) {
        int r = n - 16 * v;
        mk[v] = r >= 16 ? (__mmask16)0xffff : r <= 0 ? (__mmask16)0 : (__mmask16)((1u << r) - 1);
    }
#pragma GCC unroll 8
    for (int i = 0; i < MR; i++) {
        if (i >= m) break;
        float *ci = C + (size_t)i * ldc;
#pragma GCC unroll 3
        for (int v = 0; v < 3; v++) {
            __m512 r = _mm512_mul_ps(va, c[i][v]);
            if (read_c) r = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(mk[v], ci + 16 * v), r);
            _mm512_mask_storeu_ps(ci + 16 * v, mk[v], r);
        }
    }
}

/* K cut into equal even blocks of at most KC: a short last block would pay the tile's
 * write-back for little work. */
static int k_block(int K) {
    const int nkb = (K + KC - 1) / KC;
    int kb = (K + nkb - 1) / nkb;
    return kb + (kb & 1);
}

/* Words of op(A) (M, K) packed whole: per K block (k0), the MR-row panels of all M rows padded
 * to MR, so block k0 starts at word (k0/2)*Mpad and rows i0.. of it at i0*kp further. */
static size_t packed_a_words(int M, int K) {
    const size_t Mpad = (size_t)(M + MR - 1) / MR * MR;
    return Mpad * (size_t)((K + 1) / 2 + 1);
}

/* apre: op(A) packed whole (milnce_gemm_pack_a) or NULL (packed here, block by block, in ap). */
BF16_TARGET static void gemm_bf16(int transA, int transB, int M, int N, int K, float alpha,
                                  const float *A, int lda, const uint32_t *apre, const float *B,
                                  int ldb, float beta, float *C, int ldc, uint32_t *bp,
                                  uint32_t *ap) {
    const int kb = k_block(K);
    const size_t Mpad = (size_t)(M + MR - 1) / MR * MR;
    for (int j0 = 0; j0 < N; j0 += NC) {
        const int nc = N - j0 < NC ? N - j0 : NC;
        for (int k0 = 0; k0 < K; k0 += kb) {
            const int kc = K - k0 < kb ? K - k0 : kb, kp = (kc + 1) / 2;
            pack_b(bp, B, ldb, transB, k0, kc, j0, nc);
            for (int i0 = 0; i0 < M; i0 += MC) {
                const int mc = M - i0 < MC ? M - i0 : MC;
                const uint32_t *a = ap;
                if (apre) a = apre + (size_t)(k0 / 2) * Mpad + (size_t)i0 * kp;
                else pack_a(ap, A, lda, transA, i0, mc, k0, kc);
                for (int jr = 0; jr < nc; jr += NR) {
                    const uint32_t *bpan = bp + (size_t)(jr / NR) * kp * NR;
                    for (int ir = 0; ir < mc; ir += MR)
                        kernel_8x48(kp, a + (size_t)(ir / MR) * kp * MR, bpan,
                                    C + (size_t)(i0 + ir) * ldc + j0 + jr, ldc,
                                    mc - ir < MR ? mc - ir : MR, nc - jr < NR ? nc - jr : NR,
                                    alpha, beta, k0 == 0);
                }
            }
        }
    }
}

size_t milnce_gemm_packed_a_bytes(int prec, int M, int K) {
    if (prec != MILNCE_PREC_BF16 || M <= 0 || K <= 0) return 0;
    return packed_a_words(M, K) * sizeof(uint32_t);
}

int milnce_gemm_pack_a(int prec, void *dst, int transA, int M, int K, const float *A, int lda) {
    if (prec != MILNCE_PREC_BF16 || M <= 0 || K <= 0) return 0;
    if (!milnce_bf16_supported()) return MILNCE_ERR_UNSUPPORTED;
    const int kb = k_block(K);
    const size_t Mpad = (size_t)(M + MR - 1) / MR * MR;
    for (int k0 = 0; k0 < K; k0 += kb) {
        const int kc = K - k0 < kb ? K - k0 : kb;
        pack_a((uint32_t *)dst + (size_t)(k0 / 2) * Mpad, A, lda, transA, 0, M, k0, kc);
    }
    return 0;
}

int milnce_gemm_ex(int prec, int transA, int transB, int M, int N, int K, float alpha,
                   const float *A, int lda, const void *apacked, const float *B, int ldb,
                   float beta, float *C, int ldc, void *ws) {
    if (prec != MILNCE_PREC_BF16)
        return cblas_fallback(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    if (!milnce_bf16_supported()) return MILNCE_ERR_UNSUPPORTED;
    if (M <= 0 || N <= 0) return 0;
    if (K <= 0) { /* C = beta C, as BLAS */
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++)
                C[(size_t)i * ldc + j] = beta == 0.0f ? 0.0f : beta * C[(size_t)i * ldc + j];
        return 0;
    }
    void *own = NULL;
    if (!ws) {
        own = aligned_alloc(64, milnce_gemm_ws_bytes(prec));
        if (!own) return MILNCE_ERR_NOMEM;
        ws = own;
    }
    uint32_t *bp = ws;
    uint32_t *ap = bp + (size_t)NC * KC / 2;
    gemm_bf16(transA, transB, M, N, K, alpha, A, lda, apacked, B, ldb, beta, C, ldc, bp, ap);
    free(own);
    return 0;
}

int milnce_gemm(int prec, int transA, int transB, int M, int N, int K, float alpha,
                const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc,
                void *ws) {
    return milnce_gemm_ex(prec, transA, transB, M, N, K, alpha, A, lda, NULL, B, ldb, beta, C,
                          ldc, ws);
}

#else /* no x86-64: no bf16 kernel */

int milnce_bf16_supported(void) { return 0; }

size_t milnce_gemm_packed_a_bytes(int prec, int M, int K) { return 0; }

int milnce_gemm_pack_a(int prec, void *dst, int transA, int M, int K, const float *A, int lda) {
    return prec == MILNCE_PREC_BF16 ? MILNCE_ERR_UNSUPPORTED : 0;
}

int milnce_gemm_ex(int prec, int transA, int transB, int M, int N, int K, float alpha,
                   const float *A, int lda, const void *apacked, const float *B, int ldb,
                   float beta, float *C, int ldc, void *ws) {
    if (prec == MILNCE_PREC_BF16) return MILNCE_ERR_UNSUPPORTED;
    return cblas_fallback(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

int milnce_gemm(int prec, int transA, int transB, int M, int N, int K, float alpha,
                const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc,
                void *ws) {
    return milnce_gemm_ex(prec, transA, transB, M, N, K, alpha, A, lda, NULL, B, ldb, beta, C,
                          ldc, ws);
}

#endif
