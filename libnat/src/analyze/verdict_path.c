/* Behaviour analyzers of the path: hairpinning (RFC 5780 section 4.5),
 * address pooling (RFC 4787 section 4.1), mapping lifetime
 * (RFC 5780 section 4.6). Rules in nat/verdict.h. Pure: no I/O, no clock.
 */
#include <string.h>

#include "nat/error.h"
#include "verdict_internal.h"

static const char *fip(const nat_addr *a, nat__addrbuf b) {
  return nat_addr_format_ip(a, b, NAT_ADDR_STRLEN);
}

/* ------------------------------------------------------------ hairpinning
 */

nat_tri nat__hairpin(const nat_obslog *log, nat__why *why) {
  const nat_obs *ok = NULL, *to = NULL;
  unsigned tries = 0;
  size_t i, n = nat_obslog_count(log);
  nat__addrbuf b0, b1;
  for (i = 0; i < n; i++) {
    const nat_obs *o = nat_obslog_at(log, i);
    if (o->test != NAT_OBS_HAIRPIN)
      continue;
    if (o->status == 0 && ok == NULL)
      ok = o;
    if (o->status == NAT_ETIMEDOUT) {
      tries += o->transmissions;
      if (to == NULL)
        to = o;
    }
  }
  if (ok != NULL) {
    nat__why_set(why,
                 "hairpinning: %s reached its own public address %s through "
                 "the NAT -> yes",
                 nat__addr_text(&ok->local, b0),
                 nat__addr_text(&ok->server, b1));
    why->conf = 1.0;
    return NAT_TRI_YES;
  }
  if (to != NULL) {
    nat__why_set(why,
                 "hairpinning: %s to its own public address %s: no answer "
                 "after %u tries -> no",
                 nat__addr_text(&to->local, b0),
                 nat__addr_text(&to->server, b1), tries);
    why->conf = nat__loss_conf(tries);
    return NAT_TRI_NO;
  }
  nat__why_set(why, "hairpinning: not tested (no request from one socket "
                    "to a public address of another) -> unknown");
  return NAT_TRI_UNKNOWN;
}

nat_tri nat_analyze_hairpin(const nat_obslog *log) {
  nat__why why;
  if (log == NULL)
    return NAT_TRI_UNKNOWN;
  return nat__hairpin(log, &why);
}

/* ---------------------------------------------------------------- pooling
 */

typedef struct pool_scan {
  const nat_obs *first, *other; /* two different public IPs */
  const nat_obs *arb[2];        /* one local IP, two public IPs */
  size_t answers;
} pool_scan;

static bool pool_obs(const nat_obs *o, uint8_t fam) {
  return nat__answered_mapped(o) && o->mapped.family == fam;
}

static bool eq_mapped_ip(const nat_obs *a, const nat_obs *b) {
  return nat_addr_equal_ip(&a->mapped, &b->mapped);
}

/* arb: the first answer for which an earlier one from the same local IP
 * saw another public IP, and the earliest such earlier one (found per
 * local IP group: linear). */
static void pool_scan_family(nat__vindex *ix, uint8_t fam, pool_scan *ps) {
  const nat_obslog *log = ix->log;
  size_t i;
  memset(ps, 0, sizeof *ps);
  for (i = 0; i < ix->n; i++) {
    const nat_obs *o = &log->v[i];
    uint32_t lip = ix->lip_id[i], j;
    if (!pool_obs(o, fam))
      continue;
    ps->answers++;
    if (ps->first == NULL)
      ps->first = o;
    else if (ps->other == NULL &&
             !nat_addr_equal_ip(&o->mapped, &ps->first->mapped))
      ps->other = o;
    if (ps->arb[0] != NULL || lip == NAT__NONE)
      continue;
    j = nat__avoid1_find(&ix->by_lip[lip], log, o, eq_mapped_ip);
    if (j != NAT__NONE) {
      ps->arb[0] = &log->v[j];
      ps->arb[1] = o;
    }
    nat__avoid1_add(&ix->by_lip[lip], log, (uint32_t)i, eq_mapped_ip);
  }
  for (i = 0; i < ix->n; i++)
    if (ix->lip_id[i] != NAT__NONE)
      nat__avoid1_reset(&ix->by_lip[ix->lip_id[i]]);
}

