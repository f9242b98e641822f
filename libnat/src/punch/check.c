/* libnat -- connectivity checks (nat/check.h): pairs, scheduling, roles,
 * nomination, outcome. Pure: datagrams and `now` in, datagrams out. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check_internal.h"
#include "nat/error.h"

static void txn_done(void *arg, const nat_txn_result *r);

/* ------------------------------------------------------------ helpers */

static void emit(nat_check *c, int type, size_t pair) {
  nat_check_event ev;
  if (c->cb == NULL)
    return;
  memset(&ev, 0, sizeof ev);
  ev.type = type;
  ev.at = c->now;
  ev.pair = pair;
  ev.info = pair < c->npairs ? &c->pairs[pair].pub : NULL;
  ev.controlling = c->controlling;
  ev.hint = c->hint;
  c->cb(c->cb_arg, &ev);
}

/* RFC 8445 6.1.2.3: 2^32*MIN(G,D) + 2*MAX(G,D) + (G>D?1:0). */
static uint64_t pair_prio(const nat_check *c, const nat__check_pair *p) {
  uint64_t g = c->controlling ? p->base.priority : p->pub.remote.priority;
  uint64_t d = c->controlling ? p->pub.remote.priority : p->base.priority;
  uint64_t mn = g < d ? g : d, mx = g < d ? d : g;
  return (mn << 32) + 2 * mx + (g > d ? 1 : 0);
}

static void set_role(nat_check *c, bool controlling) {
  size_t i;
  if (c->controlling == controlling)
    return;
  c->controlling = controlling;
  c->committed = SIZE_MAX; /* a commit is the controlling agent's */
  for (i = 0; i < c->npairs; i++)
    c->pairs[i].pub.priority = pair_prio(c, &c->pairs[i]);
  emit(c, NAT_CHECK_EV_ROLE_CHANGED, SIZE_MAX);
}

static const nat_cand *base_for(const nat_check *c, uint8_t family) {
  size_t i;
  for (i = 0; i < c->nlocal; i++)
    if (c->local[i].type == NAT_CAND_HOST && c->local[i].addr.family == family)
      return &c->local[i];
  return NULL;
}

static nat__check_pair *pair_by_remote(nat_check *c, const nat_addr *a) {
  size_t i;
  for (i = 0; i < c->npairs; i++)
    if (nat_addr_equal(&c->pairs[i].pub.remote.addr, a))
      return &c->pairs[i];
  return NULL;
}

static size_t idx_of(const nat_check *c, const nat__check_pair *p) {
  return (size_t)(p - c->pairs);
}

static void enqueue_triggered(nat_check *c, nat__check_pair *p) {
  if (p->queued || c->ntrig >= NAT_CHECK_MAX_PAIRS)
    return;
  p->queued = true;
  c->trig[c->ntrig++] = idx_of(c, p);
}

/* A new pair for @p remote; NULL when full or no base of its family. */
static nat__check_pair *add_pair(nat_check *c, const nat_cand *remote) {
  const nat_cand *base = base_for(c, remote->addr.family);
  nat__check_pair *p;
  if (base == NULL || c->npairs >= NAT_CHECK_MAX_PAIRS)
    return NULL;
  p = &c->pairs[c->npairs++];
  memset(p, 0, sizeof *p);
  p->base = *base;
  p->pub.local = *base;
  p->pub.remote = *remote;
  p->pub.state = NAT_PAIR_WAITING;
  p->pub.priority = pair_prio(c, p);
  return p;
}

/* ------------------------------------------------------ construction */

static int copy_cred(char *dst, const char *src) {
  size_t n;
  if (src == NULL || (n = strlen(src)) == 0 || n > NAT_CHECK_CRED_MAX)
    return NAT_EINVAL;
  memcpy(dst, src, n + 1);
  return 0;
}

static void defaults(nat_check_config *k) {
  if (k->ta == 0)
    k->ta = 10 * NAT_MILLISECONDS;
  if (k->rto == 0)
    k->rto = 100 * NAT_MILLISECONDS;
  if (k->rc == 0)
    k->rc = 7;
  if (k->rm == 0)
    k->rm = 16;
  if (k->timeout == 0)
    k->timeout = 10 * NAT_SECONDS;
  if (k->nominate_delay == 0)
    k->nominate_delay = 100 * NAT_MILLISECONDS;
}

