/* libnat -- a Monte Carlo of the birthday spray (nat/birthday.h) over the
 * NAT model of natbox (nat/natbox.h). Pure but for one thing: it reads
 * the clocks to report its own speed.
 *
 * A trial: the acceptor's NAT makes K mappings at t = 0, the dialer sends
 * up to m probes to distinct ports of the acceptor's public IP, probe i
 * (from 0) arriving at i / rate seconds; the trial is a hit at the first
 * probe that lands on a live mapped port.
 *
 * natbox behaviours modelled (natbox_alloc.c, natbox_map.c), with the same
 * rules: random allocation (a uniform port of the range; 32 tries, then the
 * first free port scanning upwards from the last try, wrapping), sequential
 * allocation (a random start, then previous + delta, with a chance
 * `interleave` that 1..interleave_max simulated other hosts' ports are
 * skipped first, stepping on by delta over ports in use and scanning
 * upwards when the whole delta cycle is taken), the port range, carrier
 * NAT port blocks (the acceptor's IP gets one block of `block` ports,
 * aligned on the block size from port_min, at a random place in the range,
 * and every mapping stays inside it), the session-table limit (mappings
 * past max_mappings are not made) and the mapping timeout (a mapping made
 * at t = 0 and never refreshed is gone for every probe arriving at or after
 * `timeout`, as natbox expires a mapping idle for the timeout).
 * Not modelled: other hosts' live mappings (their ports stay free), port
 * overloading, address pooling, preserving allocation (K sockets with
 * random local ports make it random), filtering (the probes come from the
 * address every mapping was opened towards, so each one admits them), loss.
 *
 * The dialer's targets are the spray's own (nat_bday_targets_init() and
 * _next(), plan.c): the range the dialer knows first (the block when there
 * is one and dialer_knows_range, else the NAT's range; 1024-65535 when it
 * sprays blind), then the rest of 1024-65535, each tier in the order of a
 * keyed Feistel permutation. So the simulation measures the spray that
 * runs, order included.
 *
 * Where the formula holds, and where it does not: against random
 * allocation the K mapped ports are a uniformly random set, so any order
 * of distinct probes has the formula's chance (nat_bday_odds(), n the
 * first tier's size). Against sequential allocation the K ports form one
 * run (or a progression of step delta), and a pseudo-random order of
 * probes meets it as a random set would: the formula again (an affine
 * order i -> a i + b mod n did not: 97.4 % at 2048 probes against
 * 99.975 %, which this simulation found). The rate falls below the
 * formula when mappings are missing (table limit, timeout) or lie outside
 * what the dialer sprays (a range below 1024 sprayed blind).
 *
 * Speed: a bitmap of 65536 bits of mapped ports, cleared over the words
 * the trial touched; the targets' own bitmap; xoshiro256** seeded by
 * splitmix64 from the seed (natbox_rng.h, the generators of natbox's link
 * model), exact uniform draws (Lemire's multiply and reject), the spray's
 * randomness drawn from the same stream; tens of millions of probes a
 * second on one core. One stream for all trials, so a seed repeats a run
 * exactly. */
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "nat/birthday.h"
#include "nat/error.h"
#include "nat/natbox.h"
#include "natbox/natbox_rng.h"

#define RANDOM_TRIES  32 /* as natbox_alloc.c */
#define SPACE_LO      NAT_BDAY_PORT_LO
#define SPACE_HI      NAT_BDAY_PORT_HI
#define WORDS         (65536 / 64)
#define DEFAULT_RATE  250
#define DEFAULT_IMAX  3
#define DEFAULT_PORT0 1024
#define DEFAULT_PORT1 65535

typedef struct rng {
  uint64_t s[4];
} rng;

typedef struct sim {
  nat_bday_sim_config c; /* normalized */
  uint32_t range;        /* port_max - port_min + 1 */
  uint32_t k;            /* mappings made: K, or the table limit */
  uint64_t cutoff;       /* probes from this index on find no mapping */
  rng r;
  uint64_t mapped[WORDS];
  nat_bday_plan plan;  /* what the dialer knows: the range it sprays */
  nat_bday_targets tg; /* the dialer's targets, as the spray's */
  uint32_t lo, n;      /* this trial's allocation span (range or block) */
  int64_t last;        /* sequential: the previous port */
  bool started;
} sim;

/* ---- randomness ----------------------------------------------------- */

static void rng_seed(rng *r, uint64_t seed) {
  nat__xoshiro_seed(r->s, seed);
}

static uint64_t rng_next(rng *r) {
  return nat__xoshiro256ss(r->s);
}

/* Uniform in [0, n), n > 0, exactly (Lemire: multiply, reject the few
 * low products that would bias it). */
static uint32_t rng_below(rng *r, uint32_t n) {
  uint64_t m = (rng_next(r) >> 32) * (uint64_t)n;
  if ((uint32_t)m < n) {
    uint32_t t = (uint32_t)(-n) % n;
    while ((uint32_t)m < t)
      m = (rng_next(r) >> 32) * (uint64_t)n;
  }
  return (uint32_t)(m >> 32);
}

