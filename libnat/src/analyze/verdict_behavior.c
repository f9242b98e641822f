/* Behaviour analyzers: mapping and filtering (RFC 5780 sections 4.3 and
 * 4.4) from an observation log, each with a line saying why. The rules are
 * in nat/verdict.h. Pure: no I/O, no clock. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/addr_internal.h"
#include "nat/error.h"
#include "verdict_internal.h"

void nat__why_set(nat__why *why, const char *fmt, ...) {
  va_list ap;
  if (why == NULL)
    return;
  va_start(ap, fmt);
  vsnprintf(why->line, sizeof why->line, fmt, ap);
  va_end(ap);
}

typedef char addrbuf[NAT_ADDR_STRLEN];

static const char *fa(const nat_addr *a, addrbuf b) {
  return nat_addr_format(a, b, NAT_ADDR_STRLEN);
}

static bool answered_mapped(const nat_obs *o) {
  return o->status == 0 && o->has_mapped;
}

static bool concrete_local(const nat_addr *a) {
  return a->family != NAT_AF_NONE && a->port != 0;
}

/* Fill ix->first_of: per local socket, its first observation of @p test
 * (NAT__NONE if none). */
static void first_of_test(nat__vindex *ix, uint8_t test) {
  size_t i, g;
  for (g = 0; g < ix->nlocal; g++)
    ix->first_of[g] = NAT__NONE;
  for (i = 0; i < ix->n; i++) {
    uint32_t id = ix->local_id[i];
    if (ix->log->v[i].test == test && id != NAT__NONE &&
        ix->first_of[id] == NAT__NONE)
      ix->first_of[id] = (uint32_t)i;
  }
}

/* The local socket of observation @p i if @p i is the first of @p test
 * from that socket and the socket is a concrete one of family @p fam
 * (first_of_test() ran for @p test), else NAT__NONE. */
static uint32_t first_of_socket(const nat__vindex *ix, size_t i, uint8_t test,
                                uint8_t fam) {
  const nat_obs *o = &ix->log->v[i];
  uint32_t g = ix->local_id[i];
  if (o->test != test || o->local.family != fam || !concrete_local(&o->local) ||
      g == NAT__NONE || ix->first_of[g] != i)
    return NAT__NONE;
  return g;
}

/* Observation @p k of a socket's list (nat__vindex.sock_obs). */
static const nat_obs *sock_at(const nat__vindex *ix, size_t k) {
  return &ix->log->v[ix->sock_obs[k]];
}

static size_t obs_index(const nat__vindex *ix, const nat_obs *o) {
  return (size_t)(o - ix->log->v);
}

/* The earliest observation of @p test from local socket @p g (log order
 * breaks ties). */
static const nat_obs *earliest(const nat__vindex *ix, uint8_t test,
                               uint32_t g) {
  const nat_obs *best = NULL;
  size_t k, end = ix->sock_start[g + 1];
  for (k = ix->sock_start[g]; k < end; k++) {
    const nat_obs *o = sock_at(ix, k);
    if (o->test != test)
      continue;
    if (best == NULL || o->sent_at < best->sent_at)
      best = o;
  }
  return best;
}

/* ---------------------------------------------------------------- mapping
 */

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
    const nat_obs *o = sock_at(ix, k);
    if (o->test != test || !nat_addr_equal(&o->server, &p->dst))
      continue;
    p->attempts++;
    if (answered_mapped(o)) {
      if (p->ans == NULL)
        p->ans = o;
    } else {
      p->tries += o->transmissions;
    }
  }
}

