/* libnat -- the punch agent's driver: the connectivity checks (the core's
 * nat_check run, driven on the one socket with its hole openers) and the
 * QUIC connection over the pair the core points to: the controlling agent
 * is the QUIC client, the controlled one accepts only the peer's pinned
 * certificate; then, with cfg.pipe, the pipe on that connection. */
#include <string.h>

#include "agent/agent_internal.h"
#include "nat/error.h"

static void chk_timer_cb(uv_timer_t *t);
static void pipe_start(nat_agent *a);

/* The controlling peer (QUIC client) starts the handshake to @p to. If
 * one is already under way to another address and not connected (the
 * committed pair failed and another one was selected: check.h), it is
 * dropped quietly for the new one (q_closed ignores a connection that is
 * no longer a->conn). */
static void connect_to(nat_agent *a, const nat_addr *to) {
  if (!a->core.controlling || a->ep == NULL || a->finished || a->connected)
    return;
  if (a->connecting && nat_addr_equal(&a->conn_remote, to))
    return;
  if (a->connecting && a->conn != NULL) {
    nat_quic_conn *old = a->conn;
    a->conn = NULL;
    (void)nat_quic_conn_close(old, 0, "another path was selected");
  }
  a->connecting = true;
  a->conn_remote = *to;
  if (nat_quic_connect(a->ep, to, a->core.peer.pin, a, &a->conn) != 0)
    nat__agent_fail(a, NAT_EQUIC, true, 0, "%s",
                    "cannot start the QUIC handshake");
}

/* QUIC follows the core: to the selected pair, or to the committed one
 * once the nominating check the core queued on it has been sent; or the
 * dialer's birthday hit, which the spray proved both ways. */
static void follow_core(nat_agent *a) {
  nat_addr to;
  if (a->finished)
    return;
  if (a->bday_ran && a->spray.hit && a->spray.role == NAT_BDAY_DIALER &&
      !a->connected) {
    if (a->phase == NAT_AGENT_PH_CHECKS)
      a->phase = NAT_AGENT_PH_QUIC;
    connect_to(a, &a->spray.hit_remote);
    return;
  }
  if (!nat__punch_quic_target(&a->core, &to))
    return;
  if (!a->core.selected && a->connecting)
    return;
  if (a->phase == NAT_AGENT_PH_CHECKS)
    a->phase = NAT_AGENT_PH_QUIC;
  connect_to(a, &to);
}

/* Run due work, send what is due (hole openers with their short TTL),
 * re-arm the timer (1 ms resolution: round up), then let QUIC follow. */
static void pump(nat_agent *a) {
  uint8_t buf[1500];
  nat_addr dst;
  ssize_t n;
  int ttl;
  nat_tstamp now = nat_udp_now(), exp;
  if (a->core.chk == NULL || a->udp == NULL || a->finished)
    return;
  nat__punch_handle_expiry(&a->core, now);
  while (!a->finished && (n = nat__punch_next_send(&a->core, now, buf,
                                                   sizeof buf, &dst, &ttl)) > 0)
    if (ttl == 0)
      (void)nat_udp_send(a->udp, &dst, buf, (size_t)n);
    else if (nat_udp_send_ttl(a->udp, &dst, buf, (size_t)n, ttl) == 0 && n == 1)
      nat__punch_hole_sent(&a->core); /* a hole opener: one byte */
  if (a->finished)
    return;
  exp = nat__punch_get_expiry(&a->core);
  if (exp != NAT_TSTAMP_MAX)
    uv_timer_start(
        &a->chk_timer, chk_timer_cb,
        exp > now ? (exp - now + NAT_MILLISECONDS - 1) / NAT_MILLISECONDS : 0,
        0);
  follow_core(a);
}

static void chk_timer_cb(uv_timer_t *t) {
  pump(t->data);
}

