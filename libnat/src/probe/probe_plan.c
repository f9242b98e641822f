/* Cycle with probe.c is inherent: this decides what, probe.c does it. */
/* libnat -- the probe plan's sequencing (nat/probe.h): which test starts
 * when, from which socket, to which address. The machinery (sockets,
 * transactions, datagrams) is in probe.c. */
#include <string.h>

#include "nat/error.h"
#include "probe_internal.h"

static bool want(const nat_probe *p, unsigned test) {
  return (p->cfg.tests & test) != 0;
}

/* May server @p s be used for the behaviour tests of family @p f? */
static bool eligible(const nat_probe *p, const probe_fam *f, int s) {
  return !f->forced || p->servers[s].s.rfc5780;
}

/* May @p a, an address a server's answer gave, be a destination for a
 * socket of @p family? Answers are not trusted beyond that: an
 * OTHER-ADDRESS or mapped address of the other family, with port 0 or
 * unspecified is no address to send to (the request would fail to send
 * and be recorded as unanswered), and counts as absent. */
static bool usable(const nat_addr *a, uint8_t family) {
  return a->family == family && a->port != 0 && !nat_addr_is_unspecified(a);
}

static size_t request(nat_probe *p, nat_tstamp now, uint8_t f, unsigned sock,
                      int server, const nat_addr *dst, uint8_t test,
                      uint8_t step) {
  return nat__probe_txn_new(p, now, f, sock, server, dst, test, step);
}

/* RFC 5780 4.4 tests II (change IP and port) and III (change port), from
 * SF to @p server, at once after the opening request (same instant, so
 * the analyzer rates them): the opening request makes the mapping before
 * any answer can come back. When @p server turns out not to do RFC 5780,
 * the analyzer reads their answers (from the primary address) or their
 * silence (no OTHER-ADDRESS) as "unknown", never as a filtering type. */
static void filtering_changes(nat_probe *p, nat_tstamp now, uint8_t fi,
                              int server) {
  static const uint32_t flags[2] = {NAT_STUN_CHANGE_IP | NAT_STUN_CHANGE_PORT,
                                    NAT_STUN_CHANGE_PORT};
  probe_fam *f = &p->fams[fi];
  size_t k, ti;
  for (k = 0; k < 2; k++) {
    ti = request(p, now, fi, f->sf, server, &p->servers[server].s.addr,
                 NAT_OBS_FILTERING, STEP_F_CHANGE);
    if (ti == PROBE_NONE)
      return;
    p->txns[ti].o.change_flags = flags[k];
    p->txns[ti].any_source = true;
    nat__probe_txn_go(p, now, ti);
  }
}

/* A new socket SF whose first request (to @p server) opens the mapping
 * that the filtering test's CHANGE-REQUESTs, sent in the same instant,
 * probe (RFC 5780 4.4). */
static void filtering_open(nat_probe *p, nat_tstamp now, uint8_t fi,
                           int server) {
  probe_fam *f = &p->fams[fi];
  size_t ti;
  f->sf = nat__probe_sock_new(p, fi);
  f->sf_server = server;
  ti = request(p, now, fi, f->sf, server, &p->servers[server].s.addr,
               NAT_OBS_FILTERING, STEP_F_OPEN);
  nat__probe_txn_go(p, now, ti);
  filtering_changes(p, now, fi, server);
}

/* RFC 5780 4.3: from S0 to IP1:P1, IP2:P1 and IP2:P2. */
static void mapping_rfc(nat_probe *p, nat_tstamp now, uint8_t fi) {
  probe_fam *f = &p->fams[fi];
  const nat_addr *a = &p->servers[f->rfc].s.addr;
  nat_addr dst[3];
  size_t k;
  f->mapping_started = true;
  dst[0] = *a;
  dst[1] = *a;
  memcpy(dst[1].ip, f->other.ip, sizeof dst[1].ip);
  dst[2] = f->other;
  for (k = 0; k < 3; k++)
    nat__probe_txn_go(p, now,
                      request(p, now, fi, f->s0, f->rfc, &dst[k],
                              NAT_OBS_MAPPING, STEP_MAPPING));
}

