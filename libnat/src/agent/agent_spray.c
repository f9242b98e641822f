/* libnat -- the punch agent's driver: the birthday spray (nat/birthday.h,
 * the engine in punch/spray.c). Both blobs in, the plan gives our role:
 * the acceptor opens K sockets (after checking RLIMIT_NOFILE) and its
 * first checks from each make K mappings on its NAT; the dialer sprays
 * from the agent's socket. The first authenticated hit wins: the dialer
 * connects QUIC to the address it proved, the acceptor's QUIC endpoint
 * adopts the winning socket (borrowed: nat_quic_config.udp), and every
 * other acceptor socket closes at once. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "agent/agent_internal.h"
#include "nat/error.h"
#include "nat/verdict.h"

/* descriptors the rest of a run may need beside the acceptor's sockets */
#define FD_MARGIN      64
#define PROGRESS_EVERY 250 /* ms */
/* an estimated range wider than this is taken as the whole range */
#define NARROW_RANGE 16384
/* the dialer's wait past the check hold: the acceptor opens its sockets
 * and sends from each when it takes our blob */
#define ACCEPTOR_SETUP (20 * NAT_MILLISECONDS)

static void spray_pump(nat_agent *a);
static void refusal(const nat_bday_plan *p, char *buf, size_t len);

void nat__agent_bday_side(const nat_agent *a, nat_bday_side *out) {
  const nat__punch_core *c = &a->core;
  const nat_agent_bday *cfg = &a->cfg.birthday;
  memset(out, 0, sizeof *out);
  out->mapping = c->local_mapping;
  out->mapped = c->has_mapped;
  out->enabled = !cfg->disabled;
  out->allow_both_hard = cfg->allow_both_hard;
  out->force_acceptor = cfg->role == NAT_BDAY_ACCEPTOR;
  out->force_dialer = cfg->role == NAT_BDAY_DIALER;
  out->sockets = cfg->sockets;
  out->probes = cfg->probes;
  out->rate = cfg->rate;
  if (c->predict_run) {
    const nat_alloc_verdict *v = &c->pred.alloc;
    out->alloc = v->kind;
    if (v->kind == NAT_PA_SEQUENTIAL && c->pred.last != 0 && v->delta != 0 &&
        v->delta >= -32768 && v->delta <= 32767) {
      out->delta = v->delta;
      out->last = c->pred.last;
    }
    /* random: the range the samples span, widened by the mean gap
     * between them (s samples of a uniform range leave about
     * span / (s - 1) unseen at each end). Only a narrow range is worth
     * telling: a few samples of the whole range would name a part of it
     * (and overstate the odds). Told for samples called sequential too:
     * four random ports of a narrow range sometimes look like a
     * progression (measured), and the dialer sprays the predicted window
     * first, then this range, then the rest. */
    if ((v->kind == NAT_PA_RANDOM || v->kind == NAT_PA_SEQUENTIAL) &&
        v->samples >= 3 && v->hi > v->lo) {
      uint32_t w = (uint32_t)(v->hi - v->lo) / (uint32_t)(v->samples - 1);
      uint32_t lo = v->lo > NAT_BDAY_PORT_LO + w ? v->lo - w : NAT_BDAY_PORT_LO;
      uint32_t hi =
          (uint32_t)v->hi + w < NAT_BDAY_PORT_HI ? v->hi + w : NAT_BDAY_PORT_HI;
      if (hi - lo + 1 <= NARROW_RANGE) {
        out->lo = (uint16_t)lo;
        out->hi = (uint16_t)hi;
      }
    }
  }
  if (cfg->lo != 0 && cfg->hi >= cfg->lo) { /* the user knows better */
    out->lo = cfg->lo;
    out->hi = cfg->hi;
  }
}

