/* libnat -- the birthday plan both peers agree on, and the dialer's target
 * order. Pure: both peers run nat_bday_plan_make() on the same two sides
 * (ours and the peer's, from the blobs) and get mirrored roles. */
#include <string.h>

#include "nat/birthday.h"
#include "nat/error.h"
#include "nat/verdict.h"

static bool is_hard(const nat_bday_side *s) {
  return s->mapping == NAT_BEH_AD || s->mapping == NAT_BEH_APD ||
         s->mapping == NAT_BEH_DEPENDENT;
}

static bool is_easy(const nat_bday_side *s) {
  return s->mapping == NAT_BEH_EI;
}

static uint32_t clamp_u32(uint64_t v) {
  return v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
}

static uint32_t clamp(uint32_t v, uint32_t def, uint32_t max) {
  if (v == 0)
    return def;
  return v > max ? max : v;
}

/* The ports the dialer sprays first: the acceptor's range when it is
 * known and makes sense, else the whole range. */
static void range_of(const nat_bday_side *acc, uint16_t *lo, uint16_t *hi) {
  if (acc->lo != 0 && acc->hi >= acc->lo) {
    *lo = acc->lo;
    *hi = acc->hi;
  } else {
    *lo = NAT_BDAY_PORT_LO;
    *hi = NAT_BDAY_PORT_HI;
  }
}

/* Roles from the verdicts (or the forced ones). @return the why. */
static int roles(const nat_bday_side *us, const nat_bday_side *peer,
                 int *role) {
  bool us_acc = us->force_acceptor, us_dia = us->force_dialer;
  bool pe_acc = peer->force_acceptor, pe_dia = peer->force_dialer;
  *role = NAT_BDAY_NONE;
  if (!us->enabled || !peer->enabled)
    return NAT_BDAY_WHY_DISABLED;
  if (us_acc || us_dia || pe_acc || pe_dia) {
    if ((us_acc && pe_acc) || (us_dia && pe_dia) || (us_acc && us_dia) ||
        (pe_acc && pe_dia))
      return NAT_BDAY_WHY_ROLES_CONFLICT;
    *role = (us_acc || pe_dia) ? NAT_BDAY_ACCEPTOR : NAT_BDAY_DIALER;
    return NAT_BDAY_WHY_SPRAY;
  }
  /* a port mapping forwards any address's datagrams to that peer's
   * socket: the other's plain checks reach it, whatever both NATs do */
  if (us->mapped || peer->mapped)
    return NAT_BDAY_WHY_MAPPED;
  if (is_hard(us) && is_hard(peer)) {
    if (us->alloc == NAT_PA_SEQUENTIAL && peer->alloc == NAT_PA_SEQUENTIAL)
      return NAT_BDAY_WHY_PREDICTED;
    if (us->allow_both_hard && peer->allow_both_hard) {
      *role = NAT_BDAY_BOTH;
      return NAT_BDAY_WHY_SPRAY;
    }
    return NAT_BDAY_WHY_BOTH_HARD;
  }
  if (is_hard(us) && is_easy(peer)) {
    *role = NAT_BDAY_ACCEPTOR;
    return NAT_BDAY_WHY_SPRAY;
  }
  if (is_easy(us) && is_hard(peer)) {
    *role = NAT_BDAY_DIALER;
    return NAT_BDAY_WHY_SPRAY;
  }
  if (is_easy(us) && is_easy(peer))
    return NAT_BDAY_WHY_EASY;
  return NAT_BDAY_WHY_UNKNOWN;
}

