/* Mapping analyzer (RFC 5780 section 4.3, or across servers without RFC
 * 5780) from an observation log, with a line saying why. The rules are in
 * nat/verdict.h. Pure: no I/O, no clock. */
#include <stdlib.h>
#include <string.h>

#include "base/addr_internal.h"
#include "nat/error.h"
#include "verdict_behavior.h"
#include "verdict_internal.h"

/* The earliest observation of @p test from local socket @p g (log order
 * breaks ties). */
static const nat_obs *earliest(const nat__vindex *ix, uint8_t test,
                               uint32_t g) {
  const nat_obs *best = NULL;
  size_t k, end = ix->sock_start[g + 1];
  for (k = ix->sock_start[g]; k < end; k++) {
    const nat_obs *o = nat__sock_at(ix, k);
    if (o->test != test)
      continue;
    if (best == NULL || o->sent_at < best->sent_at)
      best = o;
  }
  return best;
}

/* The conclusion when the mapping changed with the destination IP and no
 * two destinations of one IP were compared (nat/verdict.h). */
#define DEPENDENT_WHY                                                          \
  "dependent (the mapping changed with the destination IP; no two ports "      \
  "of one IP were asked, so address- and address-and-port-dependent are "      \
  "not told apart)"

typedef struct map_probe {
  nat_addr dst;
  const nat_obs *ans; /* first answer with a mapped address */
  unsigned tries;     /* transmissions of the unanswered attempts */
  size_t attempts;
} map_probe;

static void probe_find(const nat__vindex *ix, uint8_t test, uint32_t g,
                       map_probe *p) {
  size_t k, end = ix->sock_start[g + 1];
  p->ans = NULL;
  p->tries = 0;
  p->attempts = 0;
  for (k = ix->sock_start[g]; k < end; k++) {
    const nat_obs *o = nat__sock_at(ix, k);
    if (o->test != test || !nat_addr_equal(&o->server, &p->dst))
      continue;
    p->attempts++;
    if (nat__answered_mapped(o)) {
      if (p->ans == NULL)
        p->ans = o;
    } else {
      p->tries += o->transmissions;
    }
  }
}

static nat_beh map_5780_decide(const map_probe *p, const nat_addr *local,
                               nat_tri *varies, nat__why *why) {
  nat__addrbuf b0, b1, b2, b3, b4, b5;
  const nat_addr *m0, *m1, *m2;
  if (p[0].ans == NULL) {
    nat__why_set(why, "mapping: no answer from %s after %u tries -> unknown",
                 nat__addr_text(&p[0].dst, b0), p[0].tries);
    return NAT_BEH_UNKNOWN;
  }
  m0 = &p[0].ans->mapped;
  if (nat_addr_equal(m0, local) &&
      (p[1].ans == NULL || nat_addr_equal(&p[1].ans->mapped, m0))) {
    *varies = NAT_TRI_NO;
    nat__why_set(why,
                 "mapping: mapped address equals local %s for %s -> no "
                 "translation (endpoint-independent)",
                 nat__addr_text(local, b0), nat__addr_text(&p[0].dst, b1));
    return NAT_BEH_EI;
  }
  if (p[1].ans == NULL) {
    nat__why_set(why,
                 "mapping: %s for %s, no answer from %s after %u tries -> "
                 "unknown",
                 nat__addr_text(m0, b0), nat__addr_text(&p[0].dst, b1),
                 nat__addr_text(&p[1].dst, b2), p[1].tries);
    return NAT_BEH_UNKNOWN;
  }
  m1 = &p[1].ans->mapped;
  if (nat_addr_equal(m0, m1)) {
    *varies = NAT_TRI_NO;
    nat__why_set(why,
                 "mapping: same public address %s for %s and %s -> "
                 "endpoint-independent",
                 nat__addr_text(m0, b0), nat__addr_text(&p[0].dst, b1),
                 nat__addr_text(&p[1].dst, b2));
    return NAT_BEH_EI;
  }
  *varies = NAT_TRI_YES;
  if (p[2].ans == NULL) {
    /* IP2:P2 not asked, or silent: 256 bytes hold no more detail */
    nat__why_set(why, "mapping: %s for %s but %s for %s -> " DEPENDENT_WHY,
                 nat__addr_text(m0, b0), nat__addr_text(&p[0].dst, b1),
                 nat__addr_text(m1, b2), nat__addr_text(&p[1].dst, b3));
    return NAT_BEH_DEPENDENT;
  }
  m2 = &p[2].ans->mapped;
  if (nat_addr_equal(m1, m2)) {
    nat__why_set(why,
                 "mapping: %s for %s but %s for %s and %s -> "
                 "address-dependent",
                 nat__addr_text(m0, b0), nat__addr_text(&p[0].dst, b1),
                 nat__addr_text(m1, b2), nat__addr_text(&p[1].dst, b3),
                 nat__addr_text(&p[2].dst, b4));
    return NAT_BEH_AD;
  }
  nat__why_set(why,
               "mapping: %s for %s, %s for %s, %s for %s -> "
               "address-and-port-dependent",
               nat__addr_text(m0, b0), nat__addr_text(&p[0].dst, b1),
               nat__addr_text(m1, b2), nat__addr_text(&p[1].dst, b3),
               nat__addr_text(m2, b4), nat__addr_text(&p[2].dst, b5));
  return NAT_BEH_APD;
}