bool nat__agent_bday_note(const nat_agent *a, int hint, char *buf, size_t len) {
  if (!a->bday_planned)
    return false;
  if (a->bday.why == NAT_BDAY_WHY_BOTH_HARD) {
    refusal(&a->bday, buf, len);
    return true;
  }
  if (a->bday.why == NAT_BDAY_WHY_UNKNOWN && !a->core.ticket_mode &&
      (hint == NAT_CHECK_HINT_NO_RESPONSE || hint == NAT_CHECK_HINT_BIRTHDAY)) {
    snprintf(buf, len,
             "a peer's NAT mapping is unknown, so no birthday spray was "
             "planned: give both peers --stun on another address than the "
             "rendezvous (each then learns whether its NAT maps per "
             "destination)");
    return true;
  }
  return false;
}

static void refusal(const nat_bday_plan *p, char *buf, size_t len) {
  snprintf(buf, len,
           "birthday refused: both peers map per destination; 99.9 %% would "
           "take about %" PRIu64 " probes a side (%.0f min at %u/s) and as "
           "many NAT table entries on each NAT: use port mapping (UPnP, "
           "NAT-PMP, PCP) or a relay",
           p->both_probes, p->both_minutes, p->rate);
}

int nat__agent_bday_plan(nat_agent *a) {
  char text[320];
  nat_bday_side us;
  nat_agent_event e;
  const nat_bday_plan *p = &a->bday;
  nat__agent_bday_side(a, &us);
  a->bd_peer.mapping = a->core.remote_mapping;
  a->bd_peer.mapped = nat__punch_has_mapped(&a->core.peer);
  if (nat_bday_plan_make(&us, &a->bd_peer, &a->bday) != 0)
    return 0;
  a->bday_planned = true;
  if (p->role == NAT_BDAY_BOTH) {
    a->core.short_ttl_checks = true;
    /* the tie-breakers pick the QUIC client, as for the checks */
    a->core.controlling =
        nat_check_role_for(a->core.mine.tie_breaker, a->core.peer.tie_breaker);
    snprintf(text, sizeof text,
             "birthday: both NATs map per destination and both peers allow "
             "the spray: %u probes a side from %u sockets at %u/s over the "
             "peer's ports %u-%u: %.3f %% predicted",
             p->probes, p->sockets, p->rate, (unsigned)p->lo, (unsigned)p->hi,
             100.0 * p->p_success);
  } else if (p->role != NAT_BDAY_NONE) {
    a->core.short_ttl_checks = p->role == NAT_BDAY_ACCEPTOR;
    a->core.force_controlling = p->role == NAT_BDAY_DIALER;
    a->core.controlling = p->role == NAT_BDAY_DIALER;
    snprintf(text, sizeof text,
             "birthday: we %s; %u sockets, %u probes at %u/s over ports "
             "%u-%u (%u): %.1f %% predicted, half the time by probe %u "
             "(%.1f s)",
             p->role == NAT_BDAY_ACCEPTOR ? "accept" : "spray", p->sockets,
             p->probes, p->rate, (unsigned)p->lo, (unsigned)p->hi, p->n,
             100.0 * p->p_success, p->probes_50,
             (double)p->t_median / (double)NAT_SECONDS);
  } else if (p->why == NAT_BDAY_WHY_BOTH_HARD) {
    refusal(p, text, sizeof text);
  } else {
    snprintf(text, sizeof text, "birthday: no spray: %s",
             nat_bday_why_strerror(p->why));
  }
  memset(&e, 0, sizeof e);
  e.type = NAT_AGENT_EV_BIRTHDAY_PLAN;
  e.text = text;
  e.len = strlen(text);
  e.controlling = a->core.controlling;
  nat__agent_emit(a, &e);
  if (a->finished)
    return -1;
  if (a->cfg.birthday.only && p->role == NAT_BDAY_NONE) {
    if (p->why == NAT_BDAY_WHY_BOTH_HARD)
      nat__agent_fail(a, NAT_EBDAYREFUSED, false, NAT_CHECK_HINT_BIRTHDAY, "%s",
                      text);
    else
      nat__agent_fail(a, NAT_EUNSUPPORTED, false, 0,
                      "no birthday spray for this pair: %s (punch connects "
                      "it without one)",
                      nat_bday_why_strerror(p->why));
    return -1;
  }
  return 0;
}