static void lifetime_start(nat_probe *p, nat_tstamp now, uint8_t fi);

static void choose_rfc(nat_probe *p, nat_tstamp now, uint8_t fi, int s,
                       const nat_addr *other) {
  probe_fam *f = &p->fams[fi];
  f->rfc = s;
  f->other = *other;
  if (want(p, NAT_PROBE_MAPPING))
    mapping_rfc(p, now, fi);
  if (want(p, NAT_PROBE_FILTERING) && f->sf_server != s)
    filtering_open(p, now, fi, s); /* SF asked another server at t0 */
  if (want(p, NAT_PROBE_LIFETIME))
    lifetime_start(p, now, fi);
}

/* No RFC 5780 server: compare the mappings seen by different servers. */
static void no_rfc(nat_probe *p, nat_tstamp now, uint8_t fi) {
  probe_fam *f = &p->fams[fi];
  const char *why = f->forced ? "the RFC 5780 server given did not answer "
                                "with OTHER-ADDRESS"
                              : "no server answered with OTHER-ADDRESS "
                                "(RFC 5780)";
  size_t i, n = 0;
  nat__probe_skip(p, NAT_OBS_FILTERING, why);
  nat__probe_skip(p, NAT_OBS_LIFETIME, why);
  if (!want(p, NAT_PROBE_MAPPING))
    return;
  for (i = 0; i < p->nservers; i++)
    n += p->servers[i].fam == fi && p->servers[i].answered;
  if (n < 2) {
    nat__probe_skip(p, NAT_OBS_MAPPING,
                    "no RFC 5780 server and fewer than two servers "
                    "answered: mappings cannot be compared");
    return;
  }
  f->mapping_started = true;
  for (i = 0; i < p->nservers; i++)
    if (p->servers[i].fam == fi && p->servers[i].answered)
      nat__probe_txn_go(p, now,
                        request(p, now, fi, f->s0, (int)i,
                                &p->servers[i].s.addr, NAT_OBS_MAPPING,
                                STEP_MAPPING));
}

/* RFC 5780 4.5: socket B asks S0's mapped address; S0 answers. B is a
 * fresh socket whose own mapping is known (its first request went to the
 * primary server), and S0 first sends B's mapped address a Binding
 * indication, as a hole punch would: a NAT that filters hairpinned packets
 * (natbox with APD filtering does) then lets B's request in exactly when
 * two peers behind it could reach each other. */
static void hairpin_maybe(nat_probe *p, nat_tstamp now, uint8_t fi) {
  probe_fam *f = &p->fams[fi];
  size_t ti;
  if (f->hairpin_started || !f->have_mapped || !f->b_have ||
      !want(p, NAT_PROBE_HAIRPIN))
    return;
  f->hairpin_started = true;
  if (nat_addr_equal(&f->mapped, &p->socks[f->s0].local)) {
    nat__probe_skip(p, NAT_OBS_HAIRPIN, "no NAT: nothing to hairpin");
    return;
  }
  p->socks[f->s0].serve = true;
  nat__probe_punch(p, f->s0, &f->b_mapped);
  ti =
      request(p, now, fi, f->sb, -1, &f->mapped, NAT_OBS_HAIRPIN, STEP_HAIRPIN);
  if (ti == PROBE_NONE)
    return;
  p->txns[ti].o.server_idx = p->servers[f->primary].s.server_idx;
  p->txns[ti].any_source = true;
  nat__probe_txn_go(p, now, ti);
}

/* A fresh allocation socket was answered; the hairpin test's B is one. */
static void on_alloc(nat_probe *p, nat_tstamp now, uint8_t fi, unsigned sock,
                     const nat_obs *o) {
  probe_fam *f = &p->fams[fi];
  if (sock != f->sb || f->b_have)
    return;
  if (o->status != 0 || !o->has_mapped || !usable(&o->mapped, f->family)) {
    nat__probe_skip(p, NAT_OBS_HAIRPIN,
                    "the hairpin test's second socket got no mapping");
    return;
  }
  f->b_have = true;
  f->b_mapped = o->mapped;
  hairpin_maybe(p, now, fi);
}