/* RFC 5780 section 4.3 on the socket of @p first. Returns false if the
 * log does not have that shape (no OTHER-ADDRESS, no probe to it). */
static bool map_5780(const nat__vindex *ix, uint32_t g, const nat_obs *first,
                     nat_beh *beh, nat_tri *varies, nat__why *why) {
  map_probe p[3];
  nat_addr oa;
  int k;
  if (!nat__vindex_other_of(ix, nat__obs_index(ix, first), &oa))
    return false;
  memset(p, 0, sizeof p);
  p[0].dst = first->server;
  p[1].dst = oa;
  p[1].dst.port = first->server.port;
  p[2].dst = oa;
  for (k = 0; k < 3; k++)
    probe_find(ix, first->test, g, &p[k]);
  if (p[1].attempts == 0 && p[2].attempts == 0)
    return false;
  *beh = map_5780_decide(p, &first->local, varies, why);
  return true;
}

/* Example pairs of answers from one socket, by how the destinations
 * differ and whether the mapped addresses agree. */
typedef struct map_pairs {
  const nat_obs *ip_same[2], *ip_diff[2], *port_same[2], *port_diff[2];
  const nat_obs *any;
  size_t answered;
  bool all_local; /* every answer's mapped address equals the local one */
} map_pairs;

static void note_pair(const nat_obs **slot, const nat_obs *a,
                      const nat_obs *b) {
  if (slot[0] == NULL) {
    slot[0] = a;
    slot[1] = b;
  }
}

static bool eq_server(const nat_obs *a, const nat_obs *b) {
  return nat_addr_equal(&a->server, &b->server);
}

static bool eq_server_ip(const nat_obs *a, const nat_obs *b) {
  return nat_addr_equal_ip(&a->server, &b->server);
}

static bool eq_mapped(const nat_obs *a, const nat_obs *b) {
  return nat_addr_equal(&a->mapped, &b->mapped);
}

/* For answer @p i, the earliest earlier answer of each kind of pair not
 * found yet (the first pair of a kind is the one with the earliest later
 * element, then the earliest earlier one: what a loop over all pairs in
 * log order finds first):
 *  - ip_same: same mapped address, another server IP (by mapped address);
 *  - ip_diff: another mapped address and another server IP (@p ipd);
 *  - port_same: same server IP and mapped address, another server;
 *  - port_diff: same server IP, another server and mapped address. */
