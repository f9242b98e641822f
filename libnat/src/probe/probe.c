/* Cycle with probe_plan.c is inherent: the plan decides, this runs it. */
/* libnat -- the probe plan's machinery (nat/probe.h): sockets,
 * transactions (one nat_txn_mgr each), datagrams in and out, timers, the
 * observation log. What to test when is in probe_plan.c. */
#include <stdlib.h>
#include <string.h>

#include "nat/error.h"
#include "nat/stunsrv.h"
#include "probe_internal.h"

#define MS NAT_MILLISECONDS

static uint8_t fam_index(uint8_t family) {
  return family == NAT_AF_INET6 ? 1 : 0;
}

void nat__probe_skip(nat_probe *p, uint8_t test, const char *why) {
  if (test < 6 && p->info[test].skipped == NULL)
    p->info[test].skipped = why;
}

unsigned nat__probe_sock_new(nat_probe *p, uint8_t fam) {
  probe_sock *s;
  if (p->nsocks >= NAT_PROBE_MAX_SOCKETS || p->canceled)
    return PROBE_NONE;
  s = &p->socks[p->nsocks];
  memset(s, 0, sizeof *s);
  s->state = PS_WANT_OPEN;
  s->family = p->fams[fam].family;
  return p->nsocks++;
}

/* The RTT to plan a request to @p server by, and to trust silence by: its
 * smallest clean sample, else the family's largest, else (loss left only
 * retransmitted exchanges: Karn's rule gives no sample) the same over the
 * upper bounds (answer - first transmission: never below that exchange's
 * RTT); 0 when nothing was answered. Never a lower bound: one can be far
 * below the RTT (an answer to one copy arriving just after the next one
 * left), and a silence judged by it would read as "filtered". */
static nat_tstamp path_rtt(const nat_probe *p, int server, uint8_t fam) {
  nat_tstamp rtt = 0;
  size_t i;
  if (server >= 0)
    rtt = p->servers[server].rtt;
  for (i = 0; rtt == 0 && i < p->nservers; i++)
    if (p->servers[i].fam == fam && p->servers[i].rtt > rtt)
      rtt = p->servers[i].rtt;
  if (rtt == 0 && server >= 0)
    rtt = p->servers[server].rtt_ub;
  for (i = 0; rtt == 0 && i < p->nservers; i++)
    if (p->servers[i].fam == fam && p->servers[i].rtt_ub > rtt)
      rtt = p->servers[i].rtt_ub;
  return rtt;
}

/* The schedule of a request while its path's RTT is unknown. */
static nat_txn_config pre_rtt_schedule(const nat_probe *p) {
  nat_txn_config t;
  memset(&t, 0, sizeof t);
  t.max_txns = 1;
  t.rto = p->cfg.rto;
  t.rto_min = p->cfg.rto;
  t.rto_max = 4 * p->cfg.rto;
  t.rc = 7;
  t.rm = 4;
  return t;
}

/* The retransmission schedule of a request to @p server (RTT-based once
 * known, see nat/probe.h). */
nat_txn_config nat__probe_schedule(const nat_probe *p, int server,
                                   uint8_t fam) {
  nat_txn_config t;
  nat_tstamp rtt = path_rtt(p, server, fam), r;
  if (rtt == 0)
    return pre_rtt_schedule(p);
  memset(&t, 0, sizeof t);
  t.max_txns = 1;
  r = rtt + rtt / 2;
  if (r < p->cfg.rto_min)
    r = p->cfg.rto_min;
  t.rto = r;
  t.rto_min = r;
  t.rto_max = r;
  t.rc = p->cfg.rc;
  t.rm = 2;
  return t;
}

static nat_tstamp schedule_span(const nat_txn_config *t);

/* How long to trust silence after the last copy of a quiet request
 * (nat/probe.h): one RTT plus max(RTT / 2, rto_min) of jitter; while
 * nothing has been answered (the RTT may be long), as long as a request
 * that should be answered lives before the RTT is known (2.3 s). */
static nat_tstamp quiet_wait(const nat_probe *p, nat_tstamp rtt) {
  nat_txn_config pre;
  if (rtt == 0) {
    pre = pre_rtt_schedule(p);
    return schedule_span(&pre);
  }
  return rtt + (rtt / 2 > p->cfg.rto_min ? rtt / 2 : p->cfg.rto_min);
}

