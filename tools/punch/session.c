/* punch connect / punch ticket -- the connectivity checks (nat_check,
 * sans I/O, driven here on the run's one socket) and the QUIC connection
 * over the selected pair: the controlling agent is the QUIC client, the
 * controlled one accepts only the peer's pinned certificate.
 *
 * Timing (punch(1), "Timing"): checks use aggressive nomination; the
 * controlling peer starts QUIC on the first pair it commits to (the
 * peer's check came in on it: NAT_CHECK_EV_PAIR_NOMINATED) or selects
 * (its nominating check succeeded), whichever comes first. */
#include <string.h>

#include <nat/error.h>
#include <nat/natbox.h>
#include <nat/verdict.h>

#include "punch.h"
#include "session.h"

/* ------------------------------------------------------------- checks */

static void chk_timer_cb(uv_timer_t *t);
static void chk_pump(punch_sess *s);

/* Checks, retransmissions and answers are plain sends: nat_check runs
 * its own transactions. Responses to them are unmatched for the socket's
 * transaction layer, so nat_udp hands them to the receive callback (the
 * rendezvous client's, then the QUIC endpoint's on_stun), which feeds
 * them to nat_check_recv() with the peer's checks (punch_checks_feed). */
static void chk_send(punch_sess *s, const nat_addr *dst, const uint8_t *buf,
                     size_t len) {
  (void)nat_udp_send(s->udp, dst, buf, len);
}

/* Run due work, send what is due, re-arm the timer (1 ms resolution:
 * round up). */
static void chk_pump(punch_sess *s) {
  uint8_t buf[1500];
  nat_addr dst;
  ssize_t n;
  nat_tstamp now = nat_udp_now(), exp;
  if (s->chk == NULL || s->udp == NULL || s->finished)
    return;
  nat_check_handle_expiry(s->chk, now);
  while (!s->finished &&
         (n = nat_check_next_send(s->chk, now, buf, sizeof buf, &dst)) > 0)
    chk_send(s, &dst, buf, (size_t)n);
  if (s->finished)
    return;
  exp = nat_check_get_expiry(s->chk);
  if (exp == NAT_TSTAMP_MAX || !s->chk_started)
    return;
  uv_timer_start(
      &s->chk_timer, chk_timer_cb,
      exp > now ? (exp - now + NAT_MILLISECONDS - 1) / NAT_MILLISECONDS : 0, 0);
}

static void chk_timer_cb(uv_timer_t *t) {
  chk_pump(t->data);
}

/* The controlling peer (QUIC client) starts the handshake to @p to. If
 * one is already under way to another address and not connected (the
 * committed pair failed and another one was selected: check.h), it is
 * dropped quietly for the new one (q_closed ignores a connection that is
 * no longer s->conn). */
static void connect_to(punch_sess *s, const nat_addr *to) {
  if (!s->controlling || s->ep == NULL || s->finished || s->connected)
    return;
  if (s->connecting && nat_addr_equal(&s->conn_remote, to))
    return;
  if (s->connecting && s->conn != NULL) {
    nat_quic_conn *old = s->conn;
    s->conn = NULL;
    (void)nat_quic_conn_close(old, 0, "another path was selected");
  }
  s->connecting = true;
  s->conn_remote = *to;
  if (nat_quic_connect(s->ep, to, s->peer.pin, s, &s->conn) != 0)
    punch_finish(s, PUNCH_EXIT_ENV, "cannot start the QUIC handshake");
}

static void connect_selected(punch_sess *s) {
  if (s->selected)
    connect_to(s, &s->sel.remote.addr);
  else if (s->committed)
    connect_to(s, &s->commit.remote.addr);
}

static void chk_failed(punch_sess *s, int hint) {
  char buf[512];
  size_t n;
  s->hint = hint;
  n = nat_check_explain(s->chk, buf, sizeof buf);
  (void)n;
  if (hint == NAT_CHECK_HINT_NONE)
    punch_finish(s, PUNCH_EXIT_FAIL, "connectivity checks failed");
  else
    punch_finish(s, PUNCH_EXIT_FAIL, "connectivity checks failed: %s",
                 nat_check_hint_strerror(hint));
}

