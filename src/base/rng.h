/* Deterministic random numbers: xoshiro256** (Blackman & Vigna) seeded by splitmix64.
 *
 * The whole state is 4 x u64 with no hidden cache (normal() draws two uniforms and uses both
 * through Box-Muller's cosine branch only), so a state saved in a checkpoint and restored gives
 * exactly the sequence the uninterrupted run would have drawn. Independent streams for workers
 * or ranks come from milnce_rng_seed_stream() (different splitmix64 start) or from
 * milnce_rng_jump() (2^128 draws apart, non-overlapping). */
#ifndef MILNCE_RNG_H
#define MILNCE_RNG_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

typedef struct milnce_rng {
    uint64_t s[4]; /* never all zero */
} milnce_rng;

/* Characters needed by milnce_rng_to_string including the NUL: 64 hex digits + NUL. */
#define MILNCE_RNG_STATE_CHARS 65

/* splitmix64 (Steele, Lea & Flood; Vigna's constants): adds the golden-ratio increment to *state
 * and returns the mixed result. The one copy of it: it seeds xoshiro here, draws the model's
 * deterministic initial weights (model.c, stateless: a copy of key + index as the state) and the
 * synthetic corpus (synth_script.c), so none of those streams may change when it is edited. */
uint64_t milnce_splitmix64(uint64_t *state);

void milnce_rng_seed(milnce_rng *r, uint64_t seed);
/* Stream `stream` of seed: for worker w of rank q use e.g. stream = q * 1024 + w. */
void milnce_rng_seed_stream(milnce_rng *r, uint64_t seed, uint64_t stream);
/* Advances by 2^128 draws: successive jumps give non-overlapping sub-sequences. */
void milnce_rng_jump(milnce_rng *r);

uint64_t milnce_rng_u64(milnce_rng *r);
/* Uniform in [0, 1): 53 random bits (double), 24 (float). */
double milnce_rng_uniform(milnce_rng *r);
float milnce_rng_uniformf(milnce_rng *r);
/* Uniform integer in [0, n), unbiased (Lemire's multiply + rejection); 0 when n == 0. */
uint64_t milnce_rng_below(milnce_rng *r, uint64_t n);
/* Standard normal (Box-Muller, one value per two uniforms, no cached spare). */
double milnce_rng_normal(milnce_rng *r);
/* Fisher-Yates shuffle of n ints in place. */
void milnce_rng_shuffle_int(milnce_rng *r, int *a, size_t n);

/* State as 64 lower-case hex digits (s[0]..s[3], each 16 digits, most significant first);
 * buf must hold MILNCE_RNG_STATE_CHARS. */
void milnce_rng_to_string(const milnce_rng *r, char *buf);
/* Parses what milnce_rng_to_string wrote; MILNCE_ERR_FORMAT on anything else (wrong length,
 * non-hex, all-zero state). r is unchanged on error. */
int milnce_rng_from_string(milnce_rng *r, const char *s, milnce_error *err);

#endif