int nat_check_new(nat_check **out, const nat_check_config *cfg, nat_check_cb cb,
                  void *cb_arg) {
  nat_check *c;
  nat_txn_config tc;
  if (out == NULL || cfg == NULL || cfg->rand == NULL)
    return NAT_EINVAL;
  c = calloc(1, sizeof *c);
  if (c == NULL)
    return NAT_ENOMEM;
  c->cfg = *cfg;
  defaults(&c->cfg);
  if (copy_cred(c->lufrag, cfg->local_ufrag) != 0 ||
      copy_cred(c->lpwd, cfg->local_pwd) != 0 ||
      copy_cred(c->rufrag, cfg->remote_ufrag) != 0 ||
      copy_cred(c->rpwd, cfg->remote_pwd) != 0) {
    free(c);
    return NAT_EINVAL;
  }
  /* the policy's subnet list is the caller's: keep a copy */
  c->cfg.policy.nsubnets = 0;
  c->cfg.policy.subnets = c->subnets;
  if (cfg->policy.subnets != NULL) {
    size_t n = cfg->policy.nsubnets < 8 ? cfg->policy.nsubnets : 8;
    memcpy(c->subnets, cfg->policy.subnets, n * sizeof *c->subnets);
    c->cfg.policy.nsubnets = n;
  }
  memset(&tc, 0, sizeof tc);
  tc.rto = c->cfg.rto;
  tc.rto_min =
      c->cfg.rto < 50 * NAT_MILLISECONDS ? c->cfg.rto : 50 * NAT_MILLISECONDS;
  tc.rc = c->cfg.rc;
  tc.rm = c->cfg.rm;
  tc.max_txns = NAT__CHECK_MAX_TXNS;
  if (nat_txn_mgr_new(&c->txn, &tc, txn_done, c) != 0) {
    free(c);
    return NAT_ENOMEM;
  }
  c->controlling = cfg->controlling;
  c->cb = cb;
  c->cb_arg = cb_arg;
  c->status = NAT_CHECK_RUNNING;
  c->selected = SIZE_MAX;
  c->committed = SIZE_MAX;
  *out = c;
  return 0;
}

void nat_check_free(nat_check *c) {
  if (c == NULL)
    return;
  nat_txn_mgr_free(c->txn);
  free(c);
}

int nat_check_add_local(nat_check *c, const nat_cand *cand) {
  if (c == NULL || cand == NULL ||
      (cand->type != NAT_CAND_HOST && cand->type != NAT_CAND_SRFLX &&
       cand->type != NAT_CAND_PREDICTED && cand->type != NAT_CAND_MAPPED) ||
      (cand->addr.family != NAT_AF_INET && cand->addr.family != NAT_AF_INET6))
    return NAT_EINVAL;
  if (c->nlocal >= NAT_CHECK_MAX_LOCAL)
    return NAT_ENOBUFS;
  c->local[c->nlocal++] = *cand;
  return 0;
}

int nat_check_add_remote(nat_check *c, nat_tstamp now, const nat_cand *cand) {
  if (c == NULL || cand == NULL)
    return NAT_EINVAL;
  (void)now;
  if (nat_cand_validate_remote(&cand->addr, &c->cfg.policy) != NAT_CAND_OK)
    return NAT_EBADADDR;
  if (pair_by_remote(c, &cand->addr) != NULL)
    return 0;
  if (base_for(c, cand->addr.family) == NULL)
    return 0; /* nothing to pair it with: not an error */
  return add_pair(c, cand) != NULL ? 0 : NAT_ENOBUFS;
}

int nat_check_start(nat_check *c, nat_tstamp now) {
  if (c == NULL || c->started)
    return NAT_EINVAL;
  c->started = true;
  c->now = now;
  c->deadline = now + c->cfg.timeout;
  c->next_check = now;
  return 0;
}

/* ------------------------------------------------------------ outcome */