static void on_check(void *arg, const nat_check_event *ev) {
  nat_agent *a = arg;
  nat_agent_event e;
  char note[320];
  memset(&e, 0, sizeof e);
  e.at = ev->at;
  e.pair = ev->info;
  e.controlling = ev->controlling;
  switch (ev->type) {
  case NAT_CHECK_EV_PAIR_SUCCEEDED:
    e.type = NAT_AGENT_EV_PAIR_SUCCEEDED;
    nat__agent_emit(a, &e);
    break;
  case NAT_CHECK_EV_SELECTED:
    if (a->phase == NAT_AGENT_PH_CHECKS)
      a->phase = NAT_AGENT_PH_QUIC;
    e.type = NAT_AGENT_EV_SELECTED;
    nat__agent_emit(a, &e);
    break;
  case NAT_CHECK_EV_FAILED:
    if (a->connected || a->conn != NULL || nat__agent_spray_defers(a, ev->hint))
      break;
    if (nat__agent_bday_note(a, ev->hint, note, sizeof note)) {
      bool refused = a->bday.why == NAT_BDAY_WHY_BOTH_HARD;
      nat__agent_fail(a, refused ? NAT_EBDAYREFUSED : NAT_ETIMEDOUT, false,
                      refused ? NAT_CHECK_HINT_BIRTHDAY : ev->hint,
                      "connectivity checks failed; %s", note);
      break;
    }
    if (ev->hint == NAT_CHECK_HINT_NONE)
      nat__agent_fail(a, NAT_ETIMEDOUT, false, ev->hint, "%s",
                      "connectivity checks failed");
    else
      nat__agent_fail(a, NAT_ETIMEDOUT, false, ev->hint,
                      "connectivity checks failed: %s",
                      nat_check_hint_strerror(ev->hint));
    break;
  default:
    break;
  }
}

void nat__agent_checks_feed(nat_agent *a, const nat_addr *from,
                            const nat_stun_msg *msg) {
  if (nat__agent_spray_feed(a, from, msg))
    return;
  if (a->core.chk == NULL || a->finished)
    return;
  nat__punch_recv(&a->core, nat_udp_now(), from, msg);
  pump(a);
}

int nat__agent_checks_start(nat_agent *a) {
  nat_agent_event e;
  nat_tstamp now = nat_udp_now();
  int rc = nat__punch_checks_start(&a->core, now, a->end, nat_rand_system,
                                   on_check, a);
  if (rc != 0)
    return rc;
  a->phase = NAT_AGENT_PH_CHECKS;
  memset(&e, 0, sizeof e);
  e.type = NAT_AGENT_EV_CHECKS_STARTED;
  e.at = now;
  e.controlling = a->core.controlling;
  nat__agent_emit(a, &e);
  pump(a); /* the hole openers now; our checks after the hold */
  return 0;
}

/* --------------------------------------------------------------- QUIC */

static int q_accept(nat_quic_endpoint *ep, void *arg, nat_quic_conn *c) {
  nat_agent *a = arg;
  bool ctl = a->core.chk != NULL ? nat_check_is_controlling(a->core.chk)
                                 : a->core.controlling;
  if (a->finished || a->conn != NULL || ctl ||
      (a->core.chk == NULL && !a->bday_ran))
    return -1; /* the controlling side is the client; one connection */
  a->conn = c;
  a->conn_ep = ep;
  a->conn_on_bep = false;
  for (unsigned i = 0; i < a->nbep; i++)
    a->conn_on_bep = a->conn_on_bep || (ep != NULL && ep == a->bep[i]);
  a->core.controlling = false;
  if (a->phase == NAT_AGENT_PH_CHECKS)
    a->phase = NAT_AGENT_PH_QUIC;
  nat_quic_conn_set_arg(c, a);
  return 0;
}