/* A request whose silence is a result (filtering's change requests, the
 * hairpin request): rc copies spread over half the path's RTT (half of
 * rto before it is known), at least 1 ms apart. Its end is quiet_end(),
 * not the manager's final wait, which is only a backstop (twice the
 * longest wait quiet_end can give before the RTT is known). */
static nat_txn_config quiet_schedule(const nat_probe *p, nat_tstamp rtt) {
  nat_txn_config t;
  nat_tstamp iv = (rtt != 0 ? rtt : p->cfg.rto) / 2;
  memset(&t, 0, sizeof t);
  t.max_txns = 1;
  t.rc = p->cfg.rc;
  if (t.rc > 1)
    iv /= t.rc - 1;
  if (iv < MS)
    iv = MS;
  t.rto = t.rto_min = t.rto_max = iv;
  t.rm = (unsigned)((2 * quiet_wait(p, 0) + iv - 1) / iv);
  if (rtt != 0 && t.rm < (quiet_wait(p, rtt) + iv - 1) / iv + 1)
    t.rm = (unsigned)((quiet_wait(p, rtt) + iv - 1) / iv + 1);
  return t;
}

/* How long a transaction with schedule @p t lives when nothing answers
 * (mirrors txn.c: doubling intervals capped at rto_max, then rm RTOs). */
static nat_tstamp schedule_span(const nat_txn_config *t) {
  nat_tstamp iv = t->rto < t->rto_max ? t->rto : t->rto_max, sum = 0;
  unsigned k;
  for (k = 1; k < t->rc; k++) {
    sum += iv;
    iv = 2 * iv < t->rto_max ? 2 * iv : t->rto_max;
  }
  return sum + (nat_tstamp)t->rm * t->rto;
}

/* A request that nothing answers must still end (NAT_ETIMEDOUT: a result,
 * "no answer") before the plan's deadline cancels it ("not made"). Shrink
 * its schedule to what is left: shorter intervals first, down to half the
 * path's RTT (the final wait of rm = 2 RTOs still covers one RTT), then
 * fewer transmissions. */
static void schedule_fit(const nat_probe *p, nat_tstamp now, nat_txn_config *t,
                         nat_tstamp rtt) {
  const nat_tstamp margin = 20 * MS;
  nat_tstamp end, left, span, floor, r;
  if (p->cfg.deadline == 0)
    return;
  end = p->start + p->cfg.deadline;
  if (now + margin >= end)
    return;
  left = end - now - margin;
  span = schedule_span(t);
  if (span <= left)
    return;
  floor = rtt / 2 > p->cfg.rto_min ? rtt / 2 : p->cfg.rto_min;
  r = (nat_tstamp)((double)t->rto * ((double)left / (double)span));
  if (r < floor)
    r = floor;
  if (r < t->rto) {
    t->rto_max =
        (nat_tstamp)((double)t->rto_max * ((double)r / (double)t->rto));
    if (t->rto_max < r)
      t->rto_max = r;
    t->rto = r;
    if (t->rto_min > r)
      t->rto_min = r;
  }
  while (t->rc > 1 && schedule_span(t) > left)
    t->rc--;
}

static int grow_txns(nat_probe *p) {
  size_t cap = p->captxns ? 2 * p->captxns : 32;
  probe_txn *v;
  if (p->ntxns < p->captxns)
    return 0;
  v = realloc(p->txns, cap * sizeof *v);
  if (v == NULL)
    return NAT_ENOMEM;
  p->txns = v;
  p->captxns = cap;
  return 0;
}

size_t nat__probe_txn_new(nat_probe *p, nat_tstamp now, uint8_t fam,
                          unsigned sock, int server, const nat_addr *dst,
                          uint8_t test, uint8_t step) {
  probe_txn *t;
  if (p->canceled || sock == PROBE_NONE)
    return PROBE_NONE;
  if (grow_txns(p) < 0) {
    p->fatal = NAT_ENOMEM;
    return PROBE_NONE;
  }
  t = &p->txns[p->ntxns];
  memset(t, 0, sizeof *t);
  t->state = PT_PENDING;
  t->step = step;
  t->fam = fam;
  t->sock = sock;
  t->arrive = sock;
  t->server = server;
  t->quiet = step == STEP_F_CHANGE || step == STEP_HAIRPIN;
  t->pre_rtt = path_rtt(p, server, fam) == 0;
  t->tcfg = t->quiet ? quiet_schedule(p, path_rtt(p, server, fam))
                     : nat__probe_schedule(p, server, fam);
  t->o.server = *dst;
  t->o.test = test;
  t->o.server_idx = server >= 0 ? p->servers[server].s.server_idx : 0;
  (void)now;
  p->live++;
  return p->ntxns++;
}