static void select_pair(nat_check *c, nat__check_pair *p) {
  if (c->status != NAT_CHECK_RUNNING)
    return;
  c->status = NAT_CHECK_SELECTED;
  c->selected = idx_of(c, p);
  p->pub.nominated = true;
  emit(c, NAT_CHECK_EV_SELECTED, c->selected);
}

static int compute_hint(const nat_check *c) {
  size_t i;
  bool integrity = c->stray_integrity > 0, succeeded = false;
  if (c->npairs == 0)
    return NAT_CHECK_HINT_NO_PAIRS;
  for (i = 0; i < c->npairs; i++) {
    const nat_check_pair *p = &c->pairs[i].pub;
    if (p->fail == NAT_PAIR_FAIL_INTEGRITY || p->integrity_failures > 0)
      integrity = true;
    if (p->state == NAT_PAIR_SUCCEEDED)
      succeeded = true;
  }
  if (integrity)
    return NAT_CHECK_HINT_CREDENTIALS;
  if (succeeded)
    return NAT_CHECK_HINT_NOT_NOMINATED;
  if (c->cfg.local_mapping == NAT_BEH_AD ||
      c->cfg.local_mapping == NAT_BEH_APD ||
      c->cfg.local_mapping == NAT_BEH_DEPENDENT ||
      c->cfg.remote_mapping == NAT_BEH_AD ||
      c->cfg.remote_mapping == NAT_BEH_APD ||
      c->cfg.remote_mapping == NAT_BEH_DEPENDENT)
    return NAT_CHECK_HINT_BIRTHDAY;
  return NAT_CHECK_HINT_NO_RESPONSE;
}

static void fail_run(nat_check *c) {
  size_t i;
  if (c->status != NAT_CHECK_RUNNING)
    return;
  for (i = 0; i < c->npairs; i++) {
    nat_check_pair *p = &c->pairs[i].pub;
    if (p->state == NAT_PAIR_WAITING)
      p->fail = NAT_PAIR_FAIL_NOT_TRIED;
    else if (p->state == NAT_PAIR_IN_PROGRESS)
      p->fail = p->integrity_failures ? NAT_PAIR_FAIL_INTEGRITY
                                      : NAT_PAIR_FAIL_NO_RESPONSE;
    else if (p->state == NAT_PAIR_SUCCEEDED)
      p->fail = NAT_PAIR_FAIL_NOT_NOMINATED;
  }
  c->hint = compute_hint(c);
  c->status = NAT_CHECK_FAILED;
  emit(c, NAT_CHECK_EV_FAILED, SIZE_MAX);
}

/* Every pair failed and nothing is left to try. */
static bool all_failed(const nat_check *c) {
  size_t i;
  if (c->npairs == 0 || c->ntrig > 0)
    return false;
  for (i = 0; i < c->npairs; i++)
    if (c->pairs[i].pub.state != NAT_PAIR_FAILED)
      return false;
  return true;
}

/* ------------------------------------------------------------- checks */

/* @p nominate: the nom slot (a re-check with USE-CANDIDATE); an ordinary
 * check carries USE-CANDIDATE too when controlling with aggressive
 * nomination. */
static void send_check(nat_check *c, nat__check_pair *p, bool nominate) {
  uint8_t buf[NAT__CHECK_MSG_MAX], tid[NAT_STUN_TID_LEN];
  ssize_t n;
  bool use_cand = nominate || (c->cfg.aggressive && c->controlling);
  nat_txn_new_tid(c->cfg.rand, c->cfg.rand_ctx, tid);
  n = nat__check_build_request(c, p, use_cand, tid, buf, sizeof buf);
  if (n <= 0 ||
      nat_txn_start(c->txn, c->now, &p->pub.remote.addr, buf, (size_t)n, NULL,
                    (void *)(uintptr_t)idx_of(c, p)) != 0) {
    if (!nominate) {
      p->pub.state = NAT_PAIR_FAILED;
      p->pub.fail = NAT_PAIR_FAIL_ERROR;
    }
    return;
  }
  if (nominate) {
    memcpy(p->nom_tid, tid, sizeof tid);
    p->nom_live = true;
    p->nom_ctl = c->controlling;
    c->nominating++;
  } else {
    memcpy(p->tid, tid, sizeof tid);
    p->tid_live = true;
    p->tid_ctl = c->controlling;
    p->tid_nom = use_cand;
    p->pub.state = NAT_PAIR_IN_PROGRESS;
    p->pub.fail = NAT_PAIR_FAIL_NONE;
  }
}