/* ------------------------------------------------- the acceptor's sockets */

static void bsock_gone(nat_udp *u, void *arg) {
  nat__agent_bsock *b = arg;
  nat_agent *a = b->a;
  (void)u;
  b->u = NULL;
  a->bsock_open--;
  if (a->closing && a->bsock_open == 0)
    nat__agent_teardown(a);
}

static void bsock_close(nat__agent_bsock *b) {
  if (b->u == NULL || b->closing)
    return;
  b->closing = true;
  nat_udp_close(b->u, bsock_gone, b);
}

static void bsock_recv(nat_udp *u, void *arg, const nat_addr *from,
                       const uint8_t *buf, size_t len,
                       const nat_stun_msg *msg) {
  nat__agent_bsock *b = arg;
  nat_agent *a = b->a;
  (void)u;
  (void)buf;
  (void)len;
  if (a->finished || !a->bday_ran)
    return;
  (void)nat__spray_recv(&a->spray, nat_udp_now(), b->i, from, msg);
  spray_pump(a);
}

/* STUN on a winning socket once its endpoint took it (the endpoint's
 * argument is the agent's, as for every endpoint callback) */
static void bep_stun(nat_quic_endpoint *ep, void *arg, const nat_addr *from,
                     const uint8_t *buf, size_t len, const nat_stun_msg *msg) {
  nat_agent *a = arg;
  for (unsigned i = 0; i < a->nbep; i++)
    if (a->bep[i] == ep && a->bep_sock[i] < a->nbsock)
      bsock_recv(NULL, &a->bsock[a->bep_sock[i]], from, buf, len, msg);
}

/* An endpoint on spray socket @p sock (once). @return it, or NULL when
 * it cannot start (the run failed). */
static nat_quic_endpoint *bep_for(nat_agent *a, uint32_t sock) {
  nat_quic_endpoint *ep = NULL;
  for (unsigned i = 0; i < a->nbep; i++)
    if (a->bep_sock[i] == sock)
      return a->bep[i];
  if (a->nbep >= NAT__SPRAY_HITS || sock >= a->nbsock ||
      a->bsock[sock].u == NULL)
    return NULL;
  if (nat__agent_endpoint_new(a, a->bsock[sock].u, bep_stun, &ep) != 0) {
    nat__agent_fail(a, NAT_EQUIC, true, 0, "%s",
                    "cannot start QUIC on the spray's winning socket");
    return NULL;
  }
  a->bep[a->nbep] = ep;
  a->bep_sock[a->nbep] = sock;
  a->bep_closing[a->nbep] = false;
  a->nbep++;
  a->bep_open++;
  return ep;
}

/* Both hard, the QUIC server: an endpoint on every socket a keyed check
 * got through on (the client may have picked another pair than our
 * first). */
static void beps_for_hits(nat_agent *a) {
  for (unsigned i = 0; i < a->spray.nhits && !a->finished; i++)
    (void)bep_for(a, a->spray.hits[i]);
}

/* RLIMIT_NOFILE must leave room for K sockets: raise the soft limit up to
 * the hard one if needed. @return 0 or -1 (the run failed). */