static int build_request(nat_probe *p, probe_txn *t) {
  nat_stun_builder b;
  ssize_t n;
  nat_txn_new_tid(p->cfg.rand, p->cfg.rand_ctx, t->tid);
  nat_stun_builder_init(&b, t->req, sizeof t->req, NAT_STUN_BINDING,
                        NAT_STUN_REQUEST, t->tid);
  if (t->o.change_flags != 0)
    nat_stun_add_change_request(&b, t->o.change_flags);
  if (t->o.response_port != 0)
    nat_stun_add_attr(&b, NAT_ATTR_RESPONSE_PORT,
                      (const uint8_t[4]){(uint8_t)(t->o.response_port >> 8),
                                         (uint8_t)t->o.response_port, 0, 0},
                      4);
  if (p->software != NULL)
    nat_stun_add_string(&b, NAT_ATTR_SOFTWARE, p->software);
  n = nat_stun_builder_finish(&b, true);
  if (n < 0)
    return (int)n;
  t->reqlen = (size_t)n;
  return 0;
}

static void on_txn(void *arg, const nat_txn_result *r);

/* Append @p o to the log, kept in order of sent_at, then of transaction
 * creation (the analyzers break ties by log order: the mapping test's
 * request to IP1:P1 must come first). */
static int log_insert(nat_probe *p, size_t ti, const nat_obs *o) {
  size_t i, *k;
  int rv;
  if (p->log.n == p->logcap) {
    size_t cap = p->logcap ? 2 * p->logcap : 32;
    k = realloc(p->logtxn, cap * sizeof *k);
    if (k == NULL)
      return NAT_ENOMEM;
    p->logtxn = k;
    p->logcap = cap;
  }
  rv = nat_obslog_append(&p->log, o);
  if (rv < 0)
    return rv;
  i = p->log.n - 1;
  while (i > 0 &&
         (p->log.v[i - 1].sent_at > o->sent_at ||
          (p->log.v[i - 1].sent_at == o->sent_at && p->logtxn[i - 1] > ti))) {
    p->log.v[i] = p->log.v[i - 1];
    p->logtxn[i] = p->logtxn[i - 1];
    i--;
  }
  p->log.v[i] = *o;
  p->logtxn[i] = ti;
  return 0;
}

/* Record the transaction's end, then let the plan react. */
static void txn_end(nat_probe *p, nat_tstamp now, size_t ti, nat_obs *o) {
  probe_txn *t = &p->txns[ti];
  nat_probe_test_info *inf = &p->info[o->test < 6 ? o->test : 0];
  int rv;
  t->state = PT_ENDED;
  p->live--;
  if (inf->transactions == 0 || o->sent_at < inf->start)
    inf->start = o->sent_at;
  if (now - p->start > inf->end)
    inf->end = now - p->start;
  inf->transactions++;
  rv = log_insert(p, ti, o);
  if (rv < 0 && p->fatal == 0)
    p->fatal = rv;
  nat__probe_plan_result(p, now, ti, o);
}

/* A request that could not be made: recorded with @p status. */
static void txn_fail(nat_probe *p, nat_tstamp now, size_t ti, int status) {
  probe_txn *t = &p->txns[ti];
  nat_obs o = t->o;
  o.local = p->socks[t->sock].local;
  o.status = status;
  o.sent_at = now - p->start;
  txn_end(p, now, ti, &o);
}

static void txn_start(nat_probe *p, nat_tstamp now, size_t ti) {
  probe_txn *t = &p->txns[ti];
  nat_txn_opts opts;
  int rv;
  if (!t->quiet)
    schedule_fit(p, now, &t->tcfg, path_rtt(p, t->server, t->fam));
  rv = nat_txn_mgr_new(&t->mgr, &t->tcfg, on_txn, p);
  if (rv == 0) {
    memset(&opts, 0, sizeof opts);
    opts.any_source = t->any_source;
    rv = nat_txn_start(t->mgr, now, &t->o.server, t->req, t->reqlen, &opts,
                       (void *)(uintptr_t)ti);
  }
  if (rv < 0) {
    nat_txn_mgr_free(t->mgr);
    t->mgr = NULL;
    txn_fail(p, now, ti, rv);
    return;
  }
  t->o.sent_at = now - p->start;
  t->state = PT_LIVE;
}