/* A waiting pair an ordinary check may start (config passive: host
 * candidates only). */
static bool ordinary_ok(const nat_check *c, const nat__check_pair *p) {
  return p->pub.state == NAT_PAIR_WAITING &&
         (!c->cfg.passive || p->pub.remote.type == NAT_CAND_HOST);
}

/* The next check to start: the oldest triggered one, else the waiting
 * pair of highest priority. */
static nat__check_pair *next_pair(nat_check *c) {
  nat__check_pair *best = NULL;
  size_t i;
  while (c->ntrig > 0) {
    nat__check_pair *p = &c->pairs[c->trig[0]];
    memmove(c->trig, c->trig + 1, --c->ntrig * sizeof c->trig[0]);
    p->queued = false;
    if (p->pub.state == NAT_PAIR_WAITING)
      return p;
  }
  for (i = 0; i < c->npairs; i++) {
    nat__check_pair *p = &c->pairs[i];
    if (ordinary_ok(c, p) &&
        (best == NULL || p->pub.priority > best->pub.priority))
      best = p;
  }
  return best;
}

/* Aggressive nomination: a pair that succeeded without a nominating check
 * of ours (sent while we were controlled, before a role switch) is
 * nominated at once, unless a commit is pending. */
static size_t nominee_aggressive(const nat_check *c, nat_tstamp *when) {
  size_t best = SIZE_MAX, i;
  if (c->committed != SIZE_MAX)
    return SIZE_MAX;
  for (i = 0; i < c->npairs; i++) {
    const nat__check_pair *p = &c->pairs[i];
    if (p->pub.state == NAT_PAIR_SUCCEEDED && !p->nom_ok &&
        (best == SIZE_MAX || p->pub.priority > c->pairs[best].pub.priority))
      best = i;
  }
  *when = c->first_success;
  return best;
}

/* Controlling: the best succeeded pair and when to nominate it: at once
 * if no higher-priority pair is still pending, else nominate_delay after
 * the first success. @return the pair's index, or SIZE_MAX. */
static size_t nominee(const nat_check *c, nat_tstamp *when) {
  size_t best = SIZE_MAX, i;
  bool better_pending = false;
  if (!c->controlling || c->nominating || c->first_success == 0)
    return SIZE_MAX;
  if (c->cfg.aggressive)
    return nominee_aggressive(c, when);
  for (i = 0; i < c->npairs; i++)
    if (c->pairs[i].pub.state == NAT_PAIR_SUCCEEDED &&
        (best == SIZE_MAX ||
         c->pairs[i].pub.priority > c->pairs[best].pub.priority))
      best = i;
  if (best == SIZE_MAX)
    return SIZE_MAX;
  for (i = 0; i < c->npairs; i++) {
    const nat_check_pair *p = &c->pairs[i].pub;
    if ((p->state == NAT_PAIR_WAITING || p->state == NAT_PAIR_IN_PROGRESS) &&
        p->priority > c->pairs[best].pub.priority)
      better_pending = true;
  }
  *when = better_pending ? c->first_success + c->cfg.nominate_delay
                         : c->first_success;
  return best;
}

static bool has_waiting(const nat_check *c) {
  size_t i;
  if (c->ntrig > 0)
    return true;
  for (i = 0; i < c->npairs; i++)
    if (ordinary_ok(c, &c->pairs[i]))
      return true;
  return false;
}

void nat_check_handle_expiry(nat_check *c, nat_tstamp now) {
  nat__check_pair *p;
  nat_tstamp when = 0;
  size_t nom;
  if (c == NULL)
    return;
  c->now = now;
  nat_txn_mgr_handle_expiry(c->txn, now);
  if (!c->started || c->status != NAT_CHECK_RUNNING)
    return;
  if (now >= c->deadline) {
    fail_run(c);
    nat_txn_cancel_all(c->txn);
    return;
  }
  nom = nominee(c, &when);
  if (nom != SIZE_MAX && now >= when)
    send_check(c, &c->pairs[nom], true);
  if (now >= c->next_check && (p = next_pair(c)) != NULL) {
    send_check(c, p, false);
    c->next_check = now + c->cfg.ta;
  }
  if (all_failed(c) && !c->nominating) {
    fail_run(c);
    nat_txn_cancel_all(c->txn);
  }
}