static nat_beh map_5780_decide(const map_probe *p, const nat_addr *local,
                               nat_tri *varies, nat__why *why) {
  addrbuf b0, b1, b2, b3, b4, b5;
  const nat_addr *m0, *m1, *m2;
  if (p[0].ans == NULL) {
    nat__why_set(why, "mapping: no answer from %s after %u tries -> unknown",
                 fa(&p[0].dst, b0), p[0].tries);
    return NAT_BEH_UNKNOWN;
  }
  m0 = &p[0].ans->mapped;
  if (nat_addr_equal(m0, local) &&
      (p[1].ans == NULL || nat_addr_equal(&p[1].ans->mapped, m0))) {
    *varies = NAT_TRI_NO;
    nat__why_set(why,
                 "mapping: mapped address equals local %s for %s -> no "
                 "translation (endpoint-independent)",
                 fa(local, b0), fa(&p[0].dst, b1));
    return NAT_BEH_EI;
  }
  if (p[1].ans == NULL) {
    nat__why_set(why,
                 "mapping: %s for %s, no answer from %s after %u tries -> "
                 "unknown",
                 fa(m0, b0), fa(&p[0].dst, b1), fa(&p[1].dst, b2), p[1].tries);
    return NAT_BEH_UNKNOWN;
  }
  m1 = &p[1].ans->mapped;
  if (nat_addr_equal(m0, m1)) {
    *varies = NAT_TRI_NO;
    nat__why_set(why,
                 "mapping: same public address %s for %s and %s -> "
                 "endpoint-independent",
                 fa(m0, b0), fa(&p[0].dst, b1), fa(&p[1].dst, b2));
    return NAT_BEH_EI;
  }
  *varies = NAT_TRI_YES;
  if (p[2].ans == NULL) {
    nat__why_set(why,
                 "mapping: %s for %s but %s for %s; no answer from %s after "
                 "%u tries -> unknown (varies by destination)",
                 fa(m0, b0), fa(&p[0].dst, b1), fa(m1, b2), fa(&p[1].dst, b3),
                 fa(&p[2].dst, b4), p[2].tries);
    return NAT_BEH_UNKNOWN;
  }
  m2 = &p[2].ans->mapped;
  if (nat_addr_equal(m1, m2)) {
    nat__why_set(why,
                 "mapping: %s for %s but %s for %s and %s -> "
                 "address-dependent",
                 fa(m0, b0), fa(&p[0].dst, b1), fa(m1, b2), fa(&p[1].dst, b3),
                 fa(&p[2].dst, b4));
    return NAT_BEH_AD;
  }
  nat__why_set(why,
               "mapping: %s for %s, %s for %s, %s for %s -> "
               "address-and-port-dependent",
               fa(m0, b0), fa(&p[0].dst, b1), fa(m1, b2), fa(&p[1].dst, b3),
               fa(m2, b4), fa(&p[2].dst, b5));
  return NAT_BEH_APD;
}

/* RFC 5780 section 4.3 on the socket of @p first. Returns false if the
 * log does not have that shape (no OTHER-ADDRESS, no probe to it). */
static bool map_5780(const nat__vindex *ix, uint32_t g, const nat_obs *first,
                     nat_beh *beh, nat_tri *varies, nat__why *why) {
  map_probe p[3];
  nat_addr oa;
  int k;
  if (!nat__vindex_other_of(ix, obs_index(ix, first), &oa))
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
    const nat_obs *a = sock_at(ix, k);
    if (a->test != test || !answered_mapped(a))
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
  addrbuf b0, b1, b2, b3;
  const nat_obs *const *x;
  if (mp->ip_diff[0] == NULL && mp->port_diff[0] == NULL) {
    if (mp->ip_same[0] != NULL) {
      *varies = NAT_TRI_NO;
      x = mp->ip_same;
      nat__why_set(why,
                   "mapping: same public address %s for %s and %s (servers "
                   "compared, no RFC 5780) -> endpoint-independent",
                   fa(&x[0]->mapped, b0), fa(&x[0]->server, b1),
                   fa(&x[1]->server, b2));
      return NAT_BEH_EI;
    }
    if (mp->port_same[0] != NULL) {
      x = mp->port_same;
      nat__why_set(why,
                   "mapping: same public address %s for %s and %s, but no "
                   "second server IP to compare -> unknown (EI or AD)",
                   fa(&x[0]->mapped, b0), fa(&x[0]->server, b1),
                   fa(&x[1]->server, b2));
      return NAT_BEH_UNKNOWN;
    }
    nat__why_set(why,
                 "mapping: only %s answered (%s); no OTHER-ADDRESS and no "
                 "second destination to compare -> unknown",
                 fa(&mp->any->server, b0), fa(&mp->any->mapped, b1));
    return NAT_BEH_UNKNOWN;
  }
  *varies = NAT_TRI_YES;
  if (mp->port_diff[0] != NULL) {
    x = mp->port_diff;
    nat__why_set(why,
                 "mapping: %s for %s but %s for %s (same IP, other port; no "
                 "RFC 5780) -> address-and-port-dependent",
                 fa(&x[0]->mapped, b0), fa(&x[0]->server, b1),
                 fa(&x[1]->mapped, b2), fa(&x[1]->server, b3));
    return NAT_BEH_APD;
  }
  x = mp->ip_diff;
  if (mp->port_same[0] != NULL) {
    nat__why_set(why,
                 "mapping: %s for %s but %s for %s; same for two ports of one "
                 "IP (no RFC 5780) -> address-dependent",
                 fa(&x[0]->mapped, b0), fa(&x[0]->server, b1),
                 fa(&x[1]->mapped, b2), fa(&x[1]->server, b3));
    return NAT_BEH_AD;
  }
  nat__why_set(why,
               "mapping: %s for %s but %s for %s (no RFC 5780, no two ports "
               "of one IP) -> unknown (varies by destination: AD or APD)",
               fa(&x[0]->mapped, b0), fa(&x[0]->server, b1),
               fa(&x[1]->mapped, b2), fa(&x[1]->server, b3));
  return NAT_BEH_UNKNOWN;
}