static void pairs_find(const nat__vindex *ix, const nat__avoid2 *ipd,
                       uint32_t i, map_pairs *mp) {
  const nat_obslog *log = ix->log;
  const nat_obs *a = &log->v[i];
  uint32_t j;
  if (mp->ip_same[0] == NULL && ix->mapped_id[i] != NAT__NONE) {
    j = nat__avoid1_find(&ix->by_mapped[ix->mapped_id[i]], log, a,
                         eq_server_ip);
    if (j != NAT__NONE)
      note_pair(mp->ip_same, &log->v[j], a);
  }
  if (mp->ip_diff[0] == NULL) {
    j = nat__avoid2_find(ipd, log, a, eq_mapped, eq_server_ip);
    if (j != NAT__NONE)
      note_pair(mp->ip_diff, &log->v[j], a);
  }
  if (mp->port_same[0] == NULL && ix->sipmap_id[i] != NAT__NONE) {
    j = nat__avoid1_find(&ix->by_sipmap[ix->sipmap_id[i]], log, a, eq_server);
    if (j != NAT__NONE)
      note_pair(mp->port_same, &log->v[j], a);
  }
  if (mp->port_diff[0] == NULL && ix->sip_id[i] != NAT__NONE) {
    j = nat__avoid2_find(&ix->by_sip[ix->sip_id[i]], log, a, eq_server,
                         eq_mapped);
    if (j != NAT__NONE)
      note_pair(mp->port_diff, &log->v[j], a);
  }
}

static void pairs_add(nat__vindex *ix, nat__avoid2 *ipd, uint32_t i) {
  const nat_obslog *log = ix->log;
  if (ix->mapped_id[i] != NAT__NONE)
    nat__avoid1_add(&ix->by_mapped[ix->mapped_id[i]], log, i, eq_server_ip);
  nat__avoid2_add(ipd, log, i, eq_mapped, eq_server_ip);
  if (ix->sipmap_id[i] != NAT__NONE)
    nat__avoid1_add(&ix->by_sipmap[ix->sipmap_id[i]], log, i, eq_server);
  if (ix->sip_id[i] != NAT__NONE)
    nat__avoid2_add(&ix->by_sip[ix->sip_id[i]], log, i, eq_server, eq_mapped);
}

static void pairs_clear(nat__vindex *ix, uint32_t i) {
  if (ix->mapped_id[i] != NAT__NONE)
    nat__avoid1_reset(&ix->by_mapped[ix->mapped_id[i]]);
  if (ix->sipmap_id[i] != NAT__NONE)
    nat__avoid1_reset(&ix->by_sipmap[ix->sipmap_id[i]]);
  if (ix->sip_id[i] != NAT__NONE)
    nat__avoid2_reset(&ix->by_sip[ix->sip_id[i]]);
}

/* The answers of @p test from local socket @p g (address @p local),
 * paired by how their destinations differ: linear in the socket's
 * observations. */
static void collect_pairs(nat__vindex *ix, uint8_t test, uint32_t g,
                          const nat_addr *local, map_pairs *mp) {
  size_t k, end = ix->sock_start[g + 1];
  nat__avoid2 ipd;
  memset(mp, 0, sizeof *mp);
  mp->all_local = true;
  nat__avoid2_reset(&ipd);
  for (k = ix->sock_start[g]; k < end; k++) {
    const nat_obs *a = nat__sock_at(ix, k);
    if (a->test != test || !nat__answered_mapped(a))
      continue;
    mp->answered++;
    if (mp->any == NULL)
      mp->any = a;
    if (!nat_addr_equal(&a->mapped, local))
      mp->all_local = false;
    pairs_find(ix, &ipd, ix->sock_obs[k], mp);
    pairs_add(ix, &ipd, ix->sock_obs[k]);
  }
  for (k = ix->sock_start[g]; k < end; k++)
    pairs_clear(ix, ix->sock_obs[k]);
}