nat_tstamp nat_check_get_expiry(const nat_check *c) {
  nat_tstamp t, e;
  if (c == NULL)
    return NAT_TSTAMP_MAX;
  t = nat_txn_mgr_get_expiry(c->txn);
  if (c->nout > 0 && c->outq[c->outhead].at < t)
    t = c->outq[c->outhead].at;
  if (!c->started || c->status != NAT_CHECK_RUNNING)
    return t;
  if (c->deadline < t)
    t = c->deadline;
  if (has_waiting(c) && c->next_check < t)
    t = c->next_check;
  if (nominee(c, &e) != SIZE_MAX && e < t)
    t = e;
  return t;
}

ssize_t nat_check_next_send(nat_check *c, nat_tstamp now, uint8_t *buf,
                            size_t cap, nat_addr *dst) {
  ssize_t n;
  if (c == NULL || buf == NULL || dst == NULL)
    return NAT_EINVAL;
  c->now = now;
  if (c->nout > 0) {
    nat__check_out *o = &c->outq[c->outhead];
    if (o->len > cap)
      return NAT_ENOBUFS;
    memcpy(buf, o->buf, o->len);
    *dst = o->dst;
    n = (ssize_t)o->len;
    c->outhead = (c->outhead + 1) % NAT__CHECK_OUTQ;
    c->nout--;
    return n;
  }
  n = nat_txn_mgr_next_send(c->txn, now, buf, cap, dst);
  if (n > 0) {
    nat__check_pair *p = pair_by_remote(c, dst);
    if (p != NULL)
      p->pub.sent++;
  }
  return n;
}

/* ---------------------------------------------------------- responses */

/* The valid pair's local candidate (RFC 8445 7.2.5.3.2): ours with the
 * mapped address, else a new peer-reflexive one. */
static void learn_local(nat_check *c, nat__check_pair *p, const nat_addr *m) {
  size_t i;
  if (m->family != p->base.addr.family)
    return; /* no candidate of this pair: pairs are of one family */
  p->pub.mapped = *m;
  for (i = 0; i < c->nlocal; i++)
    if (nat_addr_equal(&c->local[i].addr, m)) {
      p->pub.local = c->local[i];
      return;
    }
  nat_cand_make(&p->pub.local, NAT_CAND_PRFLX, m, &p->base.addr, NULL,
                (uint16_t)(p->base.priority >> 8));
}

/* Aggressive nomination: the committed pair's nominating checks all failed;
 * fall back to a pair whose nominating check succeeded meanwhile (the
 * controlled agent answered it), the best one, else to the next success. */
static void uncommit(nat_check *c, nat__check_pair *p) {
  size_t i, best = SIZE_MAX;
  if (c->committed != idx_of(c, p) || p->nom_live ||
      (p->tid_live && p->tid_nom))
    return; /* not committed to it, or a nominating check is still live */
  c->committed = SIZE_MAX;
  for (i = 0; i < c->npairs; i++)
    if (c->pairs[i].nom_ok && c->pairs[i].pub.state == NAT_PAIR_SUCCEEDED &&
        (best == SIZE_MAX ||
         c->pairs[i].pub.priority > c->pairs[best].pub.priority))
      best = i;
  if (best != SIZE_MAX && c->controlling)
    select_pair(c, &c->pairs[best]);
}

/* @p nom: the check carried USE-CANDIDATE and was sent while controlling.
 */