static void on_basic(nat_probe *p, nat_tstamp now, uint8_t fi, int s,
                     const nat_obs *o) {
  probe_fam *f = &p->fams[fi];
  f->basic_live--;
  if (o->status == 0 && o->has_mapped && !f->have_mapped &&
      usable(&o->mapped, f->family)) {
    f->have_mapped = true;
    f->mapped = o->mapped;
    hairpin_maybe(p, now, fi);
  }
  if (o->status == 0 && o->has_other_address &&
      usable(&o->other_address, f->family) && f->rfc < 0 && eligible(p, f, s))
    choose_rfc(p, now, fi, s, &o->other_address);
  if (f->basic_live == 0 && f->rfc < 0)
    no_rfc(p, now, fi);
}

static void on_filtering_open(nat_probe *p, nat_tstamp now, uint8_t fi, int s,
                              const nat_obs *o) {
  probe_fam *f = &p->fams[fi];
  if (s != f->sf_server)
    return; /* an earlier SF, to a server that turned out not to be used */
  if (o->status != 0) {
    nat__probe_skip(p, NAT_OBS_FILTERING,
                    "the filtering test's first request was not answered");
    return;
  }
  if (f->rfc < 0 && o->has_other_address &&
      usable(&o->other_address, f->family) && eligible(p, f, s))
    choose_rfc(p, now, fi, s, &o->other_address);
}

static void add_dst(nat_addr *v, size_t *n, const nat_addr *a,
                    const nat_addr *skip) {
  size_t i;
  if (nat_addr_equal(a, skip))
    return;
  for (i = 0; i < *n; i++)
    if (nat_addr_equal(&v[i], a))
      return;
  v[(*n)++] = *a;
}

/* The last fresh allocation socket also asks the server's other addresses
 * and the other servers: one socket, several destinations. */
static void alloc_multi(nat_probe *p, nat_tstamp now, uint8_t fi, unsigned sock,
                        int s, const nat_obs *o) {
  probe_fam *f = &p->fams[fi];
  nat_addr dst[3 + NAT_PROBE_MAX_SERVERS], a;
  int srv[3 + NAT_PROBE_MAX_SERVERS];
  size_t n = 0, i, k;
  const nat_addr *base = &p->servers[s].s.addr;
  if (o->status != 0 || f->multi_started)
    return;
  f->multi_started = true;
  if (o->has_other_address && usable(&o->other_address, f->family)) {
    a = *base;
    a.port = o->other_address.port; /* IP1:P2 */
    add_dst(dst, &n, &a, base);
    a = *base;
    memcpy(a.ip, o->other_address.ip, sizeof a.ip); /* IP2:P1 */
    add_dst(dst, &n, &a, base);
    add_dst(dst, &n, &o->other_address, base); /* IP2:P2 */
  }
  for (i = 0; i < n; i++)
    srv[i] = s;
  for (i = 0; i < p->nservers; i++) {
    if (p->servers[i].fam != fi)
      continue;
    k = n;
    add_dst(dst, &n, &p->servers[i].s.addr, base);
    if (n > k)
      srv[k] = (int)i;
  }
  for (i = 0; i < n; i++)
    nat__probe_txn_go(p, now,
                      request(p, now, fi, sock, srv[i], &dst[i],
                              NAT_OBS_ALLOCATION, STEP_ALLOC_MULTI));
}

/* ------------------------------------------------------------ lifetime */

static void lifetime_start(nat_probe *p, nat_tstamp now, uint8_t fi) {
  probe_fam *f = &p->fams[fi];
  double t = (double)p->cfg.lifetime_max;
  size_t k, ti;
  if (f->lt_started)
    return;
  f->lt_started = true;
  f->ly = nat__probe_sock_new(p, fi);
  for (k = NAT_PROBE_LIFETIME_STEPS; k >= 1; k--) {
    f->ladder[k].idle = (nat_tstamp)t;
    t /= 1.5;
  }
  for (k = 0; k <= NAT_PROBE_LIFETIME_STEPS; k++) {
    f->ladder[k].x = nat__probe_sock_new(p, fi);
    ti = request(p, now, fi, f->ladder[k].x, f->rfc, &p->servers[f->rfc].s.addr,
                 NAT_OBS_LIFETIME, k == 0 ? STEP_L_CONTROL_MAP : STEP_L_MAP);
    if (ti == PROBE_NONE)
      return;
    p->txns[ti].aux = (unsigned)k;
    nat__probe_txn_go(p, now, ti);
  }
}