static int fd_room(nat_agent *a, uint32_t k) {
  struct rlimit rl;
  rlim_t need = (rlim_t)k + FD_MARGIN;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
    return 0; /* cannot tell: the sockets say */
  if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need) {
    rlim_t want = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= need
                      ? need
                      : rl.rlim_max;
    struct rlimit nr = {want, rl.rlim_max};
    if (want < need || setrlimit(RLIMIT_NOFILE, &nr) != 0) {
      nat__agent_fail(a, NAT_ENOFILE, true, NAT_CHECK_HINT_BIRTHDAY,
                      "RLIMIT_NOFILE allows %llu open files (hard limit "
                      "%llu); the spray needs %u sockets and about %d more: "
                      "raise it (ulimit -n %llu) or use fewer sockets "
                      "(--sockets)",
                      (unsigned long long)rl.rlim_cur,
                      (unsigned long long)rl.rlim_max, k, FD_MARGIN,
                      (unsigned long long)need);
      return -1;
    }
  }
  return 0;
}

/* Open up to K sockets of our family. @return how many opened, or -1. */
static int64_t bsock_open_all(nat_agent *a, uint32_t k) {
  nat_udp_config uc;
  int rc = 0;
  if (fd_room(a, k) != 0)
    return -1;
  a->bsock = calloc(k, sizeof *a->bsock);
  if (a->bsock == NULL) {
    nat__agent_fail(a, NAT_ENOMEM, true, 0, "%s",
                    "out of memory for the spray's sockets");
    return -1;
  }
  memset(&uc, 0, sizeof uc);
  uc.bind.family = a->core.local.family;
  for (a->nbsock = 0; a->nbsock < k; a->nbsock++) {
    nat__agent_bsock *b = &a->bsock[a->nbsock];
    b->a = a;
    b->i = a->nbsock;
    if ((rc = nat_udp_new(&b->u, a->loop, &uc)) != 0) {
      b->u = NULL;
      break;
    }
    a->bsock_open++;
    nat_udp_set_recv_cb(b->u, bsock_recv, b);
  }
  if (a->nbsock < k) {
    char text[200];
    snprintf(text, sizeof text,
             "birthday: %u of %u sockets opened (%s): the odds are lower",
             a->nbsock, k, nat_strerror(rc));
    nat__agent_warn(a, text);
  }
  if (a->nbsock == 0) {
    nat__agent_fail(a, rc, true, NAT_CHECK_HINT_BIRTHDAY,
                    "cannot open the spray's sockets: %s", nat_strerror(rc));
    return -1;
  }
  return a->nbsock;
}

/* -------------------------------------------------------------- the run */

static void progress_cb(uv_timer_t *t) {
  nat_agent *a = t->data;
  nat_agent_event e;
  if (a->finished || !a->bday_ran || a->spray.hit || a->spray.exhausted) {
    uv_timer_stop(t);
    return;
  }
  memset(&e, 0, sizeof e);
  e.type = NAT_AGENT_EV_BIRTHDAY_PROGRESS;
  e.controlling = a->core.controlling;
  nat__agent_emit(a, &e);
}

static void spray_timer_cb(uv_timer_t *t) {
  spray_pump(t->data);
}

int nat__agent_spray_start(nat_agent *a) {
  nat_bday_side us;
  const nat_bday_side *acc;
  nat_tstamp now, hold = 0;
  int64_t nsock = 0;
  int rc;
  if (!a->bday_planned || a->bday.role == NAT_BDAY_NONE || a->finished)
    return 0;
  nat__agent_bday_side(a, &us);
  /* whose ports are sprayed: the acceptor's (both hard: the peer's) */
  acc = a->bday.role == NAT_BDAY_ACCEPTOR ? &us : &a->bd_peer;
  if (a->bday.role != NAT_BDAY_DIALER) {
    if ((nsock = bsock_open_all(a, a->bday.sockets)) < 0)
      return -1;
  } else {
    hold = nat__punch_check_hold_ms(a->core.ticket_mode, a->core.rdv_rtt,
                                    a->core.peer_rdv_rtt) *
               NAT_MILLISECONDS +
           ACCEPTOR_SETUP;
  }
  now = nat_udp_now();
  rc =
      nat__spray_start(&a->spray, a->bday.role, &a->bday, acc, &a->core.mine,
                       &a->core.peer, a->core.local.family, a->core.controlling,
                       (uint32_t)nsock, now, hold, nat_rand_system, NULL);
  if (rc == 0 && a->cfg.birthday.ttl != 0)
    a->spray.ttl = a->cfg.birthday.ttl;
  if (rc != 0) {
    if (rc == NAT_EINVAL && !a->cfg.birthday.only) {
      nat__agent_warn(a, "birthday: the peer's blob has no public address "
                         "of our family: no spray");
      return 0;
    }
    nat__agent_fail(a, rc, rc == NAT_ENOMEM, NAT_CHECK_HINT_BIRTHDAY,
                    "cannot start the birthday spray: %s",
                    rc == NAT_EINVAL ? "the peer's blob has no public address "
                                       "of our family"
                                     : nat_strerror(rc));
    return -1;
  }
  a->bday_ran = true;
  /* the run lasts the spray's window and a handshake after it */
  nat__agent_extend(a, a->spray.end + 2 * NAT_SECONDS);
  uv_timer_start(&a->progress_timer, progress_cb, PROGRESS_EVERY,
                 PROGRESS_EVERY);
  spray_pump(a);
  return 0;
}

