/* libnat -- the NAT model's external port allocation (RFC 4787 section
 * 4.2: preservation, sequential, random; carrier-grade NAT port blocks)
 * and the creation of a mapping:
 * uses the tables (natbox_map.c) and the PRNG (natbox_rand.c); neither
 * calls back here. */
#include "natbox_internal.h"

#include "nat/natbox.h"

/* Random tries before the random allocator falls back to a scan. */
#define RANDOM_TRIES 32

static double rand_unit(nat_box *b) {
  return (double)(nat__nb_rand(b) >> 11) * 0x1.0p-53;
}

/* Is @p port free on external IP @p eidx for a mapping towards rip:rport?
 * Without overloading a port is free when no mapping holds it; with
 * overloading, when no mapping on it has the same remote. */
static bool port_free(const nat_box *b, unsigned eidx, uint32_t port,
                      uint32_t rip, uint16_t rport) {
  if (!b->overload)
    return b->inuse[eidx][port - b->cfg.port_min] == 0;
  return nat__nb_ext_find(b, eidx, (uint16_t)port, rip, rport) == NAT__NB_NIL;
}

/* The ports a mapping may take: the range, or the host's block. */
typedef struct span {
  uint32_t lo, n;
} span;

static span host_span(const nat_box *b, const nat__nb_host *h) {
  span s = {b->cfg.port_min, b->range};
  if (h->block) {
    s.lo += (h->block - 1) * b->cfg.block_size;
    s.n = b->cfg.block_size;
  }
  return s;
}

/* @p port moved by @p step within @p sp, wrapping. */
static uint32_t wrap(span sp, uint32_t port, int64_t step) {
  int64_t r = (int64_t)sp.n;
  int64_t off = ((int64_t)port - (int64_t)sp.lo + step) % r;
  if (off < 0)
    off += r;
  return sp.lo + (uint32_t)off;
}

/* The first free port of @p sp scanning upwards from @p start (inclusive),
 * wrapping; 0 if every port in it is taken. */
static uint32_t scan_up(const nat_box *b, span sp, unsigned eidx,
                        uint32_t start, uint32_t rip, uint16_t rport) {
  uint32_t p = start;
  for (uint32_t i = 0; i < sp.n; i++) {
    if (port_free(b, eidx, p, rip, rport))
      return p;
    p = wrap(sp, p, 1);
  }
  return 0;
}

static uint32_t alloc_preserve(const nat_box *b, span sp, unsigned eidx,
                               uint16_t int_port, uint32_t rip,
                               uint16_t rport) {
  uint32_t start = int_port;
  if (start < sp.lo || start - sp.lo >= sp.n)
    start = sp.lo;
  return scan_up(b, sp, eidx, start, rip, rport);
}

/* Next sequential port: previous + delta (plus the deltas taken by
 * simulated other hosts), stepping on by delta over ports in use; if that
 * cycle is all taken (delta not coprime with the range), a plain scan. */
static uint32_t alloc_sequential(nat_box *b, span sp, nat__nb_seq *seq,
                                 unsigned eidx, uint32_t rip, uint16_t rport) {
  int64_t delta = b->cfg.delta;
  uint32_t cand;
  if (!seq->started) {
    cand = sp.lo + nat__nb_rand_below(b, sp.n);
  } else {
    int64_t steps = 1;
    if (b->cfg.interleave > 0 && rand_unit(b) < b->cfg.interleave)
      steps += 1 + nat__nb_rand_below(b, b->cfg.interleave_max);
    cand = wrap(sp, (uint32_t)seq->last, steps * delta);
  }
  uint32_t start = cand;
  do {
    if (port_free(b, eidx, cand, rip, rport))
      goto found;
    cand = wrap(sp, cand, delta);
  } while (cand != start);
  cand = scan_up(b, sp, eidx, start, rip, rport);
  if (cand == 0)
    return 0;
found:
  seq->last = (int32_t)cand;
  seq->started = true;
  return cand;
}

static uint32_t alloc_random(nat_box *b, span sp, unsigned eidx, uint32_t rip,
                             uint16_t rport) {
  uint32_t cand = sp.lo;
  for (int i = 0; i < RANDOM_TRIES; i++) {
    cand = sp.lo + nat__nb_rand_below(b, sp.n);
    if (port_free(b, eidx, cand, rip, rport))
      return cand;
  }
  return scan_up(b, sp, eidx, cand, rip, rport);
}