void nat__probe_txn_go(nat_probe *p, nat_tstamp now, size_t ti) {
  probe_txn *t;
  int rv;
  if (ti == PROBE_NONE)
    return;
  t = &p->txns[ti];
  rv = build_request(p, t);
  if (rv < 0) {
    txn_fail(p, now, ti, rv);
    return;
  }
  if (p->socks[t->sock].state == PS_OPEN)
    txn_start(p, now, ti);
  else if (p->socks[t->sock].state == PS_FAILED)
    txn_fail(p, now, ti, p->socks[t->sock].err);
  /* else: started when the socket opens */
}

static void on_txn(void *arg, const nat_txn_result *r) {
  nat_probe *p = arg;
  size_t ti = (size_t)(uintptr_t)r->user;
  probe_txn *t = &p->txns[ti];
  nat_tstamp now = p->now;
  nat_obs o;
  nat_obs_from_result(&o, r, &p->socks[t->sock].local);
  if (t->quiet_due && o.status == NAT_ECANCELED)
    o.status = NAT_ETIMEDOUT; /* its copies met silence: "no answer" */
  if (t->replanned) {
    /* r counts the last manager only; the first transmission is ours */
    o.transmissions = t->ntx;
    if (o.status == 0)
      o.rtt = now - t->tx_first;
  }
  o.server_idx = t->o.server_idx;
  o.test = t->o.test;
  o.change_flags = t->o.change_flags;
  o.response_port = t->o.response_port;
  o.idle = nat__probe_plan_idle(p, t);
  o.sent_at = t->o.sent_at;
  /* The path's RTT: the smallest sample (queueing in a burst inflates the
   * others); jitter is covered by the final wait of 2 R = 3 RTT. */
  if (o.status == 0 && t->ntx == 1 && t->server >= 0 && r->rtt > 0 &&
      (p->servers[t->server].rtt == 0 || r->rtt < p->servers[t->server].rtt))
    p->servers[t->server].rtt = r->rtt;
  /* Any answered exchange: the answer came at most now - tx_first after
   * the transmission it answers, an upper bound kept for when loss leaves
   * no clean sample at all. */
  if (o.status == 0 && t->server >= 0 && t->ntx > 0 && now > t->tx_first &&
      (p->servers[t->server].rtt_ub == 0 ||
       now - t->tx_first < p->servers[t->server].rtt_ub))
    p->servers[t->server].rtt_ub = now - t->tx_first;
  if (o.status == 0 && t->server >= 0)
    p->servers[t->server].answered = true;
  txn_end(p, now, ti, &o);
}

/* Free the manager of @p t, adding up its counters. */
static void mgr_retire(nat_probe *p, probe_txn *t) {
  nat_txn_stats st;
  nat_txn_mgr_stats(t->mgr, &st);
  p->txstats.sent += st.sent;
  p->txstats.retransmits += st.retransmits;
  p->txstats.responses += st.responses;
  p->txstats.spoofed += st.spoofed;
  p->txstats.malformed += st.malformed;
  nat_txn_mgr_free(t->mgr);
  t->mgr = NULL;
}

/* Free the managers of ended transactions (never from inside their own
 * callback), adding up their counters. */
static void sweep(nat_probe *p) {
  size_t i;
  for (i = 0; i < p->ntxns; i++)
    if (p->txns[i].state == PT_ENDED && p->txns[i].mgr != NULL)
      mgr_retire(p, &p->txns[i]);
}

static int config_fill(nat_probe *p, const nat_probe_config *cfg) {
  size_t i;
  if (cfg->servers == NULL || cfg->nservers == 0 ||
      cfg->nservers > NAT_PROBE_MAX_SERVERS || cfg->rand == NULL ||
      cfg->alloc_samples > NAT_PROBE_ALLOC_MAX ||
      (cfg->tests &
       ~(NAT_PROBE_DEFAULT | NAT_PROBE_LIFETIME | NAT_PROBE_BASIC)) != 0)
    return NAT_EINVAL;
  p->cfg = *cfg;
  p->cfg.servers = NULL;
  if (p->cfg.tests == 0)
    p->cfg.tests = NAT_PROBE_DEFAULT;
  if (p->cfg.alloc_samples == 0)
    p->cfg.alloc_samples = NAT_PROBE_ALLOC_DEFAULT;
  if (p->cfg.rto == 0)
    p->cfg.rto = 100 * MS;
  if (p->cfg.rto_min == 0)
    p->cfg.rto_min = 20 * MS;
  if (p->cfg.rc == 0)
    p->cfg.rc = 10;
  if (p->cfg.lifetime_max == 0)
    p->cfg.lifetime_max = 60 * NAT_SECONDS;
  for (i = 0; i < cfg->nservers; i++) {
    const nat_addr *a = &cfg->servers[i].addr;
    if (a->family != NAT_AF_INET && a->family != NAT_AF_INET6)
      return NAT_EINVAL;
    p->servers[i].s = cfg->servers[i];
    p->servers[i].fam = fam_index(a->family);
  }
  p->nservers = cfg->nservers;
  return 0;
}