static void q_connected(nat_quic_conn *c, void *arg) {
  nat_agent *a = arg;
  nat_quic_conn_info info;
  nat_agent_event e;
  if (a->finished || c != a->conn)
    return;
  a->t_confirmed = nat_udp_now();
  if (nat_quic_conn_get_info(c, &info) == 0)
    nat__punch_select_by_remote(&a->core, &info.remote, a->t_confirmed);
  a->connected = true;
  a->phase = NAT_AGENT_PH_CONNECTED;
  uv_timer_stop(&a->deadline);
  /* birthday: the connection runs on one of our spray sockets, or goes
   * to one of the peer's (the dialer's hit, or a spray socket that
   * answered one of our checks), or (acceptor) comes from the address
   * whose probe found our own socket's mapping */
  if (a->conn_on_bep ||
      (a->bday_ran && a->core.controlling &&
       nat__spray_via(&a->spray, &a->conn_remote)) ||
      (a->bday_ran && !a->core.controlling &&
       nat_quic_conn_get_info(c, &info) == 0 &&
       nat__spray_via(&a->spray, &info.remote)))
    nat__agent_spray_selected(a); /* the path is the spray's pair */
  else if (a->core.selected &&
           (a->core.sel.remote.type == NAT_CAND_MAPPED ||
            a->core.sel.local.type == NAT_CAND_MAPPED ||
            /* passive: the peer's checks came in through our mapping */
            (a->core.passive && a->core.sel.remote.type != NAT_CAND_HOST)))
    a->strategy = NAT_AGENT_VIA_MAPPED;
  else if (a->core.selected && a->core.sel.remote.type == NAT_CAND_PREDICTED)
    a->strategy = NAT_AGENT_VIA_PREDICTED;
  else
    a->strategy = NAT_AGENT_VIA_DIRECT;
  nat__agent_spray_stop(a);
  memset(&e, 0, sizeof e);
  e.type = NAT_AGENT_EV_CONNECTED;
  e.at = a->t_confirmed;
  e.conn = c;
  e.controlling = a->core.controlling;
  nat__agent_emit(a, &e);
  if (a->cfg.pipe && !a->finished && a->conn == c)
    pipe_start(a);
}

/* A stream event for the caller, from the connection it was given. */
static void stream_event(nat_agent *a, nat_quic_conn *c, nat_agent_event *e) {
  if (a->finished || c != a->conn)
    return;
  e->at = nat_udp_now();
  e->conn = c;
  e->controlling = a->core.controlling;
  nat__agent_emit(a, e);
}

static void q_data(nat_quic_conn *c, void *arg, int64_t sid,
                   const uint8_t *data, size_t len, bool fin) {
  nat_agent *a = arg;
  nat_agent_event e;
  if (a->cfg.pipe) { /* the stream is the pipe's */
    if (a->pipe != NULL && !a->finished && c == a->conn)
      nat__pipe_on_data(a->pipe, sid, data, len, fin);
    return;
  }
  memset(&e, 0, sizeof e);
  e.type = NAT_AGENT_EV_STREAM_DATA;
  e.sid = sid;
  e.data = data;
  e.len = len;
  e.fin = fin;
  stream_event(arg, c, &e);
}

static void q_writable(nat_quic_conn *c, void *arg, int64_t sid) {
  nat_agent *a = arg;
  nat_agent_event e;
  if (a->cfg.pipe) { /* the stream is the pipe's */
    if (a->pipe != NULL && !a->finished && c == a->conn)
      nat__pipe_on_writable(a->pipe, sid);
    return;
  }
  memset(&e, 0, sizeof e);
  e.type = NAT_AGENT_EV_WRITABLE;
  e.sid = sid;
  stream_event(arg, c, &e);
}

/* The connection's close ends the pipe: its success, or a failure. */
static void pipe_closed(nat_agent *a, const nat_quic_close_info *info) {
  char why[320];
  nat_agent_event e;
  int rc = nat__pipe_closed(a->pipe, info, why, sizeof why);
  if (rc != 0) {
    nat__agent_fail(a, info->error != 0 ? info->error : rc, false, 0, "%s",
                    why);
    return;
  }
  a->finished = true;
  memset(&e, 0, sizeof e);
  e.type = NAT_AGENT_EV_PIPE_DONE;
  e.controlling = a->core.controlling;
  nat__agent_emit(a, &e);
}