/** Choose an external port on public IP @p eidx for a new mapping of
 * internal port @p int_port (host @p h) towards rip:rport, inside the
 * host's block when there are blocks.
 * @return 0 with *out set, or NAT_BOX_DROP_PORTS_EXHAUSTED. */
static int alloc_port(nat_box *b, nat__nb_host *h, unsigned eidx,
                      uint16_t int_port, uint32_t rip, uint16_t rport,
                      uint16_t *out) {
  span sp = host_span(b, h);
  uint32_t p;
  switch (b->cfg.alloc) {
  case NAT_ALLOC_SEQUENTIAL:
    p = alloc_sequential(b, sp, b->cfg.per_host || h->block ? &h->seq : &b->seq,
                         eidx, rip, rport);
    break;
  case NAT_ALLOC_RANDOM:
    p = alloc_random(b, sp, eidx, rip, rport);
    break;
  default:
    p = alloc_preserve(b, sp, eidx, int_port, rip, rport);
    break;
  }
  if (p == 0)
    return NAT_BOX_DROP_PORTS_EXHAUSTED;
  *out = (uint16_t)p;
  return 0;
}

/* Give host @p h a port block on its first mapping: a block free on the
 * public IPs it maps on (its own with paired pooling, all with arbitrary),
 * at random (a few tries, then the next free one upwards). @return 0, or
 * NAT_BOX_DROP_PORTS_EXHAUSTED when every block is taken. */
static int block_acquire(nat_box *b, nat__nb_host *h) {
  unsigned mask =
      b->cfg.pooling_arbitrary ? (1u << b->cfg.npublic) - 1 : 1u << h->ext_idx;
  uint8_t ips = (uint8_t)mask;
  uint32_t slot = 0;
  bool found = false;
  for (int i = 0; i < RANDOM_TRIES && !found; i++) {
    slot = nat__nb_rand_below(b, b->nblocks);
    found = (b->block_used[slot] & ips) == 0;
  }
  for (uint32_t i = 0; i < b->nblocks && !found; i++) {
    slot = (slot + 1) % b->nblocks;
    found = (b->block_used[slot] & ips) == 0;
  }
  if (!found)
    return NAT_BOX_DROP_PORTS_EXHAUSTED;
  b->block_used[slot] |= ips;
  h->block = slot + 1;
  h->block_ips = ips;
  h->seq.started = false;
  return 0;
}

/* Allocate an external IP and port; with arbitrary pooling, fall back to
 * the other public IPs when the random one is full. */
static int choose_external(nat_box *b, nat__nb_host *h, uint16_t iport,
                           uint32_t kdip, uint16_t kdport, unsigned *eidx,
                           uint16_t *eport) {
  unsigned n = b->cfg.npublic, first = h->ext_idx;
  if (n > 1 && b->cfg.pooling_arbitrary)
    first = nat__nb_rand_below(b, n);
  unsigned tries = b->cfg.pooling_arbitrary ? n : 1;
  for (unsigned k = 0; k < tries; k++) {
    *eidx = (first + k) % n;
    if (alloc_port(b, h, *eidx, iport, kdip, kdport, eport) == 0)
      return 0;
  }
  return NAT_BOX_DROP_PORTS_EXHAUSTED;
}

/** Create a mapping for the internal key. @return 0 with *out set, or
 * NAT_BOX_DROP_PORTS_EXHAUSTED (no port, max_mappings reached, no
 * memory). */
int nat__nb_map_create(nat_box *b, uint32_t iip, uint16_t iport, uint32_t kdip,
                       uint16_t kdport, uint32_t *out) {
  uint32_t hi;
  unsigned eidx;
  uint16_t eport;
  if (nat__nb_map_reserve(b, iip, &hi) != 0)
    return NAT_BOX_DROP_PORTS_EXHAUSTED;
  nat__nb_host *h = &b->hosts[hi];
  if (b->cfg.block_size && h->block == 0 && block_acquire(b, h) != 0)
    return NAT_BOX_DROP_PORTS_EXHAUSTED;
  if (choose_external(b, h, iport, kdip, kdport, &eidx, &eport) != 0) {
    if (h->nmappings == 0)
      nat__nb_block_release(b, h);
    return NAT_BOX_DROP_PORTS_EXHAUSTED;
  }
  *out = nat__nb_map_insert(b, hi, iip, iport, kdip, kdport, eidx, eport);
  return 0;
}