nat_pooling nat__pooling(nat__vindex *ix, nat__why *why) {
  pool_scan ps;
  nat__addrbuf b0, b1, b2, b3, b4;
  pool_scan_family(ix, NAT_AF_INET, &ps);
  if (ps.answers == 0)
    pool_scan_family(ix, NAT_AF_INET6, &ps);
  if (ps.answers == 0) {
    nat__why_set(why, "pooling: no mapped address -> unknown");
    return NAT_POOL_UNKNOWN;
  }
  if (ps.other == NULL) {
    nat__why_set(why,
                 "pooling: one public address %s over %zu answers -> single "
                 "(paired cannot be told from one internal address)",
                 fip(&ps.first->mapped, b0), ps.answers);
    return NAT_POOL_SINGLE;
  }
  if (ps.arb[0] != NULL) {
    nat__why_set(why,
                 "pooling: local %s appears as %s to %s and as %s to %s -> "
                 "arbitrary",
                 fip(&ps.arb[0]->local, b0), fip(&ps.arb[0]->mapped, b1),
                 nat__addr_text(&ps.arb[0]->server, b2),
                 fip(&ps.arb[1]->mapped, b3),
                 nat__addr_text(&ps.arb[1]->server, b4));
    return NAT_POOL_ARBITRARY;
  }
  nat__why_set(why,
               "pooling: local %s appears as %s, local %s as %s, each "
               "consistently -> paired",
               fip(&ps.first->local, b0), fip(&ps.first->mapped, b1),
               fip(&ps.other->local, b2), fip(&ps.other->mapped, b3));
  return NAT_POOL_PAIRED;
}

nat_pooling nat_analyze_pooling(const nat_obslog *log) {
  nat__why why;
  nat__vindex ix;
  nat_pooling p;
  if (log == NULL || nat__vindex_build(&ix, log) != 0)
    return NAT_POOL_UNKNOWN;
  p = nat__pooling(&ix, &why);
  nat__vindex_free(&ix);
  return p;
}

/* --------------------------------------------------------------- lifetime
 */

/* A control probe: no idle time, asked to answer to RESPONSE-PORT. It
 * checks that the server and the NAT deliver such answers at all. */
static bool lifetime_control(const nat_obs *o) {
  return o->idle == 0 && o->response_port != 0;
}

bool nat__lifetime(const nat_obslog *log, nat_tstamp *min, nat_tstamp *max,
                   nat__why *why) {
  size_t i, n = nat_obslog_count(log);
  bool any = false, ctl_ok = false, ctl_fail = false;
  *min = 0;
  *max = 0;
  for (i = 0; i < n; i++) {
    const nat_obs *o = nat_obslog_at(log, i);
    if (o->test != NAT_OBS_LIFETIME)
      continue;
    if (lifetime_control(o)) {
      ctl_ok |= o->status == 0;
      ctl_fail |= o->status == NAT_ETIMEDOUT;
      continue;
    }
    if (o->idle == 0)
      continue; /* a request that made the mapping */
    if (o->status == 0) {
      any = true;
      if (o->idle > *min)
        *min = o->idle;
    } else if (o->status == NAT_ETIMEDOUT) {
      any = true;
      if (*max == 0 || o->idle < *max)
        *max = o->idle;
    }
  }
  if (ctl_fail && !ctl_ok) {
    *min = *max = 0;
    nat__why_set(why, "lifetime: the control probe (no idle time) got no "
                      "answer: answers to RESPONSE-PORT do not arrive -> not "
                      "measured");
    return true;
  }
  if (!any)
    return false;
  if (*max != 0 && *max <= *min)
    nat__why_set(why,
                 "lifetime: alive after %.1f s idle but gone after %.1f s: "
                 "inconsistent (the NAT's timer is not idle-based)",
                 (double)*min / 1e9, (double)*max / 1e9);
  else if (*max != 0 && *min == 0)
    nat__why_set(why,
                 "lifetime: mapping gone after %.1f s idle -> shorter "
                 "than that",
                 (double)*max / 1e9);
  else if (*max != 0)
    nat__why_set(why,
                 "lifetime: mapping alive after %.1f s idle, gone after "
                 "%.1f s -> between the two",
                 (double)*min / 1e9, (double)*max / 1e9);
  else
    nat__why_set(why,
                 "lifetime: mapping alive after %.1f s idle -> at least "
                 "that",
                 (double)*min / 1e9);
  return true;
}