static void on_success(nat_check *c, nat__check_pair *p, bool nom,
                       const nat_txn_result *r) {
  nat_addr m;
  bool first = p->pub.state != NAT_PAIR_SUCCEEDED;
  if (nat_stun_msg_get_mapped(r->response, &m) == 0)
    learn_local(c, p, &m);
  if (first) {
    p->pub.state = NAT_PAIR_SUCCEEDED;
    p->pub.fail = NAT_PAIR_FAIL_NONE;
    p->pub.rtt = r->rtt;
    p->pub.succeeded_at = c->now;
    if (c->first_success == 0)
      c->first_success = c->now;
    emit(c, NAT_CHECK_EV_PAIR_SUCCEEDED, idx_of(c, p));
  }
  if (nom && c->controlling) {
    p->nom_ok = true;
    if (c->committed == SIZE_MAX || c->committed == idx_of(c, p))
      select_pair(c, p);
  } else if (!c->controlling && p->peer_nominated)
    select_pair(c, p);
}

static void on_error(nat_check *c, nat__check_pair *p, bool nom, bool sent_ctl,
                     const nat_txn_result *r) {
  int code = 0;
  nat_stun_msg_get_error(r->response, &code, NULL, NULL);
  p->pub.error_code = code;
  if (code == 487 && p->pub.role_conflicts < NAT__CHECK_MAX_ROLE) {
    /* RFC 8445 7.2.5.1: take the role opposite to the one the request
     * claimed (we may have switched already), and check again */
    p->pub.role_conflicts++;
    set_role(c, !sent_ctl);
    if (!nom || p->pub.state != NAT_PAIR_SUCCEEDED) {
      p->pub.state = NAT_PAIR_WAITING;
      enqueue_triggered(c, p);
    }
    return;
  }
  if (nom && p->pub.state == NAT_PAIR_SUCCEEDED)
    return; /* the pair stays valid; another nomination will follow */
  p->pub.state = NAT_PAIR_FAILED;
  uncommit(c, p);
  if (code == 487)
    p->pub.fail = NAT_PAIR_FAIL_ROLE_CONFLICT;
  else if (code == 400 || code == 401) {
    p->pub.fail = NAT_PAIR_FAIL_INTEGRITY;
    p->pub.integrity_failures++;
  } else
    p->pub.fail = NAT_PAIR_FAIL_ERROR;
}

static void txn_done(void *arg, const nat_txn_result *r) {
  nat_check *c = arg;
  size_t i = (size_t)(uintptr_t)r->user;
  nat__check_pair *p;
  bool nom, ctl, use_cand;
  if (i >= c->npairs)
    return;
  p = &c->pairs[i];
  nom = p->nom_live && memcmp(p->nom_tid, r->tid, NAT_STUN_TID_LEN) == 0;
  if (nom) {
    p->nom_live = false;
    c->nominating--;
    ctl = p->nom_ctl;
    use_cand = true;
  } else if (p->tid_live && memcmp(p->tid, r->tid, NAT_STUN_TID_LEN) == 0) {
    p->tid_live = false;
    ctl = p->tid_ctl;
    use_cand = p->tid_nom;
  } else
    return;
  if (r->status == NAT_ECANCELED || c->status != NAT_CHECK_RUNNING)
    return;
  if (r->status != 0) { /* timed out */
    if (nom && p->pub.state == NAT_PAIR_SUCCEEDED) {
      p->pub.state = NAT_PAIR_FAILED; /* it stopped working: pick another */
      p->pub.fail = NAT_PAIR_FAIL_NO_RESPONSE;
    } else if (!nom && p->pub.state == NAT_PAIR_IN_PROGRESS) {
      p->pub.state = NAT_PAIR_FAILED;
      p->pub.fail = p->pub.integrity_failures ? NAT_PAIR_FAIL_INTEGRITY
                                              : NAT_PAIR_FAIL_NO_RESPONSE;
    }
    if (p->pub.state != NAT_PAIR_SUCCEEDED)
      uncommit(c, p);
    return;
  }
  if (r->response->cls == NAT_STUN_SUCCESS)
    on_success(c, p, use_cand && ctl, r);
  else
    on_error(c, p, nom, ctl, r);
}

static nat__check_pair *pair_by_tid(nat_check *c, const uint8_t *tid) {
  size_t i;
  for (i = 0; i < c->npairs; i++) {
    nat__check_pair *p = &c->pairs[i];
    if ((p->tid_live && memcmp(p->tid, tid, NAT_STUN_TID_LEN) == 0) ||
        (p->nom_live && memcmp(p->nom_tid, tid, NAT_STUN_TID_LEN) == 0))
      return p;
  }
  return NULL;
}