static void pipe_failed(void *arg, int error, bool local, const char *reason) {
  nat__agent_fail(arg, error, local, 0, "%s", reason);
}

static void pipe_start(nat_agent *a) {
  int rc = nat__pipe_new(&a->pipe, a->loop, a->cfg.pipe_in, a->cfg.pipe_out,
                         pipe_failed, a);
  if (rc != 0) {
    a->pipe = NULL;
    nat__agent_fail(a, rc, true, 0, "cannot start the pipe: %s",
                    nat_strerror(rc));
    return;
  }
  a->phase = NAT_AGENT_PH_PIPE;
  nat__pipe_start(a->pipe, a->conn, a->core.controlling);
}

static void q_closed(nat_quic_conn *c, void *arg,
                     const nat_quic_close_info *info) {
  nat_agent *a = arg;
  nat_agent_event e;
  if (a == NULL || c != a->conn)
    return;
  a->conn = NULL;
  if (a->finished)
    return;
  if (a->connected && a->pipe != NULL) {
    pipe_closed(a, info);
  } else if (a->connected) {
    memset(&e, 0, sizeof e);
    e.type = NAT_AGENT_EV_CONN_CLOSED;
    e.at = nat_udp_now();
    e.conn = c;
    e.controlling = a->core.controlling;
    e.close = info;
    nat__agent_emit(a, &e);
  } else if (info->error == NAT_EPIN) {
    nat__agent_fail(a, NAT_EPIN, false, 0, "%s",
                    "the peer's certificate does not match the pin it "
                    "announced: refused");
  } else if (info->error == NAT_EPEERPIN) {
    nat__agent_fail(a, NAT_EPEERPIN, false, 0, "%s",
                    "the peer refused our certificate: the pin it holds for "
                    "us is not ours (an altered or stale ticket?)");
  } else {
    nat__agent_fail(a, info->error, false, 0,
                    "the QUIC handshake failed: %s%s%s",
                    nat_strerror(info->error), info->reason_len ? ": " : "",
                    info->reason_len ? info->reason : "");
  }
}

static void q_stun(nat_quic_endpoint *ep, void *arg, const nat_addr *from,
                   const uint8_t *buf, size_t len, const nat_stun_msg *msg) {
  (void)ep;
  (void)buf;
  (void)len;
  nat__agent_checks_feed(arg, from, msg);
}

void nat__agent_follow(nat_agent *a) {
  follow_core(a);
}

int nat__agent_endpoint_new(nat_agent *a, nat_udp *u,
                            void (*on_stun)(nat_quic_endpoint *, void *,
                                            const nat_addr *, const uint8_t *,
                                            size_t, const nat_stun_msg *),
                            nat_quic_endpoint **out) {
  nat_quic_config cfg;
  nat_tstamp now = nat_udp_now();
  memset(&cfg, 0, sizeof cfg);
  cfg.udp = u;
  cfg.identity = a->id;
  cfg.accept = true;
  cfg.peer_pins = (const uint8_t(*)[NAT_QUIC_PIN_LEN])a->core.peer.pin;
  cfg.n_peer_pins = 1;
  cfg.handshake_timeout =
      a->end > now ? a->end - now + NAT_SECONDS : NAT_SECONDS;
  cfg.keep_alive = 5 * NAT_SECONDS;
  cfg.manual_consume = a->cfg.manual_consume;
  cfg.cb.on_accept = q_accept;
  cfg.cb.on_connected = q_connected;
  cfg.cb.on_stream_data = q_data;
  cfg.cb.on_writable = q_writable;
  cfg.cb.on_closed = q_closed;
  cfg.cb.on_stun = on_stun;
  cfg.arg = a;
  return nat_quic_endpoint_new(out, a->loop, &cfg);
}

int nat__agent_quic_start(nat_agent *a) {
  int rc = nat__agent_endpoint_new(a, a->udp, q_stun, &a->ep);
  if (rc != 0) {
    a->ep = NULL;
    return rc;
  }
  follow_core(a);
  return 0;
}