static double rng_unit(rng *r) {
  return (double)(rng_next(r) >> 11) * 0x1.0p-53;
}

/* ---- bitmaps -------------------------------------------------------- */

static bool bit(const uint64_t *map, uint32_t p) {
  return (map[p >> 6] >> (p & 63)) & 1u;
}

static void bit_set(uint64_t *map, uint32_t p) {
  map[p >> 6] |= (uint64_t)1 << (p & 63);
}

/* Clear the words holding ports [lo, hi]. */
static void clear_span(uint64_t *map, uint32_t lo, uint32_t hi) {
  if (lo <= hi)
    memset(map + (lo >> 6), 0, ((hi >> 6) - (lo >> 6) + 1) * sizeof *map);
}

/* ---- the acceptor's NAT (natbox's allocation rules) ------------------ */

/* @p port moved by @p step within the span, wrapping. */
static uint32_t wrap(const sim *s, int64_t port, int64_t step) {
  int64_t off = (port - (int64_t)s->lo + step) % (int64_t)s->n;
  if (off < 0)
    off += s->n;
  return s->lo + (uint32_t)off;
}

/* The first free port scanning upwards from @p start, wrapping (the span
 * always has one: K <= n). */
static uint32_t scan_up(const sim *s, uint32_t start) {
  uint32_t p = start;
  for (uint32_t i = 0; i < s->n && bit(s->mapped, p); i++)
    p = wrap(s, p, 1);
  return p;
}

static uint32_t alloc_random(sim *s) {
  uint32_t cand = s->lo;
  for (int i = 0; i < RANDOM_TRIES; i++) {
    cand = s->lo + rng_below(&s->r, s->n);
    if (!bit(s->mapped, cand))
      return cand;
  }
  return scan_up(s, cand);
}

static uint32_t alloc_sequential(sim *s) {
  int64_t delta = s->c.delta;
  uint32_t cand;
  if (!s->started) {
    cand = s->lo + rng_below(&s->r, s->n);
  } else {
    int64_t steps = 1;
    if (s->c.interleave > 0 && rng_unit(&s->r) < s->c.interleave)
      steps += 1 + rng_below(&s->r, s->c.interleave_max);
    cand = wrap(s, s->last, steps * delta);
  }
  uint32_t start = cand;
  do {
    if (!bit(s->mapped, cand))
      goto found;
    cand = wrap(s, cand, delta);
  } while (cand != start);
  cand = scan_up(s, start);
found:
  s->last = cand;
  s->started = true;
  return cand;
}

/* Make the trial's mappings; their ports span [*lo, *hi]. */
static void make_mappings(sim *s, uint32_t *lo, uint32_t *hi) {
  s->lo = s->c.port_min;
  s->n = s->range;
  if (s->c.block) {
    s->lo += rng_below(&s->r, s->range / s->c.block) * s->c.block;
    s->n = s->c.block;
  }
  s->started = false;
  *lo = s->lo;
  *hi = s->lo + s->n - 1;
  for (uint32_t j = 0; j < s->k; j++) {
    uint32_t p = s->c.alloc == NAT_ALLOC_SEQUENTIAL ? alloc_sequential(s)
                                                    : alloc_random(s);
    bit_set(s->mapped, p);
  }
}

/* ---- the dialer's targets ------------------------------------------- */

/* The spray's randomness (nat_rand_fn) from the simulation's stream. */
static void sim_rand(void *ctx, uint8_t *buf, size_t len) {
  rng *r = ctx;
  while (len > 0) {
    uint64_t v = rng_next(r);
    size_t k = len < sizeof v ? len : sizeof v;
    memcpy(buf, &v, k);
    buf += k;
    len -= k;
  }
}

/* The dialer's targets for this trial, as the spray orders them
 * (nat_bday_targets_init()): the block or the range it knows first (the
 * block moves from trial to trial), then 1024-65535. */
static void targets_reset(sim *s) {
  s->plan.lo = (uint16_t)(s->c.dialer_knows_range ? s->lo : SPACE_LO);
  s->plan.hi =
      (uint16_t)(s->c.dialer_knows_range ? s->lo + s->n - 1 : SPACE_HI);
  s->plan.sockets = s->c.sockets;
  nat_bday_targets_init(&s->tg, &s->plan, NULL, sim_rand, &s->r);
}

/* ---- the run -------------------------------------------------------- */