/* @return true when an endpoint borrows spray socket @p sock. */
static bool has_bep(const nat_agent *a, uint32_t sock) {
  for (unsigned i = 0; i < a->nbep; i++)
    if (a->bep_sock[i] == sock && a->bep[i] != NULL)
      return true;
  return false;
}

/* Close every spray socket but @p keep (UINT32_MAX: all) and those an
 * endpoint borrows (bep_close() closes them after it). */
static void close_losers(nat_agent *a, uint32_t keep) {
  for (uint32_t i = 0; i < a->nbsock; i++)
    if (i != keep && !has_bep(a, i))
      bsock_close(&a->bsock[i]);
}

static void on_bep_gone(nat_quic_endpoint *ep, void *arg) {
  nat_agent *a = arg;
  for (unsigned i = 0; i < a->nbep; i++)
    if (a->bep[i] == ep) {
      a->bep[i] = NULL;
      a->bep_open--;
      if (a->bep_sock[i] < a->nbsock)
        bsock_close(&a->bsock[a->bep_sock[i]]);
    }
  if (a->closing)
    nat__agent_teardown(a);
}

/* Close endpoint @p i, then its socket. */
static void bep_close(nat_agent *a, unsigned i) {
  if (a->bep[i] == NULL || a->bep_closing[i])
    return;
  a->bep_closing[i] = true;
  nat_quic_endpoint_close(a->bep[i], on_bep_gone, a);
}

static void on_hit(nat_agent *a) {
  nat_agent_event e;
  nat_check_pair pair;
  nat__spray *s = &a->spray;
  memset(&pair, 0, sizeof pair);
  pair.state = NAT_PAIR_SUCCEEDED;
  pair.remote.addr = s->hit_remote;
  pair.remote.type = NAT_CAND_PRFLX;
  if (s->role == NAT_BDAY_ACCEPTOR && s->hit_sock < a->nbsock &&
      a->bsock[s->hit_sock].u != NULL)
    (void)nat_udp_local_addr(a->bsock[s->hit_sock].u, &pair.local.addr);
  else
    pair.local.addr = a->core.local;
  memset(&e, 0, sizeof e);
  e.type = NAT_AGENT_EV_BIRTHDAY_HIT;
  e.at = s->t_hit;
  e.pair = &pair;
  e.controlling = a->core.controlling;
  uv_timer_stop(&a->progress_timer);
  if (a->phase == NAT_AGENT_PH_CHECKS)
    a->phase = NAT_AGENT_PH_QUIC;
  nat__agent_emit(a, &e);
  if (a->finished)
    return;
  if (s->role == NAT_BDAY_DIALER) {
    nat__agent_follow(a);
    return;
  }
  if (a->connected)
    return;
  if (s->role == NAT_BDAY_BOTH && !a->core.controlling) {
    beps_for_hits(a); /* the client picks; the others close at CONNECTED */
    return;
  }
  /* the acceptor (or, both hard, the QUIC client): the winner stays, its
   * endpoint adopts it, the others close at once */
  close_losers(a, s->hit_sock);
  if (bep_for(a, s->hit_sock) == NULL || a->finished)
    return;
  if (s->role == NAT_BDAY_BOTH) {
    a->connecting = true;
    a->conn_remote = s->hit_remote;
    a->conn_on_bep = true;
    a->conn_ep = a->bep[0];
    if (nat_quic_connect(a->bep[0], &s->hit_remote, a->core.peer.pin, a,
                         &a->conn) != 0)
      nat__agent_fail(a, NAT_EQUIC, true, 0, "%s",
                      "cannot start the QUIC handshake");
  }
}