int nat_probe_new(nat_probe **out, const nat_probe_config *cfg,
                  nat_tstamp now) {
  nat_probe *p;
  int rv;
  if (out == NULL || cfg == NULL)
    return NAT_EINVAL;
  *out = NULL;
  p = calloc(1, sizeof *p);
  if (p == NULL)
    return NAT_ENOMEM;
  rv = config_fill(p, cfg);
  if (rv == 0 && cfg->software != NULL) {
    p->software = strdup(cfg->software);
    if (p->software == NULL)
      rv = NAT_ENOMEM;
  }
  if (rv < 0) {
    free(p->software);
    free(p);
    return rv;
  }
  p->cfg.software = p->software;
  p->start = now;
  p->now = now;
  nat_obslog_init(&p->log);
  nat__probe_plan_start(p, now);
  if (p->fatal == NAT_ENOMEM) {
    nat_probe_free(p);
    return NAT_ENOMEM;
  }
  *out = p;
  return 0;
}

void nat_probe_free(nat_probe *p) {
  size_t i;
  if (p == NULL)
    return;
  for (i = 0; i < p->ntxns; i++)
    nat_txn_mgr_free(p->txns[i].mgr);
  free(p->txns);
  free(p->logtxn);
  nat_obslog_free(&p->log);
  free(p->software);
  free(p);
}

int nat_probe_socket_opened(nat_probe *p, nat_tstamp now, unsigned sock,
                            int status, const nat_addr *local) {
  probe_sock *s;
  size_t i;
  if (p == NULL || sock >= p->nsocks)
    return NAT_EINVAL;
  p->now = now;
  s = &p->socks[sock];
  if (s->state != PS_OPENING && s->state != PS_WANT_OPEN)
    return NAT_EINVAL;
  if (status == 0 && (local == NULL || local->family != s->family))
    status = NAT_EINVAL;
  if (status == 0) {
    s->state = PS_OPEN;
    s->local = *local;
  } else {
    s->state = PS_FAILED;
    s->err = status;
  }
  for (i = 0; i < p->ntxns; i++) {
    probe_txn *t = &p->txns[i];
    if (t->state != PT_PENDING || t->sock != sock || t->reqlen == 0)
      continue;
    if (status == 0)
      txn_start(p, now, i);
    else
      txn_fail(p, now, i, status);
  }
  sweep(p);
  return 0;
}

static int next_open(nat_probe *p, nat_probe_action *a) {
  while (p->open_cursor < p->nsocks) {
    probe_sock *s = &p->socks[p->open_cursor++];
    if (s->state != PS_WANT_OPEN)
      continue;
    s->state = PS_OPENING;
    a->kind = NAT_PROBE_ACT_OPEN;
    a->sock = p->open_cursor - 1;
    a->family = s->family;
    return 1;
  }
  return 0;
}

static int next_reply(nat_probe *p, nat_probe_action *a) {
  probe_reply *r;
  if (p->nreplies == 0)
    return 0;
  r = &p->replies[0];
  memcpy(p->sendbuf, r->buf, r->len);
  a->kind = NAT_PROBE_ACT_SEND;
  a->sock = r->sock;
  a->dst = r->dst;
  a->data = p->sendbuf;
  a->len = r->len;
  p->nreplies--;
  memmove(&p->replies[0], &p->replies[1], p->nreplies * sizeof *r);
  p->stats.sent++;
  return 1;
}

