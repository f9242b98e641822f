/* punch connect / punch ticket -- the connectivity checks (nat_check,
 * sans I/O, driven here on the run's one socket) and the QUIC connection
 * over the selected pair: the controlling agent is the QUIC client, the
 * controlled one accepts only the peer's pinned certificate. */
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

static void connect_selected(punch_sess *s) {
  if (!s->selected || !s->controlling || s->ep == NULL || s->connecting ||
      s->finished)
    return;
  s->connecting = true;
  if (nat_quic_connect(s->ep, &s->sel.remote.addr, s->peer.pin, s, &s->conn) !=
      0)
    punch_finish(s, PUNCH_EXIT_ENV, "cannot start the QUIC handshake");
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
                 nat_check_hint_str(hint));
}

static void chk_event(void *arg, const nat_check_event *ev) {
  punch_sess *s = arg;
  switch (ev->type) {
  case NAT_CHECK_EV_PAIR_SUCCEEDED:
    if (s->t_first_ok == 0)
      s->t_first_ok = ev->at;
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
}

static void add_remotes(punch_sess *s, nat_tstamp now) {
  nat_cand_policy pol;
  memset(&pol, 0, sizeof pol);
  pol.allow_loopback = s->opt.allow_loopback;
  pol.subnets = s->subnets;
  pol.nsubnets = s->nsubnets;
  for (size_t i = 0; i < s->peer.ncands; i++) {
    const nat_cand *c = &s->peer.cands[i];
    int why = nat_cand_validate_remote(&c->addr, &pol);
    if (why == NAT_CAND_OK && c->addr.family == s->local.family &&
        nat_check_add_remote(s->chk, now, c) == 0)
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
 * it within about the difference of the two one-way delays from the
 * server (measured in natlab: under 1 ms) and sends its openers then; our
 * first check must reach its NAT after that. One and a half RTTs to the
 * rendezvous (HELLO -> SEEN) cover that difference, with a floor for scheduling
 * jitter and a cap (a slow rendezvous must not delay the run much: the checks
 * retransmit anyway). Ticket mode has no such clock (people paste tickets): the
 * floor only. */
#define CHECK_HOLD_MIN (50 * NAT_MILLISECONDS)
#define CHECK_HOLD_MAX (500 * NAT_MILLISECONDS)

static uint64_t check_hold_ms(const punch_sess *s) {
  nat_tstamp h = s->rdv_rtt + s->rdv_rtt / 2;
  if (h < CHECK_HOLD_MIN)
    h = CHECK_HOLD_MIN;
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
    return NAT_BEHAVIOUR_EI;
  case NAT_BEH_AD:
    return NAT_BEHAVIOUR_AD;
  case NAT_BEH_APD:
    return NAT_BEHAVIOUR_APD;
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
 * nominated pair has succeeded (it selects only then): the handshake,
 * pinned both ways, proved that path too. Report the pair whose remote
 * address is the connection's. */
static void select_from_conn(punch_sess *s, nat_quic_conn *c) {
  nat_quic_conn_info info;
  size_t n = s->chk != NULL ? nat_check_pair_count(s->chk) : 0;
  if (s->selected || nat_quic_conn_get_info(c, &info) != 0)
    return;
  for (size_t i = 0; i < n; i++) {
    nat_check_pair p;
    if (nat_check_pair_get(s->chk, i, &p) == 0 &&
        nat_addr_equal(&p.remote.addr, &info.remote)) {
      s->sel = p;
      s->selected = true;
      s->t_selected = nat_udp_now();
      return;
    }
  }
}

static void q_connected(nat_quic_conn *c, void *arg) {
  punch_sess *s = arg;
  if (s->finished)
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