static void chk_event(void *arg, const nat_check_event *ev) {
  punch_sess *s = arg;
  switch (ev->type) {
  case NAT_CHECK_EV_PAIR_SUCCEEDED:
    if (s->t_first_ok == 0)
      s->t_first_ok = ev->at;
    break;
  case NAT_CHECK_EV_PAIR_NOMINATED:
    /* QUIC starts once the nominating check it queued has been sent:
     * punch_checks_feed(), after chk_pump() */
    s->committed = true;
    s->commit = *ev->info;
    s->controlling = ev->controlling;
    s->t_committed = ev->at;
    break;
  case NAT_CHECK_EV_SELECTED:
    s->selected = true;
    s->sel = *ev->info;
    s->controlling = ev->controlling;
    s->t_selected = ev->at;
    if (s->phase == PUNCH_PH_CHECKS)
      s->phase = PUNCH_PH_QUIC;
    connect_selected(s);
    break;
  case NAT_CHECK_EV_FAILED:
    if (!s->connected && s->conn == NULL)
      chk_failed(s, ev->hint);
    break;
  default:
    break;
  }
}

void punch_checks_feed(punch_sess *s, const nat_addr *from, const uint8_t *buf,
                       size_t len) {
  if (s->chk == NULL || s->finished)
    return;
  (void)nat_check_recv(s->chk, nat_udp_now(), from, buf, len);
  chk_pump(s);
  if (s->committed && !s->selected && !s->connecting && !s->finished) {
    if (s->phase == PUNCH_PH_CHECKS)
      s->phase = PUNCH_PH_QUIC;
    connect_selected(s);
  }
}

/* true if @p a is on one of our IPv4 interface subnets */
static bool on_our_subnet(const punch_sess *s, const nat_addr *a) {
  if (a->family != NAT_AF_INET)
    return false;
  for (size_t i = 0; i < s->nsubnets; i++) {
    const nat_iface *f = &s->subnets[i];
    uint32_t x = 0, y = 0, mask;
    if (f->addr.family != NAT_AF_INET || f->prefix == 0 || f->prefix > 32)
      continue;
    for (int k = 0; k < 4; k++) {
      x = x << 8 | a->ip[k];
      y = y << 8 | f->addr.ip[k];
    }
    mask = f->prefix == 32 ? 0xFFFFFFFFu : ~(0xFFFFFFFFu >> f->prefix);
    if ((x & mask) == (y & mask))
      return true;
  }
  return false;
}

/* true if the peer's public address (a server-reflexive candidate) is
 * ours: both peers behind one NAT, whose private addresses may reach
 * each other */
static bool same_public_ip(const punch_sess *s) {
  for (size_t i = 0; i < s->peer.ncands; i++) {
    const nat_cand *p = &s->peer.cands[i];
    if (p->type != NAT_CAND_SRFLX)
      continue;
    if (s->has_seen && nat_addr_equal_ip(&s->seen, &p->addr))
      return true;
    for (size_t k = 0; k < s->mine.ncands; k++)
      if (s->mine.cands[k].type == NAT_CAND_SRFLX &&
          nat_addr_equal_ip(&s->mine.cands[k].addr, &p->addr))
        return true;
  }
  return false;
}

/* Aggressive nomination selects the first pair that works, so the order
 * of the checks is the preference. A peer's host (private) address is
 * usually unreachable from another network: its check would go first
 * (host type preference 126) and delay the srflx pair's by a pacing step.
 * So a remote host candidate gets type preference 0 (checked after every
 * other type) unless it may be reachable directly: it is on one of our
 * subnets, or the peer's public address is ours (one NAT in front of
 * both: the host pair beats a hairpinned srflx pair). Not in ticket mode:
 * there the peers start when people paste tickets, with no clock for the
 * hold, and the host check going first (to an unreachable address) gives
 * the peer's openers another pacing step before our srflx check reaches
 * its NAT (the lab's wrong-pin test failed every time without it). */
static nat_cand remote_ordered(const punch_sess *s, const nat_cand *c,
                               bool same_nat) {
  nat_cand r = *c;
  if (c->type == NAT_CAND_HOST && !same_nat && !s->opt.ticket_mode &&
      !on_our_subnet(s, &c->addr))
    r.priority &= 0x00FFFFFFu; /* RFC 8445 5.1.2.1: type preference 0 */
  return r;
}