int nat_probe_next_action(nat_probe *p, nat_tstamp now, nat_probe_action *a) {
  size_t i;
  if (p == NULL || a == NULL)
    return NAT_EINVAL;
  memset(a, 0, sizeof *a);
  if (next_open(p, a) || next_reply(p, a))
    return 1;
  for (i = 0; i < p->ntxns; i++) {
    probe_txn *t = &p->txns[i];
    ssize_t n;
    if (t->state != PT_LIVE || t->mgr == NULL)
      continue;
    n = nat_txn_mgr_next_send(t->mgr, now, p->sendbuf, sizeof p->sendbuf,
                              &a->dst);
    if (n <= 0)
      continue;
    a->kind = NAT_PROBE_ACT_SEND;
    a->sock = t->sock;
    a->data = p->sendbuf;
    a->len = (size_t)n;
    if (t->replanned && t->ntx == t->ntx_replan)
      p->txstats.retransmits++; /* its new manager's first is one */
    if (t->ntx++ == 0)
      t->tx_first = now;
    t->tx_last = now;
    p->stats.sent++;
    return 1;
  }
  return 0;
}

/* The live transaction with @p tid, or PROBE_NONE; @p ended is set when
 * the ID belongs to one that already ended. */
static size_t find_tid(const nat_probe *p, const uint8_t *tid, bool *ended) {
  size_t i;
  *ended = false;
  for (i = 0; i < p->ntxns; i++) {
    const probe_txn *t = &p->txns[i];
    if (t->reqlen == 0 || memcmp(t->tid, tid, NAT_STUN_TID_LEN) != 0)
      continue;
    if (t->state == PT_LIVE)
      return i;
    *ended = true;
  }
  return PROBE_NONE;
}

void nat__probe_punch(nat_probe *p, unsigned sock, const nat_addr *dst) {
  nat_stun_builder b;
  probe_reply *r;
  uint8_t tid[NAT_STUN_TID_LEN];
  ssize_t n;
  if (p->nreplies == PROBE_REPLY_MAX)
    return;
  r = &p->replies[p->nreplies];
  nat_txn_new_tid(p->cfg.rand, p->cfg.rand_ctx, tid);
  nat_stun_builder_init(&b, r->buf, sizeof r->buf, NAT_STUN_BINDING,
                        NAT_STUN_INDICATION, tid);
  n = nat_stun_builder_finish(&b, true);
  if (n < 0)
    return;
  r->sock = sock;
  r->dst = *dst;
  r->len = (size_t)n;
  p->nreplies++;
}

/* A request for this endpoint: the hairpin target answers it. */
static int serve(nat_probe *p, unsigned sock, const nat_addr *from,
                 const uint8_t *buf, size_t len) {
  nat_stunsrv_opts so;
  nat_stunsrv_reply w;
  probe_reply *r;
  ssize_t n;
  if (!p->socks[sock].serve || p->nreplies == PROBE_REPLY_MAX) {
    p->stats.not_response++;
    return NAT_EINVAL;
  }
  memset(&so, 0, sizeof so);
  so.software = p->software;
  so.local = &p->socks[sock].local;
  r = &p->replies[p->nreplies];
  n = nat_stunsrv_respond(&so, from, buf, len, r->buf, sizeof r->buf, &w);
  if (n < 0) {
    p->stats.not_response++;
    return NAT_EINVAL;
  }
  r->sock = sock;
  r->dst = w.dst;
  r->len = (size_t)n;
  p->nreplies++;
  p->stats.served++;
  return 0;
}

int nat_probe_recv(nat_probe *p, nat_tstamp now, unsigned sock,
                   const nat_addr *from, const uint8_t *buf, size_t len) {
  nat_stun_msg m;
  size_t ti = PROBE_NONE;
  bool ended = false;
  ssize_t n;
  int rv;
  if (p == NULL || from == NULL || buf == NULL || sock >= p->nsocks ||
      p->socks[sock].state != PS_OPEN)
    return NAT_EINVAL;
  p->now = now;
  p->stats.received++;
  if (len >= NAT_STUN_HEADER_LEN && (buf[0] & 0xC0) == 0)
    ti = find_tid(p, buf + 8, &ended);
  /* A success or error response (class bit C1, RFC 8489 section 5) with
   * the ID of a live transaction, on the socket it was meant for. */
  if (ti != PROBE_NONE && p->txns[ti].arrive == sock && (buf[0] & 0x01)) {
    rv = nat_txn_mgr_recv(p->txns[ti].mgr, now, from, buf, len);
    sweep(p);
    return rv;
  }
  n = nat_stun_decode(&m, buf, len);
  if (n < 0) {
    p->stats.malformed++;
    return (int)n;
  }
  if (m.cls == NAT_STUN_REQUEST || m.cls == NAT_STUN_INDICATION) {
    if (m.cls == NAT_STUN_REQUEST && m.method == NAT_STUN_BINDING)
      return serve(p, sock, from, buf, len);
    if (m.method == NAT_STUN_BINDING)
      return 0; /* a Binding indication: a keepalive or a punch, no answer */
    p->stats.not_response++;
    return NAT_EINVAL;
  }
  if (ended)
    p->stats.duplicates++;
  else
    p->stats.unmatched++;
  return NAT_ENOTFOUND;
}