/* Compare answers from one socket to different destinations. Returns
 * false if the socket has no answer at all. */
static bool map_compare(nat__vindex *ix, uint8_t test, uint32_t g,
                        const nat_addr *local, nat_beh *beh, nat_tri *varies,
                        nat__why *why) {
  map_pairs mp;
  addrbuf b0, b1;
  collect_pairs(ix, test, g, local, &mp);
  if (mp.answered == 0)
    return false;
  if (mp.all_local) {
    *varies = NAT_TRI_NO;
    nat__why_set(why,
                 "mapping: mapped address equals local %s for %s -> no "
                 "translation (endpoint-independent)",
                 fa(local, b0), fa(&mp.any->server, b1));
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
  addrbuf b0;
  memset(&p, 0, sizeof p);
  p.dst = first->server;
  probe_find(ix, first->test, g, &p);
  nat__why_set(why, "mapping: no answer from %s after %u tries -> unknown",
               fa(&p.dst, b0), p.tries);
}

typedef struct map_best {
  bool have; /* an undecided explanation is kept */
  bool rfc5780;
  nat_tri varies;
  nat__why why;
} map_best;

/* Try every socket of @p test (IPv4 first). Returns true once one
 * decides. */
static bool map_try_test(nat__vindex *ix, uint8_t test, nat_beh *beh,
                         bool *rfc5780, nat_tri *varies, nat__why *why,
                         map_best *best) {
  static const uint8_t fams[2] = {NAT_AF_INET, NAT_AF_INET6};
  size_t f, i;
  first_of_test(ix, test);
  for (f = 0; f < 2; f++) {
    for (i = 0; i < ix->n; i++) {
      const nat_obs *first;
      nat__why w;
      nat_tri var = NAT_TRI_UNKNOWN;
      nat_beh b = NAT_BEH_UNKNOWN;
      bool is5780;
      uint32_t g = first_of_socket(ix, i, test, fams[f]);
      if (g == NAT__NONE)
        continue;
      first = earliest(ix, test, g);
      is5780 = map_5780(ix, g, first, &b, &var, &w);
      if (is5780 && b == NAT_BEH_UNKNOWN && !best->have) {
        best->have = true;
        best->rfc5780 = true;
        best->varies = var;
        best->why = w;
      }
      if (b == NAT_BEH_UNKNOWN &&
          !map_compare(ix, test, g, &first->local, &b, &var, &w))
        why_silent(ix, g, first, &w);
      if (b == NAT_BEH_UNKNOWN && !best->have) {
        best->have = true;
        best->rfc5780 = false;
        best->varies = var;
        best->why = w;
      }
      if (b != NAT_BEH_UNKNOWN) {
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

/* -------------------------------------------------------------- filtering
 */

enum { F_NONE, F_TIMEOUT, F_ERROR, F_IGNORED, F_OK };

typedef struct fcat {
  int state;
  const nat_obs *o; /* the observation that set the state */
  unsigned tries;   /* transmissions of the timed-out attempts */
} fcat;

/* The source of a response: where it came from, else RESPONSE-ORIGIN. */
static const nat_addr *resp_source(const nat_obs *o) {
  if (o->from.family != NAT_AF_NONE)
    return &o->from;
  if (o->has_response_origin)
    return &o->response_origin;
  return NULL;
}

static int fclass(const nat_obs *o) {
  const nat_addr *src;
  if (o->status == NAT_ETIMEDOUT)
    return F_TIMEOUT;
  if (o->status == NAT_ESTUNERR)
    return F_ERROR;
  if (o->status != 0)
    return F_NONE;
  src = resp_source(o);
  if (src == NULL)
    return F_OK;
  if (!nat_addr_equal_ip(src, &o->server))
    return F_OK;
  if (o->change_flags & NAT__CHANGE_IP)
    return F_IGNORED; /* the IP did not change */
  return src->port == o->server.port ? F_IGNORED : F_OK;
}

static void fold_cat(fcat *c, const nat_obs *o) {
  int st = fclass(o);
  if (st == F_TIMEOUT)
    c->tries += o->transmissions;
  if (st > c->state) {
    c->state = st;
    c->o = o;
  }
}

typedef struct fgroup {
  const nat_obs *open; /* answered opening request */
  const nat_obs *open_try;
  unsigned open_tries;
  fcat ip, port; /* change IP (+port), change port only */
  bool has_oa;
  nat_addr oa;
} fgroup;

static int cmp_ip(const void *pa, const void *pb) {
  const nat_addr *a = pa, *b = pb;
  if (a->family != b->family)
    return a->family < b->family ? -1 : 1;
  return memcmp(a->ip, b->ip, sizeof a->ip);
}

/* A change-IP filtering request answered from another IP. */
static bool blind_candidate(const nat_obs *o) {
  const nat_addr *src = resp_source(o);
  return o->test == NAT_OBS_FILTERING && (o->change_flags & NAT__CHANGE_IP) &&
         o->status == 0 && src != NULL && nat__addr_ip_len(src) > 0 &&
         src->family == o->server.family && !nat_addr_equal_ip(src, &o->server);
}

/* The first change-IP request of socket @p sock answered from an IP that
 * socket never sent anything to (any test, any time), or NULL: only an
 * endpoint-independent filter lets such an answer in (verdict.h). The
 * socket's destination IPs are sorted: O(k log k). NULL also when memory
 * runs out (no proof, the verdict stays unknown). */
static const nat_obs *blind_answer(const nat__vindex *ix, uint32_t sock) {
  size_t k, m = 0, start = ix->sock_start[sock], end = ix->sock_start[sock + 1];
  const nat_obs *hit = NULL;
  nat_addr *ips;
  for (k = start; k < end && !blind_candidate(sock_at(ix, k)); k++)
    ;
  if (k == end || (ips = malloc((end - start) * sizeof *ips)) == NULL)
    return NULL;
  for (k = start; k < end; k++)
    if (nat__addr_ip_len(&sock_at(ix, k)->server) > 0)
      ips[m++] = nat__addr_ip_only(&sock_at(ix, k)->server);
  qsort(ips, m, sizeof *ips, cmp_ip);
  for (k = start; k < end && hit == NULL; k++) {
    const nat_obs *o = sock_at(ix, k);
    nat_addr key;
    if (!blind_candidate(o))
      continue;
    key = nat__addr_ip_only(resp_source(o));
    if (bsearch(&key, ips, m, sizeof *ips, cmp_ip) == NULL)
      hit = o;
  }
  free(ips);
  return hit;
}

/* An answered request from @p local to @p server of any test: the
 * mapping the change requests need, when no flags-0 filtering request
 * was logged. */
static const nat_obs *any_opening(const nat__vindex *ix, uint32_t sock,
                                  const nat_addr *server) {
  size_t k, end = ix->sock_start[sock + 1];
  for (k = ix->sock_start[sock]; k < end; k++) {
    const nat_obs *o = sock_at(ix, k);
    if (o->status == 0 && o->change_flags == 0 &&
        nat_addr_equal(&o->server, server))
      return o;
  }
  return NULL;
}

/* The filtering test of local socket @p sock. */
static void fgroup_collect(const nat__vindex *ix, uint32_t sock, fgroup *g) {
  size_t k, end = ix->sock_start[sock + 1];
  const nat_obs *first_change = NULL;
  memset(g, 0, sizeof *g);
  for (k = ix->sock_start[sock]; k < end; k++) {
    const nat_obs *o = sock_at(ix, k);
    if (o->test != NAT_OBS_FILTERING)
      continue;
    if (o->change_flags != 0) {
      if (first_change == NULL)
        first_change = o;
      continue;
    }
    if (g->open_try == NULL)
      g->open_try = o;
    if (o->status == 0 && (g->open == NULL || o->sent_at < g->open->sent_at))
      g->open = o;
    else if (o->status != 0)
      g->open_tries += o->transmissions;
  }
  if (g->open == NULL && g->open_try == NULL && first_change != NULL)
    g->open = any_opening(ix, sock, &first_change->server);
  if (g->open == NULL)
    return;
  /* the alternate address of the server the change requests went to */
  g->has_oa = (first_change != NULL &&
               nat__vindex_other_of(ix, obs_index(ix, first_change), &g->oa)) ||
              nat__vindex_other_of(ix, obs_index(ix, g->open), &g->oa);
  for (k = ix->sock_start[sock]; k < end; k++) {
    const nat_obs *o = sock_at(ix, k);
    if (o->test != NAT_OBS_FILTERING || o->change_flags == 0 ||
        o->sent_at < g->open->sent_at)
      continue;
    if (o->change_flags & NAT__CHANGE_IP)
      fold_cat(&g->ip, o);
    else if (o->change_flags & NAT__CHANGE_PORT)
      fold_cat(&g->port, o);
  }
}

/* The address a change request's answer should come from. */
static const char *expected_src(const fgroup *g, bool change_ip, addrbuf b) {
  nat_addr e;
  if (!g->has_oa)
    return change_ip ? "another IP and port" : "another port";
  e = change_ip ? g->oa : g->open->server;
  e.port = g->oa.port;
  return fa(&e, b);
}

/* The server did not do CHANGE-REQUEST: explain from category @p c. */
static void explain_unsupported(const fgroup *g, const fcat *c, bool ip,
                                nat__why *why) {
  addrbuf b0, b1, b2;
  const char *what = ip ? "change IP and port" : "change port";
  if (c->state == F_IGNORED)
    nat__why_set(why,
                 "filtering: %s answered %s from %s, not from %s: the server "
                 "ignores CHANGE-REQUEST -> unknown",
                 fa(&c->o->server, b0), what, fa(resp_source(c->o), b1),
                 expected_src(g, ip, b2));
  else
    nat__why_set(why,
                 "filtering: %s refused %s with error %d%s%s: the server "
                 "does not support CHANGE-REQUEST -> unknown",
                 fa(&c->o->server, b0), what, c->o->error_code,
                 c->o->error_reason[0] ? " " : "", c->o->error_reason);
}

/* The socket's change-IP request @p o was answered from an IP it never
 * sent to. */
static nat_beh blind_decide(const nat_obs *o, nat__why *why) {
  addrbuf b0, b1;
  nat__why_set(why,
               "filtering: answer from %s to change IP (request to %s), an "
               "IP this socket never sent to -> endpoint-independent",
               fa(resp_source(o), b0), fa(&o->server, b1));
  return NAT_BEH_EI;
}

static nat_beh fgroup_decide(const fgroup *g, bool *unsupported,
                             nat__why *why) {
  addrbuf b0, b1, b2;
  const fcat *ip = &g->ip, *pt = &g->port;
  if (g->open == NULL) {
    if (g->open_try != NULL)
      nat__why_set(why,
                   "filtering: no answer from %s to the opening request "
                   "after %u tries -> unknown",
                   fa(&g->open_try->server, b0), g->open_tries);
    else
      nat__why_set(why, "filtering: no opening request -> unknown");
    return NAT_BEH_UNKNOWN;
  }
  if (ip->state == F_OK) {
    nat__why_set(why,
                 "filtering: answer from %s to change IP and port (opening "
                 "request to %s) -> endpoint-independent",
                 fa(resp_source(ip->o) ? resp_source(ip->o) : &g->oa, b0),
                 fa(&g->open->server, b1));
    return NAT_BEH_EI;
  }
  if (ip->state == F_IGNORED || ip->state == F_ERROR ||
      pt->state == F_IGNORED || pt->state == F_ERROR) {
    bool on_ip = ip->state == F_IGNORED || ip->state == F_ERROR;
    *unsupported = true;
    explain_unsupported(g, on_ip ? ip : pt, on_ip, why);
    if (pt->state == F_OK)
      snprintf(why->line + strlen(why->line),
               sizeof why->line - strlen(why->line),
               " (change port passed: EI or AD)");
    return NAT_BEH_UNKNOWN;
  }
  if (ip->state == F_NONE && pt->state == F_NONE && !g->has_oa) {
    nat__why_set(why,
                 "filtering: %s advertises no OTHER-ADDRESS (no RFC 5780): "
                 "no change requests were sent -> unknown",
                 fa(&g->open->server, b0));
    return NAT_BEH_UNKNOWN;
  }
  if (ip->state == F_NONE || pt->state == F_NONE) {
    nat__why_set(why,
                 "filtering: the change %s request was not made -> "
                 "unknown",
                 ip->state == F_NONE ? "IP and port" : "port");
    return NAT_BEH_UNKNOWN;
  }
  if (pt->state == F_OK) {
    nat__why_set(why,
                 "filtering: no answer from %s (change IP and port) after %u "
                 "tries; answer from %s (change port) -> address-dependent",
                 expected_src(g, true, b0), ip->tries,
                 fa(resp_source(pt->o) ? resp_source(pt->o) : &g->oa, b1));
    return NAT_BEH_AD;
  }
  if (!g->has_oa) {
    nat__why_set(why,
                 "filtering: no answer to change requests, but %s advertises "
                 "no OTHER-ADDRESS: it may drop them -> unknown",
                 fa(&g->open->server, b0));
    return NAT_BEH_UNKNOWN;
  }
  nat__why_set(why,
               "filtering: no answer from %s (change IP and port) after %u "
               "tries nor from %s (change port) after %u; %s answered the "
               "opening request -> address-and-port-dependent",
               expected_src(g, true, b0), ip->tries, expected_src(g, false, b1),
               pt->tries, fa(&g->open->server, b2));
  return NAT_BEH_APD;
}

nat_beh nat__filtering(nat__vindex *ix, bool *unsupported, nat__why *why) {
  static const uint8_t fams[2] = {NAT_AF_INET, NAT_AF_INET6};
  nat__why first_why;
  bool have = false, first_unsup = false;
  size_t f, i;
  *unsupported = false;
  first_of_test(ix, NAT_OBS_FILTERING);
  for (f = 0; f < 2; f++) {
    for (i = 0; i < ix->n; i++) {
      fgroup g;
      nat__why w;
      bool unsup = false;
      nat_beh b;
      const nat_obs *blind = NULL;
      uint32_t sock = first_of_socket(ix, i, NAT_OBS_FILTERING, fams[f]);
      if (sock == NAT__NONE)
        continue;
      fgroup_collect(ix, sock, &g);
      /* no change-IP request rated after an opening request */
      if (g.open == NULL || g.ip.state == F_NONE)
        blind = blind_answer(ix, sock);
      b = blind != NULL ? blind_decide(blind, &w)
                        : fgroup_decide(&g, &unsup, &w);
      if (b != NAT_BEH_UNKNOWN) {
        *why = w;
        return b;
      }
      if (!have) {
        have = true;
        first_why = w;
        first_unsup = unsup;
      }
    }
  }
  if (have) {
    *why = first_why;
    *unsupported = first_unsup;
  } else {
    nat__why_set(why, "filtering: not tested -> unknown");
  }
  return NAT_BEH_UNKNOWN;
}

nat_beh nat_analyze_filtering(const nat_obslog *log) {
  nat__why why;
  nat__vindex ix;
  bool unsup;
  nat_beh b;
  if (log == NULL || nat__vindex_build(&ix, log) != 0)
    return NAT_BEH_UNKNOWN;
  b = nat__filtering(&ix, &unsup, &why);
  nat__vindex_free(&ix);
  return b;
}
