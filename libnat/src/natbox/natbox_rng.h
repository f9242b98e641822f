/* libnat -- the generators of the NAT and link models and of the birthday
 * simulation (natbox_rand.c, link.c, birthday/sim.c): splitmix64 (a seed
 * into a stream or a state) and xoshiro256** (Blackman and Vigna), inline
 * because the simulation draws one number a probe. Private. */
#ifndef NAT_NATBOX_RNG_H
#define NAT_NATBOX_RNG_H

#include <stdint.h>

/** splitmix64: the next output of the stream whose state is *x. */
static inline uint64_t nat__splitmix64(uint64_t *x) {
  uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

static inline uint64_t nat__rotl64(uint64_t x, int k) {
  return (x << k) | (x >> (64 - k));
}

/** xoshiro256**: the next output of state @p s (not all zero). */
static inline uint64_t nat__xoshiro256ss(uint64_t s[4]) {
  uint64_t out = nat__rotl64(s[1] * 5, 7) * 9, t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = nat__rotl64(s[3], 45);
  return out;
}

/** A xoshiro256** state from a seed (through splitmix64, so never all
 * zero for any seed). */
static inline void nat__xoshiro_seed(uint64_t s[4], uint64_t seed) {
  for (int i = 0; i < 4; i++)
    s[i] = nat__splitmix64(&seed);
}

#endif