static int handle_response(nat_check *c, const nat_addr *from,
                           const nat_stun_msg *m) {
  nat__check_pair *p = pair_by_tid(c, m->tid);
  int code = 0;
  if (p == NULL)
    return NAT_ENOTFOUND; /* not one of our checks: the caller's STUN */
  if (nat_addr_equal(from, &p->pub.remote.addr)) {
    bool unauth_ok = m->cls == NAT_STUN_ERROR && m->mi_idx < 0 &&
                     nat_stun_msg_get_error(m, &code, NULL, NULL) == 0 &&
                     (code == 400 || code == 401);
    if (!unauth_ok && nat_stun_msg_check_integrity(m, (const uint8_t *)c->rpwd,
                                                   strlen(c->rpwd)) != 0) {
      p->pub.integrity_failures++;
      return 0; /* dropped: the check keeps retransmitting */
    }
  }
  nat_txn_mgr_recv_msg(c->txn, c->now, from, m, (ssize_t)m->len);
  return 0;
}

/* ----------------------------------------------------------- requests */

/* RFC 8445 7.3.1.1. @return true if the request must get a 487. */
static bool role_conflict(nat_check *c, const nat_stun_msg *m,
                          nat__check_pair *p) {
  uint64_t tb;
  bool conflict = false;
  if (c->controlling &&
      nat_stun_msg_get_u64(m, NAT_ATTR_ICE_CONTROLLING, &tb) == 0) {
    if (c->cfg.tie_breaker >= tb)
      conflict = true;
    else
      set_role(c, false);
  } else if (!c->controlling &&
             nat_stun_msg_get_u64(m, NAT_ATTR_ICE_CONTROLLED, &tb) == 0) {
    if (c->cfg.tie_breaker >= tb)
      set_role(c, true);
    else
      conflict = true;
  }
  if (conflict && p != NULL)
    p->pub.role_conflicts++;
  return conflict;
}

/* The pair of an authenticated check from @p from, learning a
 * peer-reflexive remote candidate if needed (RFC 8445 7.3.1.3). */
static nat__check_pair *pair_for_request(nat_check *c, const nat_addr *from,
                                         const nat_stun_msg *m) {
  nat__check_pair *p = pair_by_remote(c, from);
  nat_cand rc;
  uint32_t prio = 0;
  if (p != NULL)
    return p;
  if (nat_cand_validate_remote(from, &c->cfg.policy) != NAT_CAND_OK)
    return NULL;
  nat_cand_make(&rc, NAT_CAND_PRFLX, from, NULL, NULL, 65535);
  if (nat_stun_msg_get_u32(m, NAT_ATTR_PRIORITY, &prio) == 0 && prio != 0)
    rc.priority = prio;
  return add_pair(c, &rc);
}

/* Aggressive nomination, controlling: the peer's authenticated check came
 * in on @p p (and left us controlling) before any check of ours
 * succeeded: commit to @p p. Our nominating check on it goes out now,
 * right behind the answer (both are returned by the next next_send calls,
 * the answer first), rather than as a paced triggered check. */
static void maybe_commit(nat_check *c, nat__check_pair *p) {
  bool ok;
  if (!c->cfg.aggressive || !c->controlling || c->commit_done ||
      c->first_success != 0 || c->status != NAT_CHECK_RUNNING)
    return;
  c->commit_done = true;
  if (p->pub.state == NAT_PAIR_IN_PROGRESS) {
    send_check(c, p, true); /* a fresh one: the live one may be lost */
    ok = p->nom_live;
  } else {
    send_check(c, p, false); /* carries USE-CANDIDATE (aggressive) */
    ok = p->tid_live && p->pub.state == NAT_PAIR_IN_PROGRESS;
  }
  if (!ok)
    return; /* the check could not start: no commit */
  c->committed = idx_of(c, p);
  if (c->started && c->next_check < c->now + c->cfg.ta)
    c->next_check = c->now + c->cfg.ta;
  emit(c, NAT_CHECK_EV_PAIR_NOMINATED, c->committed);
}