int nat_bday_plan_make(const nat_bday_side *us, const nat_bday_side *peer,
                       nat_bday_plan *out) {
  const nat_bday_side *acc, *dia;
  int role;
  if (us == NULL || peer == NULL || out == NULL)
    return NAT_EINVAL;
  memset(out, 0, sizeof *out);
  out->why = roles(us, peer, &role);
  out->role = role;
  /* the parameters as they would be (a refused pair is told its odds):
   * the hard side accepts; with both hard, ours stands for both, and the
   * range is the peer's (each side sprays the other's) */
  if (role == NAT_BDAY_DIALER || role == NAT_BDAY_BOTH ||
      (role == NAT_BDAY_NONE && is_hard(peer) && !is_hard(us))) {
    acc = peer;
    dia = us;
  } else {
    acc = us;
    dia = role == NAT_BDAY_ACCEPTOR ? peer : us;
  }
  out->sockets =
      clamp(acc->sockets, NAT_BDAY_SOCKETS_DEFAULT, NAT_BDAY_SOCKETS_MAX);
  out->probes =
      clamp(dia->probes, NAT_BDAY_PROBES_DEFAULT, NAT_BDAY_PROBES_MAX);
  out->rate = clamp(dia->rate, NAT_BDAY_RATE_DEFAULT, NAT_BDAY_RATE_MAX);
  range_of(acc, &out->lo, &out->hi);
  out->n = (uint32_t)out->hi - out->lo + 1;
  if (out->sockets > out->n)
    out->sockets = out->n;
  out->p_success = nat_bday_odds(out->n, out->sockets, out->probes);
  out->probes_50 = nat_bday_probes_for(out->n, out->sockets, 0.5);
  out->probes_99 = nat_bday_probes_for(out->n, out->sockets, 0.99);
  out->t_expected = (nat_tstamp)out->probes * NAT_SECONDS / out->rate;
  out->t_median = (nat_tstamp)out->probes_50 * NAT_SECONDS / out->rate;
  if (role == NAT_BDAY_BOTH) { /* the same on both: the smaller of each */
    out->sockets =
        clamp(us->sockets, NAT_BDAY_SOCKETS_DEFAULT, NAT_BDAY_SOCKETS_MAX);
    uint32_t k2 =
        clamp(peer->sockets, NAT_BDAY_SOCKETS_DEFAULT, NAT_BDAY_SOCKETS_MAX);
    uint32_t m2 =
        clamp(peer->probes, NAT_BDAY_PROBES_DEFAULT, NAT_BDAY_PROBES_MAX);
    uint32_t r2 = clamp(peer->rate, NAT_BDAY_RATE_DEFAULT, NAT_BDAY_RATE_MAX);
    out->sockets = out->sockets < k2 ? out->sockets : k2;
    out->probes = out->probes < m2 ? out->probes : m2;
    out->rate = out->rate < r2 ? out->rate : r2;
    out->t_expected = (nat_tstamp)out->probes * NAT_SECONDS / out->rate;
  }
  if (is_hard(us) && is_hard(peer)) {
    uint16_t lo, hi;
    uint32_t n;
    /* both ranges matter; the wider one bounds the estimate */
    range_of(us, &lo, &hi);
    n = (uint32_t)hi - lo + 1;
    range_of(peer, &lo, &hi);
    if ((uint32_t)hi - lo + 1 > n)
      n = (uint32_t)hi - lo + 1;
    out->both_probes = nat_bday_probes_for_both(n, 0.999);
    out->both_entries = out->both_probes; /* a mapping per probe */
    out->both_minutes = (double)out->both_probes / out->rate / 60.0;
    /* the odds these parameters would have against two hard NATs */
    out->n = n;
    out->p_success = nat_bday_odds_both(n, out->probes);
    out->probes_50 = clamp_u32(nat_bday_probes_for_both(n, 0.5));
    out->probes_99 = clamp_u32(nat_bday_probes_for_both(n, 0.99));
    out->t_median = (nat_tstamp)out->probes_50 * NAT_SECONDS / out->rate;
  }
  return 0;
}

const char *nat_bday_why_name(int why) {
  switch (why) {
  case NAT_BDAY_WHY_SPRAY:
    return "spray";
  case NAT_BDAY_WHY_EASY:
    return "easy";
  case NAT_BDAY_WHY_PREDICTED:
    return "predicted";
  case NAT_BDAY_WHY_DISABLED:
    return "disabled";
  case NAT_BDAY_WHY_UNKNOWN:
    return "unknown";
  case NAT_BDAY_WHY_BOTH_HARD:
    return "both-hard";
  case NAT_BDAY_WHY_ROLES_CONFLICT:
    return "roles-conflict";
  case NAT_BDAY_WHY_MAPPED:
    return "mapped";
  default:
    return "unknown";
  }
}

const char *nat_bday_why_strerror(int why) {
  switch (why) {
  case NAT_BDAY_WHY_SPRAY:
    return "one peer is behind a NAT that maps per destination, the other "
           "is not: the hard side accepts, the easy side sprays";
  case NAT_BDAY_WHY_EASY:
    return "neither peer's NAT maps per destination: plain checks suffice";
  case NAT_BDAY_WHY_PREDICTED:
    return "both NATs allocate sequentially: predicted candidates, no spray";
  case NAT_BDAY_WHY_DISABLED:
    return "a peer turned the birthday spray off";
  case NAT_BDAY_WHY_UNKNOWN:
    return "a peer's NAT mapping is unknown: no verdict to plan a spray on "
           "(give --role, or a STUN server and a rendezvous)";
  case NAT_BDAY_WHY_BOTH_HARD:
    return "both peers map per destination: a spray would need both sides "
           "to guess";
  case NAT_BDAY_WHY_ROLES_CONFLICT:
    return "both peers asked for the same role";
  case NAT_BDAY_WHY_MAPPED:
    return "a peer whose NAT maps per destination holds a port mapping "
           "from its gateway: the other's checks reach it, no spray";
  default:
    return "unknown reason";
  }
}

