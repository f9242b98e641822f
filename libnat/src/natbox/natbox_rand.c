/* libnat -- the NAT model's PRNG (seeded per box, so runs repeat) and the
 * salted hash of its tables. Calls nothing else of the model. */
#include "natbox_internal.h"
#include "natbox_rng.h"

/** splitmix64 (natbox_rng.h): small, fast, and every seed gives a
 * full-period stream. */
uint64_t nat__nb_rand(nat_box *b) {
  return nat__splitmix64(&b->rng);
}

/** Uniform in [0, n) (n > 0), by rejection, so exactly uniform. */
uint32_t nat__nb_rand_below(nat_box *b, uint32_t n) {
  uint64_t lim = UINT64_MAX - UINT64_MAX % n;
  uint64_t r;
  do
    r = nat__nb_rand(b);
  while (r >= lim);
  return (uint32_t)(r % n);
}

/** Hash of a two-word key, salted per box. */
uint32_t nat__nb_hash(uint64_t salt, uint64_t a, uint64_t c) {
  uint64_t h = (a ^ salt) * 0x9e3779b97f4a7c15ULL;
  h ^= c + 0x632be59bd9b4e019ULL + (h << 6) + (h >> 2);
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  return (uint32_t)h;
}