static void handle_request(nat_check *c, const nat_addr *from,
                           const nat_stun_msg *m) {
  nat__check_pair *p;
  int code = nat__check_auth_request(c, m);
  if (code != 0) {
    p = pair_by_remote(c, from);
    if (p != NULL)
      p->pub.integrity_failures++;
    else
      c->stray_integrity++;
    nat__check_queue_response(c, m, from, code, false);
    return;
  }
  p = pair_by_remote(c, from);
  if (role_conflict(c, m, p)) {
    nat__check_queue_response(c, m, from, 487, true);
    return;
  }
  nat__check_queue_response(c, m, from, 0, true);
  if (p == NULL)
    p = pair_for_request(c, from, m);
  if (p == NULL)
    return;
  p->pub.answered++;
  if (c->status != NAT_CHECK_RUNNING)
    return;
  if (p->pub.state == NAT_PAIR_WAITING || p->pub.state == NAT_PAIR_FAILED) {
    p->pub.state = NAT_PAIR_WAITING; /* RFC 8445 7.3.1.4 */
    p->pub.fail = NAT_PAIR_FAIL_NONE;
    enqueue_triggered(c, p);
  }
  if (!c->controlling && nat_stun_msg_find(m, NAT_ATTR_USE_CANDIDATE) != NULL) {
    p->peer_nominated = true;
    p->pub.nominated = true;
    if (p->pub.state == NAT_PAIR_SUCCEEDED)
      select_pair(c, p);
  }
  maybe_commit(c, p);
}

int nat_check_recv(nat_check *c, nat_tstamp now, const nat_addr *from,
                   const uint8_t *buf, size_t len) {
  nat_stun_msg m;
  ssize_t rc;
  if (c == NULL || from == NULL || buf == NULL)
    return NAT_EINVAL;
  if (!nat_stun_is_stun(buf, len))
    return NAT_ENOTSTUN;
  rc = nat_stun_decode(&m, buf, len);
  if (rc < 0)
    return (int)rc;
  return nat_check_recv_msg(c, now, from, &m);
}

int nat_check_recv_msg(nat_check *c, nat_tstamp now, const nat_addr *from,
                       const nat_stun_msg *m) {
  int rc = 0;
  if (c == NULL || from == NULL || m == NULL)
    return NAT_EINVAL;
  if (m->classic)
    return NAT_ENOTSTUN;
  c->now = now;
  if (m->method != NAT_STUN_BINDING)
    return 0;
  if (m->cls == NAT_STUN_REQUEST)
    handle_request(c, from, m);
  else if (m->cls == NAT_STUN_SUCCESS || m->cls == NAT_STUN_ERROR)
    rc = handle_response(c, from, m);
  if (c->status == NAT_CHECK_RUNNING && c->started && all_failed(c) &&
      !c->nominating)
    fail_run(c);
  if (c->status != NAT_CHECK_RUNNING)
    nat_txn_cancel_all(c->txn);
  return rc;
}

/* ------------------------------------------------------------ getters */

int nat_check_status_get(const nat_check *c) {
  return c != NULL ? c->status : NAT_CHECK_FAILED;
}

bool nat_check_is_controlling(const nat_check *c) {
  return c != NULL && c->controlling;
}

int nat_check_selected(const nat_check *c, nat_check_pair *out) {
  if (c == NULL || out == NULL)
    return NAT_EINVAL;
  if (c->status != NAT_CHECK_SELECTED)
    return NAT_EAGAIN;
  *out = c->pairs[c->selected].pub;
  return 0;
}

size_t nat_check_pair_count(const nat_check *c) {
  return c != NULL ? c->npairs : 0;
}

int nat_check_pair_get(const nat_check *c, size_t i, nat_check_pair *out) {
  if (c == NULL || out == NULL || i >= c->npairs)
    return NAT_EINVAL;
  *out = c->pairs[i].pub;
  return 0;
}

int nat_check_hint_get(const nat_check *c) {
  return c != NULL ? c->hint : NAT_CHECK_HINT_NONE;
}

bool nat_check_role_for(uint64_t local, uint64_t remote) {
  return local > remote;
}