/* Socket Y asks IP1:P1 to answer to X_k's mapped port (RESPONSE-PORT). */
static void lifetime_probe(nat_probe *p, nat_tstamp now, uint8_t fi, size_t k) {
  probe_fam *f = &p->fams[fi];
  size_t ti = request(p, now, fi, f->ly, f->rfc, &p->servers[f->rfc].s.addr,
                      NAT_OBS_LIFETIME, k == 0 ? STEP_L_CONTROL : STEP_L_PROBE);
  if (ti == PROBE_NONE)
    return;
  p->txns[ti].o.response_port = f->ladder[k].port;
  p->txns[ti].o.idle = f->ladder[k].idle;
  p->txns[ti].arrive = f->ladder[k].x;
  p->txns[ti].aux = (unsigned)k;
  nat__probe_txn_go(p, now, ti);
}

static void lifetime_fail(nat_probe *p, uint8_t fi, const char *why) {
  probe_fam *f = &p->fams[fi];
  size_t k;
  f->lt_failed = true;
  nat__probe_skip(p, NAT_OBS_LIFETIME, why);
  for (k = 1; k <= NAT_PROBE_LIFETIME_STEPS; k++)
    if (f->ladder[k].due != 0) {
      f->ladder[k].due = 0;
      p->timers--;
    }
}

/* The idle time a lifetime probe really measured: from X_k's last outbound
 * datagram (the last transmission of its mapping request, which was
 * answered; nothing else leaves X_k) to the probe's first transmission.
 * Late timers and a slow driver only make it longer than T_k. "Alive" is
 * proven for it whichever transmission the answer belongs to (none was
 * sent earlier); "gone" too when no transmission was answered (Y's
 * retransmissions do not refresh X_k's mapping). The control probe and
 * probes never sent keep their planned value (0 for the control). */
nat_tstamp nat__probe_plan_idle(const nat_probe *p, const probe_txn *t) {
  const probe_ladder *l;
  if (t->step != STEP_L_PROBE || t->ntx == 0 ||
      t->aux > NAT_PROBE_LIFETIME_STEPS)
    return t->o.idle;
  l = &p->fams[t->fam].ladder[t->aux];
  if (t->tx_first <= l->refresh)
    return t->o.idle;
  return t->tx_first - l->refresh;
}

static void on_lifetime(nat_probe *p, nat_tstamp now, uint8_t fi, uint8_t step,
                        size_t k, const nat_obs *o, const probe_txn *t) {
  probe_fam *f = &p->fams[fi];
  if (step == STEP_L_CONTROL) {
    if (o->status != 0)
      lifetime_fail(p, fi,
                    "the server did not honour RESPONSE-PORT (RFC 5780 "
                    "section 7.5), or the NAT dropped its answer at once");
    return;
  }
  if (step != STEP_L_MAP && step != STEP_L_CONTROL_MAP)
    return;
  if (o->status != 0 || !o->has_mapped || f->lt_failed || p->canceled)
    return;
  f->ladder[k].port = o->mapped.port;
  f->ladder[k].refresh = t->tx_last;
  if (k == 0) {
    lifetime_probe(p, now, fi, 0);
    return;
  }
  f->ladder[k].due = now + f->ladder[k].idle;
  p->timers++;
}

void nat__probe_plan_timers(nat_probe *p, nat_tstamp now) {
  uint8_t fi;
  size_t k;
  for (fi = 0; fi < PROBE_FAMILIES; fi++) {
    probe_fam *f = &p->fams[fi];
    for (k = 1; k <= NAT_PROBE_LIFETIME_STEPS; k++) {
      if (f->ladder[k].due == 0 || f->ladder[k].due > now)
        continue;
      f->ladder[k].due = 0;
      p->timers--;
      lifetime_probe(p, now, fi, k);
    }
  }
}