static void on_exhausted(nat_agent *a) {
  const nat__spray *s = &a->spray;
  double secs = (double)(nat_udp_now() - s->start) / (double)NAT_SECONDS;
  uv_timer_stop(&a->progress_timer);
  if (a->connected || a->conn != NULL)
    return;
  close_losers(a, UINT32_MAX);
  if (!a->cfg.birthday.only && !a->checks_failed && a->core.chk != NULL)
    return; /* the checks still run */
  if (s->role == NAT_BDAY_DIALER)
    nat__agent_fail(
        a, NAT_ETIMEDOUT, false, NAT_CHECK_HINT_BIRTHDAY,
        "birthday spray: no hit after %u probes in %.1f s (%.1f %% "
        "predicted; %u datagrams without the key or out of place ignored)",
        s->st.probes_sent, secs, 100.0 * a->bday.p_success, s->st.ignored);
  else
    nat__agent_fail(
        a, NAT_ETIMEDOUT, false, NAT_CHECK_HINT_BIRTHDAY,
        "birthday spray: none of the peer's probes reached our %u sockets in "
        "%.1f s (%.1f %% predicted; %u datagrams ignored)",
        a->nbsock, secs, 100.0 * a->bday.p_success, s->st.ignored);
}

static void spray_pump(nat_agent *a) {
  uint8_t buf[NAT__SPRAY_MSG_MAX];
  nat__spray *s = &a->spray;
  nat_tstamp now, exp;
  nat_addr dst;
  uint32_t sock;
  ssize_t n;
  int ttl;
  if (!a->bday_ran || a->finished)
    return;
  now = nat_udp_now();
  nat__spray_handle_expiry(s, now);
  while ((n = nat__spray_next_send(s, now, buf, sizeof buf, &sock, &dst,
                                   &ttl)) > 0) {
    nat_udp *u = NULL;
    if (sock == NAT__SPRAY_MAIN)
      u = a->udp;
    else if (sock < a->nbsock && !a->bsock[sock].closing)
      u = a->bsock[sock].u;
    if (u == NULL)
      continue;
    if ((ttl == 0 ? nat_udp_send(u, &dst, buf, (size_t)n)
                  : nat_udp_send_ttl(u, &dst, buf, (size_t)n, ttl)) != 0)
      a->spray_send_errors++;
  }
  if (s->hit && a->bday_hit_told && s->role == NAT_BDAY_BOTH &&
      !a->core.controlling && !a->connected)
    beps_for_hits(a); /* a later hit */
  if (s->hit && !a->bday_hit_told) {
    a->bday_hit_told = true;
    on_hit(a);
  } else if (s->exhausted && !a->bday_end_told) {
    a->bday_end_told = true;
    on_exhausted(a);
  }
  if (a->finished)
    return;
  exp = nat__spray_get_expiry(s);
  if (exp == NAT_TSTAMP_MAX)
    uv_timer_stop(&a->spray_timer);
  else
    uv_timer_start(
        &a->spray_timer, spray_timer_cb,
        exp > now ? (exp - now + NAT_MILLISECONDS - 1) / NAT_MILLISECONDS : 0,
        0);
}