/* When live quiet request @p t concludes "no answer": rc copies, then
 * quiet_wait() of silence (NAT_TSTAMP_MAX: it has sent nothing yet). A
 * deadline pulls it in to 20 ms before the deadline (*clamped), so that
 * "no answer" is concluded rather than cut off. */
static nat_tstamp quiet_end(const nat_probe *p, const probe_txn *t,
                            bool *clamped) {
  const nat_tstamp margin = 20 * MS;
  nat_tstamp end, limit;
  unsigned left;
  *clamped = false;
  if (t->state != PT_LIVE || !t->quiet || t->mgr == NULL || t->ntx == 0)
    return NAT_TSTAMP_MAX;
  left = t->tcfg.rc > t->ntx ? t->tcfg.rc - t->ntx : 0;
  end = t->tx_last + left * t->tcfg.rto +
        quiet_wait(p, path_rtt(p, t->server, t->fam));
  if (p->cfg.deadline > margin) {
    limit = p->start + p->cfg.deadline - margin;
    if (limit > t->tx_first && end > limit) {
      end = limit;
      *clamped = true;
    }
  }
  return end;
}

/* End the quiet requests whose silence has lasted long enough (their
 * last copy sent, or the deadline near) as NAT_ETIMEDOUT. */
static void quiet_fire(nat_probe *p, nat_tstamp now) {
  size_t i;
  bool clamped;
  for (i = 0; i < p->ntxns; i++) {
    probe_txn *t = &p->txns[i];
    if (quiet_end(p, t, &clamped) > now || (t->ntx < t->tcfg.rc && !clamped))
      continue;
    t->quiet_due = true;
    nat_txn_cancel_all(t->mgr);
  }
}

/* When a request scheduled before its path's RTT was known should move to
 * the RTT-based schedule (its next transmission R after its last one),
 * NAT_TSTAMP_MAX if never (RTT unknown, or its own schedule is sooner). */
static nat_tstamp replan_at(const nat_probe *p, const probe_txn *t) {
  nat_tstamp at;
  if (t->state != PT_LIVE || !t->pre_rtt || t->quiet || t->mgr == NULL ||
      t->ntx == 0 || path_rtt(p, t->server, t->fam) == 0)
    return NAT_TSTAMP_MAX;
  at = t->tx_last + nat__probe_schedule(p, t->server, t->fam).rto;
  return at < nat_txn_mgr_get_expiry(t->mgr) ? at : NAT_TSTAMP_MAX;
}

/* Give transaction @p ti a new manager on the RTT-based schedule, with
 * the same request (the same transaction ID, so that an answer to an
 * earlier copy still counts), transmissions up to rc in all, the first
 * one now. Karn: its answer gives no RTT sample (t->ntx > 1). */
static void replan(nat_probe *p, nat_tstamp now, size_t ti) {
  probe_txn *t = &p->txns[ti];
  nat_txn_config c = nat__probe_schedule(p, t->server, t->fam);
  nat_txn_mgr *m = NULL;
  nat_txn_opts opts;
  c.rc = c.rc > t->ntx + 1 ? c.rc - t->ntx : 1;
  schedule_fit(p, now, &c, path_rtt(p, t->server, t->fam));
  memset(&opts, 0, sizeof opts);
  opts.any_source = t->any_source;
  t->pre_rtt = false;
  if (nat_txn_mgr_new(&m, &c, on_txn, p) < 0 ||
      nat_txn_start(m, now, &t->o.server, t->req, t->reqlen, &opts,
                    (void *)(uintptr_t)ti) < 0) {
    nat_txn_mgr_free(m); /* keep the old schedule */
    return;
  }
  mgr_retire(p, t);
  t->mgr = m;
  t->tcfg = c;
  t->replanned = true;
  t->ntx_replan = t->ntx;
}