static void add_remotes(punch_sess *s, nat_tstamp now) {
  bool same_nat = same_public_ip(s);
  nat_cand_policy pol;
  memset(&pol, 0, sizeof pol);
  pol.allow_loopback = s->opt.allow_loopback;
  pol.subnets = s->subnets;
  pol.nsubnets = s->nsubnets;
  for (size_t i = 0; i < s->peer.ncands; i++) {
    const nat_cand *c = &s->peer.cands[i];
    nat_cand ordered = remote_ordered(s, c, same_nat);
    int why = nat_cand_validate_remote(&c->addr, &pol);
    if (why == NAT_CAND_OK && c->addr.family == s->local.family &&
        nat_check_add_remote(s->chk, now, &ordered) == 0)
      continue;
    if (why == NAT_CAND_OK && c->addr.family == s->local.family)
      continue; /* table full: silently left out */
    if (s->nrefused < PUNCH_MAX_REFUSED) {
      s->refused[s->nrefused].cand = *c;
      s->refused[s->nrefused].reason =
          why != NAT_CAND_OK ? why : NAT_CAND_REJECT_FAMILY;
      s->nrefused++;
    }
  }
}

/* How long our checks wait after the openers (holes.c). The rendezvous
 * sends PEER to both peers at once (docs/rendezvous.md), so the peer gets
 * it about (its one-way delay from the server) - (ours) after us, and
 * sends its openers then; our first check must reach its NAT at least
 * CHECK_MARGIN after that (scheduling on a loaded machine: with 20 ms, a
 * lab run on a loaded machine hit the NAT clash of holes.c; 50 ms is what
 * every lab test has run with). Each peer sends its HELLO -> SEEN time in
 * its blob (" rtt=N", ms). With both, the skew is estimated as 1.5 x (the
 * peer's RTT - ours) / 2 (x 1.5 for asymmetric paths), and our check's own
 * flight to the peer's NAT as (our RTT + the peer's) / 2 (the way through
 * the rendezvous, which a direct path can beat: hence the floor): hold =
 * CHECK_MARGIN + skew - flight, at least CHECK_HOLD_FLOOR. Without the
 * peer's figure (an older peer), one and a half of our own RTT with the
 * CHECK_MARGIN floor; ticket mode has no such clock (people paste
 * tickets, and each punch reads its peer's when it is scheduled):
 * CHECK_HOLD_TICKET, which covers that skew (with 50 ms, lab.punch.ticket
 * failed about 1 run in 8, both sides unanswered: the NAT clash). Capped (a
 * slow rendezvous must not delay the run much: the checks retransmit anyway). A
 * check that reaches the peer's NAT late costs nothing: the peer's own check
 * (sent after its hold) or its answer opens the path anyway. */
#define CHECK_HOLD_FLOOR  (20 * NAT_MILLISECONDS)
#define CHECK_MARGIN      (50 * NAT_MILLISECONDS)
#define CHECK_HOLD_MAX    (500 * NAT_MILLISECONDS)
#define CHECK_HOLD_TICKET (250 * NAT_MILLISECONDS)

static uint64_t check_hold_ms(const punch_sess *s) {
  nat_tstamp h;
  if (s->opt.ticket_mode)
    return CHECK_HOLD_TICKET / NAT_MILLISECONDS;
  if (s->rdv_rtt != 0 && s->peer_rdv_rtt != 0) {
    nat_tstamp d =
        s->peer_rdv_rtt > s->rdv_rtt ? (s->peer_rdv_rtt - s->rdv_rtt) / 2 : 0;
    nat_tstamp flight = (s->rdv_rtt + s->peer_rdv_rtt) / 2;
    h = CHECK_MARGIN + d + d / 2;
    h = h > flight + CHECK_HOLD_FLOOR ? h - flight : CHECK_HOLD_FLOOR;
  } else {
    h = s->rdv_rtt + s->rdv_rtt / 2;
    if (h < CHECK_MARGIN)
      h = CHECK_MARGIN;
  }
  if (h > CHECK_HOLD_MAX)
    h = CHECK_HOLD_MAX;
  return (h + NAT_MILLISECONDS - 1) / NAT_MILLISECONDS;
}

