/* Filtering analyzer (RFC 5780 section 4.4) from an observation log,
 * with a line saying why. The rules are in nat/verdict.h. Pure: no I/O,
 * no clock. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/addr_internal.h"
#include "nat/error.h"
#include "verdict_behavior.h"
#include "verdict_internal.h"

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
  nat_addr primary; /* where the change requests went (IP1:P1) */
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
  for (k = start; k < end && !blind_candidate(nat__sock_at(ix, k)); k++)
    ;
  if (k == end || (ips = malloc((end - start) * sizeof *ips)) == NULL)
    return NULL;
  for (k = start; k < end; k++)
    if (nat__addr_ip_len(&nat__sock_at(ix, k)->server) > 0)
      ips[m++] = nat__addr_ip_only(&nat__sock_at(ix, k)->server);
  qsort(ips, m, sizeof *ips, cmp_ip);
  for (k = start; k < end && hit == NULL; k++) {
    const nat_obs *o = nat__sock_at(ix, k);
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
    const nat_obs *o = nat__sock_at(ix, k);
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
    const nat_obs *o = nat__sock_at(ix, k);
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
  g->primary = g->open->server;
  /* the alternate address of the server the change requests went to */
  g->has_oa =
      (first_change != NULL &&
       nat__vindex_other_of(ix, nat__obs_index(ix, first_change), &g->oa)) ||
      nat__vindex_other_of(ix, nat__obs_index(ix, g->open), &g->oa);
  for (k = ix->sock_start[sock]; k < end; k++) {
    const nat_obs *o = nat__sock_at(ix, k);
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
static const char *expected_src(const fgroup *g, bool change_ip,
                                nat__addrbuf b) {
  nat_addr e;
  if (!g->has_oa)
    return change_ip ? "another IP and port" : "another port";
  e = change_ip ? g->oa : g->primary;
  e.port = g->oa.port;
  return nat__addr_text(&e, b);
}

/* The server did not do CHANGE-REQUEST: explain from category @p c. */
static void explain_unsupported(const fgroup *g, const fcat *c, bool ip,
                                nat__why *why) {
  nat__addrbuf b0, b1, b2;
  const char *what = ip ? "change IP and port" : "change port";
  if (c->state == F_IGNORED)
    nat__why_set(why,
                 "filtering: %s answered %s from %s, not from %s: the server "
                 "ignores CHANGE-REQUEST -> unknown",
                 nat__addr_text(&c->o->server, b0), what,
                 nat__addr_text(resp_source(c->o), b1),
                 expected_src(g, ip, b2));
  else
    nat__why_set(why,
                 "filtering: %s refused %s with error %d%s%s: the server "
                 "does not support CHANGE-REQUEST -> unknown",
                 nat__addr_text(&c->o->server, b0), what, c->o->error_code,
                 c->o->error_reason[0] ? " " : "", c->o->error_reason);
}

/* The socket's change-IP request @p o was answered from an IP it never
 * sent to. */
static nat_beh blind_decide(const nat_obs *o, nat__why *why) {
  nat__addrbuf b0, b1;
  nat__why_set(why,
               "filtering: answer from %s to change IP (request to %s), an "
               "IP this socket never sent to -> endpoint-independent",
               nat__addr_text(resp_source(o), b0),
               nat__addr_text(&o->server, b1));
  why->conf = 1.0;
  return NAT_BEH_EI;
}

static nat_beh fgroup_decide(const fgroup *g, bool *unsupported,
                             nat__why *why) {
  nat__addrbuf b0, b1, b2;
  const fcat *ip = &g->ip, *pt = &g->port;
  if (g->open == NULL) {
    if (g->open_try != NULL)
      nat__why_set(why,
                   "filtering: no answer from %s to the opening request "
                   "after %u tries -> unknown",
                   nat__addr_text(&g->open_try->server, b0), g->open_tries);
    else
      nat__why_set(why, "filtering: no opening request -> unknown");
    return NAT_BEH_UNKNOWN;
  }
  if (ip->state == F_OK) {
    nat__why_set(
        why,
        "filtering: answer from %s to change IP and port (opening "
        "request to %s) -> endpoint-independent",
        nat__addr_text(resp_source(ip->o) ? resp_source(ip->o) : &g->oa, b0),
        nat__addr_text(&g->open->server, b1));
    why->conf = 1.0;
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
                 nat__addr_text(&g->open->server, b0));
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
    nat__why_set(
        why,
        "filtering: no answer from %s (change IP and port) after %u "
        "tries; answer from %s (change port) -> address-dependent",
        expected_src(g, true, b0), ip->tries,
        nat__addr_text(resp_source(pt->o) ? resp_source(pt->o) : &g->oa, b1));
    why->conf = nat__loss_conf(ip->tries);
    return NAT_BEH_AD;
  }
  if (!g->has_oa) {
    nat__why_set(why,
                 "filtering: no answer to change requests, but %s advertises "
                 "no OTHER-ADDRESS: it may drop them -> unknown",
                 nat__addr_text(&g->open->server, b0));
    return NAT_BEH_UNKNOWN;
  }
  nat__why_set(why,
               "filtering: no answer from %s (change IP and port) after %u "
               "tries nor from %s (change port) after %u; %s answered the "
               "opening request -> address-and-port-dependent",
               expected_src(g, true, b0), ip->tries, expected_src(g, false, b1),
               pt->tries, nat__addr_text(&g->open->server, b2));
  why->conf = nat__loss_conf(ip->tries < pt->tries ? ip->tries : pt->tries);
  return NAT_BEH_APD;
}

/* ------------------------------- change requests that opened the mapping
 *
 * The classic `stun` client's second socket sends only change requests,
 * each to IP1:P1: each one opens the NAT's mapping and filter towards
 * IP1:P1 itself (nat/verdict.h). */

/* The change requests of socket @p sock folded by kind into @p g
 * (g->primary: their one destination; *first: the first of them).
 * False if there are none or they went to several destinations. */
static bool unopened_collect(const nat__vindex *ix, uint32_t sock, fgroup *g,
                             const nat_obs **first) {
  size_t k, end = ix->sock_start[sock + 1];
  memset(g, 0, sizeof *g);
  *first = NULL;
  for (k = ix->sock_start[sock]; k < end; k++) {
    const nat_obs *o = nat__sock_at(ix, k);
    if (o->test != NAT_OBS_FILTERING || o->change_flags == 0)
      continue;
    if (*first == NULL)
      *first = o;
    else if (!nat_addr_equal(&o->server, &(*first)->server))
      return false;
    if (o->change_flags & NAT__CHANGE_IP)
      fold_cat(&g->ip, o);
    else if (o->change_flags & NAT__CHANGE_PORT)
      fold_cat(&g->port, o);
  }
  if (*first == NULL)
    return false;
  g->primary = (*first)->server;
  g->has_oa = nat__vindex_other_of(ix, nat__obs_index(ix, *first), &g->oa);
  return true;
}

/* Socket @p sock sent a request to @p a (any test, any time). */
static bool sent_to(const nat__vindex *ix, uint32_t sock, const nat_addr *a) {
  size_t k, end = ix->sock_start[sock + 1];
  for (k = ix->sock_start[sock]; k < end; k++)
    if (nat_addr_equal(&nat__sock_at(ix, k)->server, a))
      return true;
  return false;
}

/* The server of @p first advertised an alternate and answered some
 * request (the path works); else why not. */
static bool unopened_usable(const nat__vindex *ix, const fgroup *g,
                            const nat_obs *first, nat__why *why) {
  uint32_t s = ix->server_id[nat__obs_index(ix, first)];
  nat__addrbuf b0;
  if (!g->has_oa) {
    nat__why_set(why,
                 "filtering: no opening request, and %s advertised no "
                 "OTHER-ADDRESS or CHANGED-ADDRESS: silence cannot be told "
                 "from a server that drops change requests -> unknown",
                 nat__addr_text(&g->primary, b0));
    return false;
  }
  if (s == NAT__NONE || ix->srv_answered[s] == NAT__NONE) {
    nat__why_set(why,
                 "filtering: no opening request, and no request to %s was "
                 "answered: the path to it is not known to work -> unknown",
                 nat__addr_text(&g->primary, b0));
    return false;
  }
  return true;
}

/* Change IP timed out over enough tries; rate change port. */
static nat_beh unopened_port(const nat__vindex *ix, uint32_t sock,
                             const fgroup *g, nat__why *why) {
  const fcat *ip = &g->ip, *pt = &g->port;
  const nat_addr *src = pt->state == F_OK ? resp_source(pt->o) : NULL;
  nat__addrbuf b0, b1, b2;
  char oip[NAT_ADDR_STRLEN];
  nat_addr_format_ip(&g->oa, oip, sizeof oip);
  if (src != NULL && nat_addr_equal_ip(src, &g->primary) &&
      !sent_to(ix, sock, src)) {
    nat__why_set(why,
                 "filtering: change requests from %s to %s opened the "
                 "mapping; no answer from %s (change IP) after %u tries; "
                 "answer from %s (change port) -> address-dependent",
                 nat__addr_text(&ip->o->local, b0),
                 nat__addr_text(&g->primary, b1), oip, ip->tries,
                 nat__addr_text(src, b2));
    why->conf = nat__loss_conf(ip->tries);
    return NAT_BEH_AD;
  }
  if (pt->state == F_TIMEOUT && pt->tries >= NAT__MIN_TRIES) {
    nat__why_set(why,
                 "filtering: change requests from %s to %s opened the "
                 "mapping; no answer from %s (change IP) after %u tries nor "
                 "from %s (change port) after %u -> "
                 "address-and-port-dependent",
                 nat__addr_text(&ip->o->local, b0),
                 nat__addr_text(&g->primary, b1), oip, ip->tries,
                 expected_src(g, false, b2), pt->tries);
    why->conf = nat__loss_conf(ip->tries < pt->tries ? ip->tries : pt->tries);
    return NAT_BEH_APD;
  }
  nat__why_set(why,
               "filtering: no opening request; change IP to %s timed out "
               "after %u tries, but change port %s -> unknown (AD or APD)",
               nat__addr_text(&g->primary, b0), ip->tries,
               pt->state == F_NONE      ? "was not asked"
               : pt->state == F_TIMEOUT ? "timed out after fewer than 3 tries"
                                        : "was answered from an address "
                                          "that proves nothing (one this "
                                          "socket sent to, or another IP)");
  return NAT_BEH_UNKNOWN;
}

/* Socket @p sock made no opening request: rate the change requests that
 * opened its mapping themselves (nat/verdict.h), where the EI rule above
 * did not decide. */
static nat_beh unopened_decide(const nat__vindex *ix, uint32_t sock,
                               bool *unsupported, nat__why *why) {
  fgroup g;
  const nat_obs *first;
  nat__addrbuf b0;
  bool on_ip;
  if (!unopened_collect(ix, sock, &g, &first)) {
    nat__why_set(why, "filtering: no opening request%s -> unknown",
                 first != NULL ? ", and the change requests went to several "
                                 "destinations"
                               : "");
    return NAT_BEH_UNKNOWN;
  }
  if (!unopened_usable(ix, &g, first, why))
    return NAT_BEH_UNKNOWN;
  on_ip = g.ip.state == F_IGNORED || g.ip.state == F_ERROR;
  if (on_ip || g.port.state == F_IGNORED || g.port.state == F_ERROR) {
    *unsupported = true;
    explain_unsupported(&g, on_ip ? &g.ip : &g.port, on_ip, why);
    return NAT_BEH_UNKNOWN;
  }
  if (g.ip.state != F_TIMEOUT || g.ip.tries < NAT__MIN_TRIES) {
    nat__why_set(why,
                 "filtering: no change-IP request was answered or timed out "
                 "after an opening request, and change IP to %s %s -> "
                 "unknown",
                 nat__addr_text(&g.primary, b0),
                 g.ip.state == F_NONE      ? "was not asked"
                 : g.ip.state == F_TIMEOUT ? "timed out after fewer than 3 "
                                             "tries"
                                           : "was answered from an IP this "
                                             "socket sent to (or from an "
                                             "unknown source)");
    return NAT_BEH_UNKNOWN;
  }
  return unopened_port(ix, sock, &g, why);
}

nat_beh nat__filtering(nat__vindex *ix, bool *unsupported, nat__why *why) {
  static const uint8_t fams[2] = {NAT_AF_INET, NAT_AF_INET6};
  nat__why first_why;
  bool have = false, first_unsup = false;
  size_t f, i;
  *unsupported = false;
  nat__first_of_test(ix, NAT_OBS_FILTERING);
  for (f = 0; f < 2; f++) {
    for (i = 0; i < ix->n; i++) {
      fgroup g;
      nat__why w;
      bool unsup = false;
      nat_beh b;
      const nat_obs *blind = NULL;
      uint32_t sock = nat__first_of_socket(ix, i, NAT_OBS_FILTERING, fams[f]);
      if (sock == NAT__NONE)
        continue;
      fgroup_collect(ix, sock, &g);
      /* no change-IP request rated after an opening request */
      if (g.open == NULL || g.ip.state == F_NONE)
        blind = blind_answer(ix, sock);
      b = blind != NULL ? blind_decide(blind, &w)
                        : fgroup_decide(&g, &unsup, &w);
      if (b == NAT_BEH_UNKNOWN && g.open == NULL && g.open_try == NULL)
        b = unopened_decide(ix, sock, &unsup, &w);
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
    nat__why_set(why, "filtering: not tested (no CHANGE-REQUEST probe in the "
                      "log) -> unknown");
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