nat_tstamp nat_probe_get_expiry(const nat_probe *p) {
  nat_tstamp e = NAT_TSTAMP_MAX, x;
  size_t i;
  bool clamped;
  if (p == NULL)
    return e;
  for (i = 0; i < p->ntxns; i++) {
    if (p->txns[i].state != PT_LIVE || p->txns[i].mgr == NULL)
      continue;
    x = nat_txn_mgr_get_expiry(p->txns[i].mgr);
    if (x < e)
      e = x;
    x = quiet_end(p, &p->txns[i], &clamped);
    if (x < e)
      e = x;
    x = replan_at(p, &p->txns[i]);
    if (x < e)
      e = x;
  }
  x = nat__probe_plan_expiry(p);
  if (x < e)
    e = x;
  if (p->cfg.deadline != 0 && !p->canceled && p->live + p->timers > 0 &&
      p->start + p->cfg.deadline < e)
    e = p->start + p->cfg.deadline;
  return e;
}

void nat_probe_handle_expiry(nat_probe *p, nat_tstamp now) {
  size_t i;
  if (p == NULL)
    return;
  p->now = now;
  if (p->cfg.deadline != 0 && now >= p->start + p->cfg.deadline &&
      !p->canceled) {
    /* A late wake-up (a loaded machine) must not turn what fell due before
     * the deadline (a request that timed out: "no answer") into "cut off":
     * conclude that first, as of just before the deadline, then cancel. */
    nat_tstamp before = p->start + p->cfg.deadline - 1;
    p->now = before;
    quiet_fire(p, before);
    for (i = 0; i < p->ntxns; i++) {
      nat_txn_mgr *m = p->txns[i].mgr;
      if (p->txns[i].state == PT_LIVE && m != NULL &&
          nat_txn_mgr_get_expiry(m) <= before)
        nat_txn_mgr_handle_expiry(m, before);
    }
    p->now = now;
    p->deadline_hit = true;
    nat_probe_cancel(p, now);
    return;
  }
  quiet_fire(p, now);
  for (i = 0; i < p->ntxns; i++) {
    nat_txn_mgr *m;
    if (replan_at(p, &p->txns[i]) <= now)
      replan(p, now, i);
    m = p->txns[i].mgr;
    if (p->txns[i].state == PT_LIVE && m != NULL)
      nat_txn_mgr_handle_expiry(m, now);
  }
  nat__probe_plan_timers(p, now);
  sweep(p);
}

void nat_probe_cancel(nat_probe *p, nat_tstamp now) {
  size_t i;
  if (p == NULL || p->canceled)
    return;
  p->now = now;
  p->canceled = true;
  p->timers = 0;
  for (i = 0; i < p->ntxns; i++) {
    probe_txn *t = &p->txns[i];
    if (t->state == PT_LIVE && t->mgr != NULL)
      nat_txn_cancel_all(t->mgr);
    else if (t->state == PT_PENDING)
      txn_fail(p, now, i, NAT_ECANCELED);
  }
  sweep(p);
}

bool nat_probe_done(const nat_probe *p) {
  return p == NULL || (p->live == 0 && p->timers == 0 && p->nreplies == 0);
}

const nat_obslog *nat_probe_log(const nat_probe *p) {
  return p != NULL ? &p->log : NULL;
}

void nat_probe_stats_get(const nat_probe *p, nat_probe_stats *out) {
  size_t i;
  nat_txn_stats st;
  if (out == NULL)
    return;
  memset(out, 0, sizeof *out);
  if (p == NULL)
    return;
  *out = p->stats;
  out->retransmits = p->txstats.retransmits;
  out->responses = p->txstats.responses;
  out->spoofed = p->txstats.spoofed;
  out->malformed += p->txstats.malformed;
  for (i = 0; i < p->ntxns; i++) {
    if (p->txns[i].mgr == NULL)
      continue;
    nat_txn_mgr_stats(p->txns[i].mgr, &st);
    out->retransmits += st.retransmits;
    out->responses += st.responses;
    out->spoofed += st.spoofed;
    out->malformed += st.malformed;
  }
}

int nat_probe_test_info_get(const nat_probe *p, uint8_t test,
                            nat_probe_test_info *out) {
  if (p == NULL || out == NULL || test >= 6)
    return NAT_EINVAL;
  *out = p->info[test];
  return 0;
}

nat_tstamp nat_probe_rtt(const nat_probe *p, uint8_t family) {
  nat_tstamp r = 0;
  size_t i;
  if (p == NULL)
    return 0;
  for (i = 0; i < p->nservers; i++)
    if (p->servers[i].s.addr.family == family && p->servers[i].rtt > r)
      r = p->servers[i].rtt;
  return r;
}