static void start_cb(uv_timer_t *t) {
  punch_sess *s = t->data;
  if (s->finished || s->chk == NULL)
    return;
  if (nat_check_start(s->chk, nat_udp_now()) != 0) {
    punch_finish(s, PUNCH_EXIT_ENV, "cannot start connectivity checks");
    return;
  }
  s->chk_started = true;
  chk_pump(s);
  if (!s->finished && nat_check_pair_count(s->chk) == 0)
    chk_failed(s, NAT_CHECK_HINT_NO_PAIRS);
}

/* The session keeps mapping kinds as nat_beh values (verdict.h: EI 1, AD 2,
 * APD 3; also the blob's "map=N"); nat_check's hints take nat_behaviour
 * values (natbox.h: EI 0, AD 1, APD 2) or -1. */
static int check_mapping(int beh) {
  switch (beh) {
  case NAT_BEH_EI:
    return NAT_BEH_EI;
  case NAT_BEH_AD:
    return NAT_BEH_AD;
  case NAT_BEH_APD:
    return NAT_BEH_APD;
  default:
    return -1;
  }
}

int punch_checks_start(punch_sess *s) {
  nat_check_config cfg;
  nat_tstamp now = nat_udp_now();
  memset(&cfg, 0, sizeof cfg);
  if (nat_check_config_from_tickets(&cfg, &s->mine, &s->peer) != 0)
    return -1;
  cfg.timeout = s->end > now + 400 * NAT_MILLISECONDS
                    ? s->end - now - 300 * NAT_MILLISECONDS
                    : 100 * NAT_MILLISECONDS;
  cfg.local_mapping = check_mapping(s->local_mapping);
  cfg.remote_mapping = check_mapping(s->remote_mapping);
  cfg.policy.allow_loopback = s->opt.allow_loopback;
  cfg.policy.subnets = s->subnets;
  cfg.policy.nsubnets = s->nsubnets;
  cfg.rand = nat_rand_system;
  cfg.aggressive = true; /* the first pair that works: punch(1), Timing */
  if (nat_check_new(&s->chk, &cfg, chk_event, s) != 0)
    return -1;
  s->controlling = cfg.controlling;
  for (size_t i = 0; i < s->mine.ncands; i++)
    (void)nat_check_add_local(s->chk, &s->mine.cands[i]);
  add_remotes(s, now);
  punch_open_holes(s);
  s->phase = PUNCH_PH_CHECKS;
  s->t_check = now;
  /* Our own checks start check_hold_ms() after the holes are opened, so
   * that the peer (which got the blobs at about the same time) has opened
   * its NAT before our first check reaches it (see holes.c). The peer's
   * checks are answered meanwhile (and learned as peer-reflexive pairs
   * when they come from an unexpected port: check.c). */
  uv_timer_start(&s->start_timer, start_cb, check_hold_ms(s), 0);
  return 0;
}

/* --------------------------------------------------------------- QUIC */

static int q_accept(nat_quic_endpoint *ep, void *arg, nat_quic_conn *c) {
  punch_sess *s = arg;
  (void)ep;
  if (s->finished || s->conn != NULL || nat_check_is_controlling(s->chk))
    return -1; /* the controlling side is the client; one connection */
  s->conn = c;
  s->controlling = false;
  if (s->phase == PUNCH_PH_CHECKS)
    s->phase = PUNCH_PH_QUIC;
  nat_quic_conn_set_arg(c, s);
  return 0;
}

/* The controlled side may accept the handshake before its own check on the
 * nominated pair has succeeded (it selects only then), and the
 * controlling side may confirm it before its nominating check's answer
 * (QUIC starts on the committed pair): the handshake, pinned both ways,
 * proved that path. Report the pair whose remote address is the
 * connection's: the path QUIC runs on is the one reported, also in the
 * rare case where aggressive nomination let the controlled agent select
 * another nominated pair (check.h). */
static void select_from_conn(punch_sess *s, nat_quic_conn *c) {
  nat_quic_conn_info info;
  size_t n = s->chk != NULL ? nat_check_pair_count(s->chk) : 0;
  if (nat_quic_conn_get_info(c, &info) != 0 ||
      (s->selected && nat_addr_equal(&s->sel.remote.addr, &info.remote)))
    return;
  for (size_t i = 0; i < n; i++) {
    nat_check_pair p;
    if (nat_check_pair_get(s->chk, i, &p) == 0 &&
        nat_addr_equal(&p.remote.addr, &info.remote)) {
      s->sel = p;
      if (!s->selected)
        s->t_selected = nat_udp_now();
      s->selected = true;
      return;
    }
  }
}