static nat_beh map_compare_decide(const map_pairs *mp, nat_tri *varies,
                                  nat__why *why) {
  nat__addrbuf b0, b1, b2, b3;
  const nat_obs *const *x;
  if (mp->ip_diff[0] == NULL && mp->port_diff[0] == NULL) {
    if (mp->ip_same[0] != NULL) {
      *varies = NAT_TRI_NO;
      x = mp->ip_same;
      nat__why_set(why,
                   "mapping: same public address %s for %s and %s (servers "
                   "compared, no RFC 5780) -> endpoint-independent",
                   nat__addr_text(&x[0]->mapped, b0),
                   nat__addr_text(&x[0]->server, b1),
                   nat__addr_text(&x[1]->server, b2));
      return NAT_BEH_EI;
    }
    if (mp->port_same[0] != NULL) {
      x = mp->port_same;
      nat__why_set(why,
                   "mapping: same public address %s for %s and %s, but no "
                   "second server IP to compare -> unknown (EI or AD)",
                   nat__addr_text(&x[0]->mapped, b0),
                   nat__addr_text(&x[0]->server, b1),
                   nat__addr_text(&x[1]->server, b2));
      return NAT_BEH_UNKNOWN;
    }
    nat__why_set(why,
                 "mapping: only %s answered (%s); no OTHER-ADDRESS and no "
                 "second destination to compare -> unknown",
                 nat__addr_text(&mp->any->server, b0),
                 nat__addr_text(&mp->any->mapped, b1));
    return NAT_BEH_UNKNOWN;
  }
  *varies = NAT_TRI_YES;
  if (mp->port_diff[0] != NULL) {
    x = mp->port_diff;
    nat__why_set(
        why,
        "mapping: %s for %s but %s for %s (same IP, other port; no "
        "RFC 5780) -> address-and-port-dependent",
        nat__addr_text(&x[0]->mapped, b0), nat__addr_text(&x[0]->server, b1),
        nat__addr_text(&x[1]->mapped, b2), nat__addr_text(&x[1]->server, b3));
    return NAT_BEH_APD;
  }
  x = mp->ip_diff;
  if (mp->port_same[0] != NULL) {
    nat__why_set(
        why,
        "mapping: %s for %s but %s for %s; same for two ports of one "
        "IP (no RFC 5780) -> address-dependent",
        nat__addr_text(&x[0]->mapped, b0), nat__addr_text(&x[0]->server, b1),
        nat__addr_text(&x[1]->mapped, b2), nat__addr_text(&x[1]->server, b3));
    return NAT_BEH_AD;
  }
  nat__why_set(
      why, "mapping: %s for %s but %s for %s -> " DEPENDENT_WHY,
      nat__addr_text(&x[0]->mapped, b0), nat__addr_text(&x[0]->server, b1),
      nat__addr_text(&x[1]->mapped, b2), nat__addr_text(&x[1]->server, b3));
  return NAT_BEH_DEPENDENT;
}

/* Compare answers from one socket to different destinations. Returns
 * false if the socket has no answer at all. */
static bool map_compare(nat__vindex *ix, uint8_t test, uint32_t g,
                        const nat_addr *local, nat_beh *beh, nat_tri *varies,
                        nat__why *why) {
  map_pairs mp;
  nat__addrbuf b0, b1;
  collect_pairs(ix, test, g, local, &mp);
  if (mp.answered == 0)
    return false;
  if (mp.all_local) {
    *varies = NAT_TRI_NO;
    nat__why_set(why,
                 "mapping: mapped address equals local %s for %s -> no "
                 "translation (endpoint-independent)",
                 nat__addr_text(local, b0),
                 nat__addr_text(&mp.any->server, b1));
    *beh = NAT_BEH_EI;
    return true;
  }
  *beh = map_compare_decide(&mp, varies, why);
  return true;
}

/* No answer at all on the socket of @p first: say where it asked. */
static void why_silent(const nat__vindex *ix, uint32_t g, const nat_obs *first,
                       nat__why *why) {
  map_probe p;
  nat__addrbuf b0;
  memset(&p, 0, sizeof p);
  p.dst = first->server;
  probe_find(ix, first->test, g, &p);
  nat__why_set(why, "mapping: no answer from %s after %u tries -> unknown",
               nat__addr_text(&p.dst, b0), p.tries);
}

typedef struct map_best {
  bool have; /* an undecided explanation is kept */
  bool rfc5780;
  nat_tri varies;
  nat__why why;
  bool dependent; /* a socket concluded DEPENDENT: kept for the end */
  bool dep_rfc5780;
  nat__why dep_why;
} map_best;