bool nat__agent_spray_feed(nat_agent *a, const nat_addr *from,
                           const nat_stun_msg *msg) {
  bool ours;
  if (!a->bday_ran || a->finished)
    return false;
  ours = nat__spray_recv(&a->spray, nat_udp_now(), NAT__SPRAY_MAIN, from, msg);
  if (ours)
    spray_pump(a);
  return ours;
}

void nat__agent_spray_stop(nat_agent *a) {
  uint32_t keep = UINT32_MAX;
  if (!a->bday_ran)
    return;
  uv_timer_stop(&a->spray_timer);
  uv_timer_stop(&a->progress_timer);
  if (!a->spray.hit)
    a->spray.exhausted = true; /* no more probes or keepalives */
  for (unsigned i = 0; i < a->nbep; i++) {
    if (a->conn_on_bep && a->bep[i] == a->conn_ep)
      keep = a->bep_sock[i]; /* the connection's socket stays */
    else
      bep_close(a, i); /* then its socket */
  }
  close_losers(a, keep);
}

void nat__agent_spray_selected(nat_agent *a) {
  nat_check_pair *p = &a->core.sel;
  nat_addr local = a->core.local, remote = a->conn_remote;
  nat_tstamp at;
  uint8_t type = NAT_CAND_PRFLX;
  a->strategy = NAT_AGENT_VIA_BIRTHDAY;
  for (unsigned i = 0; i < a->nbep; i++)
    if (a->bep[i] == a->conn_ep && a->bep_sock[i] < a->nbsock &&
        a->bsock[a->bep_sock[i]].u != NULL)
      (void)nat_udp_local_addr(a->bsock[a->bep_sock[i]].u, &local);
  if (a->conn != NULL) {
    nat_quic_conn_info ci;
    if (nat_quic_conn_get_info(a->conn, &ci) == 0)
      remote = ci.remote;
  }
  at = nat__spray_via_at(&a->spray, &remote);
  if (at == 0)
    at = a->spray.t_hit;
  /* a socket bound to the unspecified address: our host address */
  for (size_t i = 0; nat_addr_is_unspecified(&local) && i < a->core.mine.ncands;
       i++)
    if (a->core.mine.cands[i].type == NAT_CAND_HOST &&
        a->core.mine.cands[i].addr.family == local.family) {
      uint16_t port = local.port;
      local = a->core.mine.cands[i].addr;
      local.port = port;
    }
  /* the peer's own name for the address, when it signalled it */
  for (size_t i = 0; i < a->core.peer.ncands; i++)
    if (nat_addr_equal(&a->core.peer.cands[i].addr, &remote))
      type = a->core.peer.cands[i].type;
  memset(p, 0, sizeof *p);
  (void)nat_cand_make(&p->local, NAT_CAND_HOST, &local, &local, NULL, 65535);
  (void)nat_cand_make(&p->remote, type, &remote, &remote, NULL, 65535);
  p->state = NAT_PAIR_SUCCEEDED;
  p->nominated = true;
  p->succeeded_at = at;
  a->core.selected = true;
  if (a->core.t_selected == 0 || a->core.t_selected > at)
    a->core.t_selected = at;
}

bool nat__agent_spray_defers(nat_agent *a, int hint) {
  if (!a->bday_ran || a->spray.exhausted)
    return false;
  a->checks_failed = true;
  a->checks_hint = hint;
  return true;
}

bool nat__agent_spray_teardown(nat_agent *a) {
  for (unsigned i = 0; i < a->nbep; i++)
    bep_close(a, i);
  if (a->bep_open > 0)
    return true;
  close_losers(a, UINT32_MAX);
  if (a->bsock_open > 0)
    return true;
  free(a->bsock);
  a->bsock = NULL;
  a->nbsock = 0;
  nat__spray_free(&a->spray);
  return false;
}