static void q_connected(nat_quic_conn *c, void *arg) {
  punch_sess *s = arg;
  if (s->finished || c != s->conn)
    return;
  select_from_conn(s, c);
  s->connected = true;
  s->t_confirmed = nat_udp_now();
  uv_timer_stop(&s->deadline);
  if (s->opt.pipe) {
    s->phase = PUNCH_PH_PIPE;
    punch_pipe_start(s);
  } else if (s->controlling) {
    punch_finish(s, PUNCH_EXIT_OK, NULL);
  }
  /* The accepting side waits for the client's close: the client is
   * "connected" only once our HANDSHAKE_DONE reached it. */
}

static void q_data(nat_quic_conn *c, void *arg, int64_t sid,
                   const uint8_t *data, size_t len, bool fin) {
  (void)c;
  punch_pipe_on_data(arg, sid, data, len, fin);
}

static void q_writable(nat_quic_conn *c, void *arg, int64_t sid) {
  (void)c;
  punch_pipe_on_writable(arg, sid);
}

static void q_closed(nat_quic_conn *c, void *arg,
                     const nat_quic_close_info *info) {
  punch_sess *s = arg;
  (void)c;
  if (s == NULL || c != s->conn)
    return;
  s->conn = NULL;
  if (s->finished)
    return;
  /* The server closes with code 0 once all its bytes are acknowledged
   * and it has our FIN: a success even if its FIN came in no packet. */
  if (s->connected &&
      (!s->opt.pipe || punch_pipe_complete(s) ||
       (info->by_peer && info->app && info->code == 0 && s->pipe.fin_sent)))
    punch_finish(s, PUNCH_EXIT_OK, NULL);
  else if (s->connected)
    punch_finish(s, PUNCH_EXIT_FAIL,
                 "the peer closed the connection before the end of the "
                 "stream: %s",
                 info->reason_len ? info->reason : nat_strerror(info->error));
  else if (info->error == NAT_EPIN)
    punch_finish(s, PUNCH_EXIT_FAIL,
                 "the peer's certificate does not match the pin it "
                 "announced: refused");
  else if (info->error == NAT_EPEERPIN)
    punch_finish(s, PUNCH_EXIT_FAIL,
                 "the peer refused our certificate: the pin it holds for us "
                 "is not ours (an altered or stale ticket?)");
  else
    punch_finish(s, PUNCH_EXIT_FAIL, "the QUIC handshake failed: %s%s%s",
                 nat_strerror(info->error), info->reason_len ? ": " : "",
                 info->reason_len ? info->reason : "");
}

static void q_stun(nat_quic_endpoint *ep, void *arg, const nat_addr *from,
                   const uint8_t *buf, size_t len) {
  (void)ep;
  punch_checks_feed(arg, from, buf, len);
}

int punch_quic_start(punch_sess *s) {
  nat_quic_config cfg;
  nat_tstamp now = nat_udp_now();
  memset(&cfg, 0, sizeof cfg);
  cfg.udp = s->udp;
  cfg.identity = s->id;
  cfg.accept = true;
  cfg.peer_pins = (const uint8_t(*)[NAT_QUIC_PIN_LEN])s->peer.pin;
  cfg.n_peer_pins = 1;
  cfg.handshake_timeout =
      s->end > now ? s->end - now + NAT_SECONDS : NAT_SECONDS;
  cfg.keep_alive = 5 * NAT_SECONDS;
  cfg.manual_consume = true;
  cfg.cb.on_accept = q_accept;
  cfg.cb.on_connected = q_connected;
  cfg.cb.on_stream_data = q_data;
  cfg.cb.on_writable = q_writable;
  cfg.cb.on_closed = q_closed;
  cfg.cb.on_stun = q_stun;
  cfg.arg = s;
  if (nat_quic_endpoint_new(&s->ep, s->loop, &cfg) != 0) {
    s->ep = NULL;
    return -1;
  }
  connect_selected(s);
  return 0;
}