const char *nat_bday_role_name(int role) {
  switch (role) {
  case NAT_BDAY_ACCEPTOR:
    return "acceptor";
  case NAT_BDAY_DIALER:
    return "dialer";
  case NAT_BDAY_BOTH:
    return "both";
  default:
    return "none";
  }
}

/* ------------------------------------------------------------ targets */

static uint32_t rand32(nat_rand_fn rand, void *ctx) {
  uint8_t b[4];
  rand(ctx, b, sizeof b);
  return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
         (uint32_t)b[3] << 24;
}

/* A 32-bit mixer (a bijective avalanche hash) for the round function. */
static uint32_t mix32(uint32_t x) {
  x ^= x >> 16;
  x *= 0x7feb352dU;
  x ^= x >> 15;
  x *= 0x846ca68bU;
  x ^= x >> 16;
  return x;
}

/* The tier's permutation of 0 .. 2^(2*hbits)-1: 4 Feistel rounds. */
static uint32_t feistel(const nat_bday_targets *t, uint32_t x) {
  uint32_t mask = (1u << t->hbits) - 1;
  uint32_t l = x >> t->hbits, r = x & mask;
  for (int i = 0; i < 4; i++) {
    uint32_t nl = r;
    r = l ^ (mix32(r ^ t->key[i]) & mask);
    l = nl;
  }
  return l << t->hbits | r;
}

static void add_tier(nat_bday_targets *t, uint32_t lo, uint32_t hi) {
  if (t->ntiers < 3 && lo <= hi && lo >= 1 && hi <= 65535) {
    t->tier_lo[t->ntiers] = lo;
    t->tier_n[t->ntiers] = hi - lo + 1;
    t->ntiers++;
  }
}

/* A fresh keyed permutation for the tier: the smallest even power of two
 * holding its n ports (at most 4n, so the walk past values >= n takes
 * under 4 steps on average). Any fixed order of distinct ports has the
 * same odds against a NAT that draws each port uniformly; against one
 * that allocates a run (sequential) only a random-looking order does. */
static void tier_begin(nat_bday_targets *t, nat_rand_fn rand, void *ctx) {
  uint32_t n = t->tier_n[t->tier];
  t->i = 0;
  t->hbits = 1;
  while ((1u << (2 * t->hbits)) < n)
    t->hbits++;
  for (int k = 0; k < 4; k++)
    t->key[k] = rand32(rand, ctx);
}

void nat_bday_targets_init(nat_bday_targets *t, const nat_bday_plan *plan,
                           const nat_bday_side *acc, nat_rand_fn rand,
                           void *rand_ctx) {
  memset(t, 0, sizeof *t);
  if (acc != NULL && acc->alloc == NAT_PA_SEQUENTIAL && acc->last != 0 &&
      acc->delta != 0) {
    /* the window the acceptor's K mappings are expected in */
    int64_t span = (int64_t)acc->delta * (int64_t)(plan->sockets + 64);
    int64_t a = acc->last, b = (int64_t)acc->last + span;
    int64_t lo = a < b ? a : b, hi = a < b ? b : a;
    if (lo < NAT_BDAY_PORT_LO)
      lo = NAT_BDAY_PORT_LO;
    if (hi > NAT_BDAY_PORT_HI)
      hi = NAT_BDAY_PORT_HI;
    add_tier(t, (uint32_t)lo, (uint32_t)hi);
  }
  add_tier(t, plan->lo, plan->hi);
  add_tier(t, NAT_BDAY_PORT_LO, NAT_BDAY_PORT_HI);
  t->rand = rand;
  t->rand_ctx = rand_ctx;
  if (t->ntiers > 0)
    tier_begin(t, rand, rand_ctx);
}

uint16_t nat_bday_targets_next(nat_bday_targets *t) {
  while (t->tier < t->ntiers) {
    uint32_t n = t->tier_n[t->tier], dom = 1u << (2 * t->hbits);
    while (t->i < dom) {
      uint32_t v = feistel(t, t->i++), port;
      if (v >= n)
        continue; /* the walk past the tier */
      port = t->tier_lo[t->tier] + v;
      if ((t->sent[port >> 3] & (1u << (port & 7))) == 0) {
        t->sent[port >> 3] |= (uint8_t)(1u << (port & 7));
        t->count++;
        return (uint16_t)port;
      }
    }
    t->tier++;
    if (t->tier < t->ntiers)
      tier_begin(t, t->rand, t->rand_ctx);
  }
  return 0;
}