/* Keep the first undecided (or DEPENDENT) result of a socket: DEPENDENT
 * is concluded only where no socket decides EI, AD or APD. */
static void best_keep(map_best *best, nat_beh b, bool rfc5780, nat_tri var,
                      const nat__why *w) {
  if (b == NAT_BEH_DEPENDENT && !best->dependent) {
    best->dependent = true;
    best->dep_rfc5780 = rfc5780;
    best->dep_why = *w;
  }
  if (!best->have) {
    best->have = true;
    best->rfc5780 = rfc5780;
    best->varies = var;
    best->why = *w;
  }
}

/* Try every socket of @p test (IPv4 first). Returns true once one
 * decides. */
static bool map_try_test(nat__vindex *ix, uint8_t test, nat_beh *beh,
                         bool *rfc5780, nat_tri *varies, nat__why *why,
                         map_best *best) {
  static const uint8_t fams[2] = {NAT_AF_INET, NAT_AF_INET6};
  size_t f, i;
  nat__first_of_test(ix, test);
  for (f = 0; f < 2; f++) {
    for (i = 0; i < ix->n; i++) {
      const nat_obs *first;
      nat__why w;
      nat_tri var = NAT_TRI_UNKNOWN;
      nat_beh b = NAT_BEH_UNKNOWN;
      bool is5780;
      uint32_t g = nat__first_of_socket(ix, i, test, fams[f]);
      if (g == NAT__NONE)
        continue;
      first = earliest(ix, test, g);
      is5780 = map_5780(ix, g, first, &b, &var, &w);
      if (is5780 && (b == NAT_BEH_UNKNOWN || b == NAT_BEH_DEPENDENT))
        best_keep(best, b, true, var, &w);
      if (b == NAT_BEH_UNKNOWN || b == NAT_BEH_DEPENDENT) {
        b = NAT_BEH_UNKNOWN;
        if (!map_compare(ix, test, g, &first->local, &b, &var, &w))
          why_silent(ix, g, first, &w);
      }
      if (b == NAT_BEH_UNKNOWN || b == NAT_BEH_DEPENDENT)
        best_keep(best, b, false, var, &w);
      if (b != NAT_BEH_UNKNOWN && b != NAT_BEH_DEPENDENT) {
        *beh = b;
        *rfc5780 = is5780;
        *varies = var;
        *why = w;
        return true;
      }
    }
  }
  return false;
}

nat_beh nat__mapping(nat__vindex *ix, bool *rfc5780, nat_tri *varies,
                     nat__why *why) {
  map_best best;
  nat_beh beh = NAT_BEH_UNKNOWN;
  *rfc5780 = false;
  *varies = NAT_TRI_UNKNOWN;
  memset(&best, 0, sizeof best);
  if (map_try_test(ix, NAT_OBS_MAPPING, &beh, rfc5780, varies, why, &best) ||
      map_try_test(ix, NAT_OBS_BASIC, &beh, rfc5780, varies, why, &best))
    return beh;
  if (best.dependent) {
    *rfc5780 = best.dep_rfc5780;
    *varies = NAT_TRI_YES;
    *why = best.dep_why;
    why->conf = 1.0;
    return NAT_BEH_DEPENDENT;
  }
  if (best.have) {
    *rfc5780 = best.rfc5780;
    *varies = best.varies;
    *why = best.why;
  } else {
    nat__why_set(why, "mapping: no answered request from a known local "
                      "socket -> unknown");
  }
  return NAT_BEH_UNKNOWN;
}

nat_beh nat_analyze_mapping(const nat_obslog *log, bool *rfc5780) {
  bool r = false;
  nat_tri varies;
  nat__why why;
  nat__vindex ix;
  nat_beh b;
  if (rfc5780 != NULL)
    *rfc5780 = false;
  if (log == NULL || nat__vindex_build(&ix, log) != 0)
    return NAT_BEH_UNKNOWN;
  b = nat__mapping(&ix, &r, &varies, &why);
  nat__vindex_free(&ix);
  if (rfc5780 != NULL)
    *rfc5780 = r;
  return b;
}