static int normalize(nat_bday_sim_config *c) {
  if (c->trials == 0 || c->sockets == 0 || c->probes == 0)
    return NAT_EINVAL;
  if (c->alloc != NAT_ALLOC_RANDOM && c->alloc != NAT_ALLOC_SEQUENTIAL)
    return NAT_EINVAL;
  if (c->rate == 0)
    c->rate = DEFAULT_RATE;
  if (c->delta == 0)
    c->delta = 1;
  if (c->interleave_max == 0)
    c->interleave_max = DEFAULT_IMAX;
  if (c->port_min == 0)
    c->port_min = DEFAULT_PORT0;
  if (c->port_max == 0)
    c->port_max = DEFAULT_PORT1;
  if (c->port_min > c->port_max || !(c->interleave >= 0.0) ||
      !(c->interleave <= 1.0))
    return NAT_EINVAL;
  uint32_t range = (uint32_t)c->port_max - c->port_min + 1;
  if (c->block > range || c->sockets > (c->block ? c->block : range))
    return NAT_EINVAL;
  return 0;
}

/* The first probe index that arrives at or after the timeout: probe i
 * arrives at i * 1e9 / rate ns (floor). */
static uint64_t timeout_cutoff(const nat_bday_sim_config *c) {
  if (c->timeout == 0)
    return UINT64_MAX;
  uint64_t lo = 0, hi = 65536; /* more probes than there are ports */
  if ((hi * NAT_SECONDS) / c->rate < c->timeout)
    return UINT64_MAX;
  while (lo < hi) {
    uint64_t mid = lo + (hi - lo) / 2;
    if ((mid * NAT_SECONDS) / c->rate >= c->timeout)
      hi = mid;
    else
      lo = mid + 1;
  }
  return lo;
}

/* Every distinct target the dialer has this trial: 1024-65535 and the
 * ports below 1024 of the range (or block) it sprays first. */
static uint32_t targets_total(const sim *s) {
  uint32_t n = SPACE_HI - SPACE_LO + 1;
  if (s->plan.lo < SPACE_LO) {
    uint32_t below = s->plan.hi < SPACE_LO ? s->plan.hi : SPACE_LO - 1;
    n += below - s->plan.lo + 1;
  }
  return n;
}

/* The n the formula needs: the tier the mappings are in, sprayed first. */
static uint32_t predicted_n(const sim *s) {
  if (!s->c.dialer_knows_range)
    return SPACE_HI - SPACE_LO + 1;
  return s->c.block ? s->c.block : s->range;
}

/* One trial: 0 for a miss, else the 1-based index of the hitting probe;
 * *sent: the probes the dialer sent (up to the hit, else its budget or
 * every target it has); *evaluated: the probes looked at (none after the
 * mappings' timeout: they cannot hit). */
static uint32_t trial(sim *s, uint64_t *sent, uint64_t *evaluated) {
  uint32_t mlo, mhi, hit = 0, i;
  make_mappings(s, &mlo, &mhi);
  targets_reset(s);
  uint32_t total = targets_total(s);
  uint32_t budget = s->c.probes < total ? s->c.probes : total;
  uint64_t live = s->cutoff < budget ? s->cutoff : budget;
  for (i = 0; i < live; i++) {
    uint32_t p = nat_bday_targets_next(&s->tg);
    if (bit(s->mapped, p)) {
      hit = i + 1;
      break;
    }
  }
  *evaluated += hit ? hit : i;
  *sent += hit ? hit : budget;
  clear_span(s->mapped, mlo, mhi);
  return hit;
}

static double clock_s(clockid_t id) {
  struct timespec ts;
  clock_gettime(id, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int nat_bday_sim_run(const nat_bday_sim_config *cfg, nat_bday_sim_result *out) {
  sim s; /* 16 KiB of bitmaps on the stack: no allocation, reentrant */
  if (!cfg || !out)
    return NAT_EINVAL;
  memset(out, 0, sizeof *out);
  memset(&s, 0, sizeof s);
  s.c = *cfg;
  int rv = normalize(&s.c);
  if (rv != 0)
    return rv;
  s.range = (uint32_t)s.c.port_max - s.c.port_min + 1;
  s.k = s.c.max_mappings && s.c.max_mappings < s.c.sockets ? s.c.max_mappings
                                                           : s.c.sockets;
  s.cutoff = timeout_cutoff(&s.c);
  rng_seed(&s.r, s.c.seed);

  double w0 = clock_s(CLOCK_MONOTONIC), c0 = clock_s(CLOCK_THREAD_CPUTIME_ID);
  uint64_t evaluated = 0, sum_hit = 0;
  for (uint32_t t = 0; t < s.c.trials; t++) {
    uint32_t h = trial(&s, &out->probes_sent, &evaluated);
    if (h) {
      out->hits++;
      sum_hit += h;
    }
  }
  double cpu = clock_s(CLOCK_THREAD_CPUTIME_ID) - c0;
  out->seconds = clock_s(CLOCK_MONOTONIC) - w0;

  out->trials = s.c.trials;
  out->rate = (double)out->hits / (double)out->trials;
  nat_bday_wilson(out->hits, out->trials, &out->ci_lo, &out->ci_hi);
  out->predicted = nat_bday_odds(predicted_n(&s), s.c.sockets, s.c.probes);
  out->mean_probe = out->hits ? (double)sum_hit / (double)out->hits : 0.0;
  out->probes_per_sec = cpu > 0 ? (double)evaluated / cpu : 0.0;
  return 0;
}
