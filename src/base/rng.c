#include "rng.h"

#include <math.h>
#include <string.h>

uint64_t milnce_splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

void milnce_rng_seed(milnce_rng *r, uint64_t seed) {
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) r->s[i] = milnce_splitmix64(&x);
    /* splitmix64 output is a bijection of its counter, so four consecutive outputs cannot all
     * be zero; keep the guard anyway since an all-zero state would stick at zero. */
    if (!(r->s[0] | r->s[1] | r->s[2] | r->s[3])) r->s[0] = 1;
}

void milnce_rng_seed_stream(milnce_rng *r, uint64_t seed, uint64_t stream) {
    /* Mix the stream id through splitmix64 once so that nearby (seed, stream) pairs start far
     * apart in splitmix64's counter space. */
    uint64_t x = stream ^ 0x5851f42d4c957f2dULL;
    uint64_t h = milnce_splitmix64(&x);
    milnce_rng_seed(r, seed ^ h);
}

uint64_t milnce_rng_u64(milnce_rng *r) {
    uint64_t *s = r->s;
    const uint64_t result = rotl(s[1] * 5, 7) * 9;
    const uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

void milnce_rng_jump(milnce_rng *r) {
    static const uint64_t JUMP[] = {0x180ec6d33cfd0abaULL, 0xd5a61266f0c9392cULL,
                                    0xa9582618e03fc9aaULL, 0x39abdc4529b1661cULL};
    uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (int i = 0; i < 4; i++)
        for (int b = 0; b < 64; b++) {
            if (JUMP[i] & ((uint64_t)1 << b)) {
                s0 ^= r->s[0];
                s1 ^= r->s[1];
                s2 ^= r->s[2];
                s3 ^= r->s[3];
            }
            milnce_rng_u64(r);
        }
    r->s[0] = s0;
    r->s[1] = s1;
    r->s[2] = s2;
    r->s[3] = s3;
}

double milnce_rng_uniform(milnce_rng *r) { return (double)(milnce_rng_u64(r) >> 11) * 0x1.0p-53; }

float milnce_rng_uniformf(milnce_rng *r) { return (float)(milnce_rng_u64(r) >> 40) * 0x1.0p-24f; }

uint64_t milnce_rng_below(milnce_rng *r, uint64_t n) {
    if (n == 0) return 0;
    /* Lemire: the high word of x * n is uniform in [0, n) once the low word clears the bias. */
    unsigned __int128 m = (unsigned __int128)milnce_rng_u64(r) * n;
    uint64_t lo = (uint64_t)m;
    if (lo < n) {
        uint64_t thresh = -n % n;
        while (lo < thresh) {
            m = (unsigned __int128)milnce_rng_u64(r) * n;
            lo = (uint64_t)m;
        }
    }
    return (uint64_t)(m >> 64);
}

double milnce_rng_normal(milnce_rng *r) {
    /* u1 in (0, 1] so log never sees 0. */
    double u1 = 1.0 - milnce_rng_uniform(r);
    double u2 = milnce_rng_uniform(r);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

void milnce_rng_shuffle_int(milnce_rng *r, int *a, size_t n) {
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)milnce_rng_below(r, i);
        int t = a[i - 1];
        a[i - 1] = a[j];
        a[j] = t;
    }
}

void milnce_rng_to_string(const milnce_rng *r, char *buf) {
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 4; i++)
        for (int d = 0; d < 16; d++) buf[i * 16 + d] = hex[(r->s[i] >> (60 - 4 * d)) & 15];
    buf[64] = '\0';
}

int milnce_rng_from_string(milnce_rng *r, const char *s, milnce_error *err) {
    if (!s || strlen(s) != 64)
        return milnce_error_set(err, MILNCE_ERR_FORMAT, "rng state: expected 64 hex digits, got \"%.80s\"",
                                s ? s : "(null)");
    uint64_t v[4] = {0, 0, 0, 0};
    for (int i = 0; i < 64; i++) {
        char c = s[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                     : c >= 'A' && c <= 'F'             ? c - 'A' + 10
                                                                        : -1;
        if (d < 0)
            return milnce_error_set(err, MILNCE_ERR_FORMAT, "rng state: bad hex digit '%c' at %d", c, i);
        v[i / 16] = (v[i / 16] << 4) | (uint64_t)d;
    }
    if (!(v[0] | v[1] | v[2] | v[3]))
        return milnce_error_set(err, MILNCE_ERR_FORMAT, "rng state: all zero (not a valid xoshiro state)");
    memcpy(r->s, v, sizeof v);
    return 0;
}