nat_tstamp nat__probe_plan_expiry(const nat_probe *p) {
  nat_tstamp e = NAT_TSTAMP_MAX;
  uint8_t fi;
  size_t k;
  if (p->canceled)
    return e;
  for (fi = 0; fi < PROBE_FAMILIES; fi++)
    for (k = 1; k <= NAT_PROBE_LIFETIME_STEPS; k++)
      if (p->fams[fi].ladder[k].due != 0 && p->fams[fi].ladder[k].due < e)
        e = p->fams[fi].ladder[k].due;
  return e;
}

/* ------------------------------------------------------------- driving */

void nat__probe_plan_result(nat_probe *p, nat_tstamp now, size_t ti,
                            const nat_obs *o) {
  probe_txn *t = &p->txns[ti];
  uint8_t fi = t->fam, step = t->step;
  unsigned sock = t->sock;
  int s = t->server;
  size_t k = t->aux;
  switch (step) {
  case STEP_BASIC:
    on_basic(p, now, fi, s, o);
    break;
  case STEP_F_OPEN:
    on_filtering_open(p, now, fi, s, o);
    break;
  case STEP_ALLOC:
    on_alloc(p, now, fi, sock, o);
    break;
  case STEP_ALLOC_LAST:
    on_alloc(p, now, fi, sock, o);
    alloc_multi(p, now, fi, sock, s, o);
    break;
  case STEP_L_CONTROL_MAP:
  case STEP_L_CONTROL:
  case STEP_L_MAP:
  case STEP_L_PROBE:
    on_lifetime(p, now, fi, step, k, o, t);
    break;
  default:
    break;
  }
}

static void family_start(nat_probe *p, nat_tstamp now, uint8_t fi) {
  probe_fam *f = &p->fams[fi];
  size_t i, k, ti, n;
  f->s0 = nat__probe_sock_new(p, fi);
  for (i = 0; i < p->nservers; i++) {
    if (p->servers[i].fam != fi)
      continue;
    f->basic_live++;
    nat__probe_txn_go(p, now,
                      request(p, now, fi, f->s0, (int)i, &p->servers[i].s.addr,
                              NAT_OBS_BASIC, STEP_BASIC));
  }
  if (want(p, NAT_PROBE_FILTERING))
    filtering_open(p, now, fi, f->primary);
  n = want(p, NAT_PROBE_ALLOCATION) ? p->cfg.alloc_samples
      : want(p, NAT_PROBE_HAIRPIN)  ? 1
                                    : 0;
  for (k = 0; k < n; k++) {
    unsigned sock = nat__probe_sock_new(p, fi);
    if (k == 0)
      f->sb = sock; /* also the hairpin test's B */
    ti = request(p, now, fi, sock, f->primary, &p->servers[f->primary].s.addr,
                 NAT_OBS_ALLOCATION,
                 k + 1 == n && n > 1 ? STEP_ALLOC_LAST : STEP_ALLOC);
    nat__probe_txn_go(p, now, ti);
  }
}

void nat__probe_plan_start(nat_probe *p, nat_tstamp now) {
  uint8_t fi;
  size_t i;
  for (fi = 0; fi < PROBE_FAMILIES; fi++) {
    probe_fam *f = &p->fams[fi];
    f->family = fi == 0 ? NAT_AF_INET : NAT_AF_INET6;
    f->primary = -1;
    f->rfc = -1;
    f->sf_server = -1;
    f->s0 = f->sf = f->sb = f->ly = PROBE_NONE;
    for (i = 0; i < p->nservers; i++) {
      if (p->servers[i].fam != fi)
        continue;
      f->active = true;
      if (p->servers[i].s.rfc5780 && !f->forced) {
        f->forced = true;
        f->primary = (int)i;
      }
      if (f->primary < 0)
        f->primary = (int)i;
    }
  }
  for (fi = 0; fi < PROBE_FAMILIES; fi++)
    if (p->fams[fi].active)
      family_start(p, now, fi);
}
