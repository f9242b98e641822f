/* One QUIC connection over ngtcp2 0.12 once made (quic_open.c): reading
 * packets with their real path, writing (stream data through the stream
 * buffers), one deadline (c->expiry: ngtcp2_conn_get_expiry(), or the end of
 * the closing / draining period) on the endpoint's clock, waited for by one
 * uv_timer (rounded up to whole milliseconds) or handled when the endpoint
 * is told the clock has moved (nat__quic_conn_handle_expiry), closing, and
 * the mapping of every way a connection ends to a nat_quic_close_info.
 *
 * Ending (RFC 9000 section 10): a connection ends for the application as
 * soon as the outcome is known (on_closed runs from the loop at once), but
 * its state stays for the closing or draining period before it is freed:
 *   - we close (nat_quic_conn_close, a refused handshake, a protocol
 *     error): CONNECTION_CLOSE is sent, and the datagram that carried it
 *     is kept and sent again in answer to the 1st, 2nd, 4th, 8th... packet
 *     that still arrives (closing period, section 10.2.1);
 *   - the peer closes (CONNECTION_CLOSE received): nothing more is sent
 *     (draining period, section 10.2.2);
 * both last three times the PTO, at least LINGER_MIN (conn_linger()).
 * The idle timeout, the handshake timeout and ngtcp2's "drop the
 * connection" discard the state at once (section 10.1); so does closing
 * the endpoint (the socket goes away, nothing could answer).
 *
 * ngtcp2 must not be re-entered from its own callbacks: in_ngtcp2 counts
 * the calls in progress; work that writes (user writes, closes) is marked
 * and done after the call returns (conn_after). User callbacks that could
 * close things run either from ngtcp2 callbacks (stream data: only marks
 * are set) or from conn_after. The object is freed only from the timer's
 * close callback, never on a stack that still uses it. */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <ngtcp2/ngtcp2_crypto_gnutls.h>

#include "nat/error.h"
#include "nat/udp.h"
#include "quic_internal.h"

/* Inherent cycle with quic_endpoint.c: it routes to us, we send via it. */

#define TLS_ALERT_BAD_CERTIFICATE 42
#define TLS_ALERT_NO_APP_PROTOCOL 120

/* The shortest closing or draining period: about twice the first PTO of
 * a peer that has no RTT sample yet (3 x the initial RTT of 333 ms: a
 * server whose first flight was never acknowledged). Our own PTO can be a
 * few milliseconds on a fast path by then: without this floor the peer's
 * first probe, one second after its flight, would find no state to answer
 * it when our CONNECTION_CLOSE was lost. What stays that long is small:
 * the ngtcp2 and TLS state are freed once on_closed has run. */
#define LINGER_MIN (2 * NGTCP2_SECONDS)

/* Reason phrases of the CONNECTION_CLOSE that refuses a handshake. */
static const char reason_pin[] = "certificate does not match the pin";
static const char reason_alpn[] = "no common ALPN protocol";

static void conn_after(nat_quic_conn *c);
static void conn_arm(nat_quic_conn *c);

static nat_tstamp conn_now(const nat_quic_conn *c) {
  return nat__quic_now(c->ep);
}

/* The path of a datagram between our socket and @p remote. */
int nat__quic_conn_path(const nat_quic_conn *c, const nat_addr *remote,
                        struct sockaddr_storage *ss, ngtcp2_path *path) {
  int n = nat_addr_to_sockaddr(remote, (struct sockaddr *)ss, sizeof *ss);
  if (n < 0)
    return n;
  memset(path, 0, sizeof *path);
  path->local.addr = (ngtcp2_sockaddr *)&c->ep->local_ss;
  path->local.addrlen = c->ep->local_sslen;
  path->remote.addr = (ngtcp2_sockaddr *)ss;
  path->remote.addrlen = (ngtcp2_socklen)n;
  return 0;
}

/* ------------------------------------------------------------ lifetime */

/* Run on_closed once (never for a silent connection). */
static void conn_report(nat_quic_conn *c) {
  const nat_quic_callbacks *cb = &c->ep->cfg.cb;
  if (c->reported)
    return;
  c->reported = true;
  if (!c->silent && cb->on_closed)
    cb->on_closed(c, c->arg, &c->info);
}

/* Free the ngtcp2 connection, the TLS session and the stream buffers: an
 * ended connection needs only its CIDs and close_pkt. The path's remote
 * address is kept for nat_quic_conn_get_info(). */
static void conn_release(nat_quic_conn *c) {
  const ngtcp2_path *path = c->conn ? ngtcp2_conn_get_path(c->conn) : NULL;
  if (path && path->remote.addrlen > 0)
    nat_addr_from_sockaddr(&c->remote,
                           (const struct sockaddr *)path->remote.addr);
  nat__quic_stream_free_all(c);
  if (c->conn)
    ngtcp2_conn_del(c->conn); /* before the TLS session it points to */
  if (c->tls)
    gnutls_deinit(c->tls);
  c->conn = NULL;
  c->tls = NULL;
}

static void conn_on_closed(uv_handle_t *h) {
  nat_quic_conn *c = h->data;
  nat_quic_endpoint *ep = c->ep;
  conn_report(c);
  if (c->lingers)
    ep->stats.closing--;
  conn_release(c);
  free(c->close_pkt);
  nat__quic_ep_conn_gone(ep, c);
  free(c);
}

/* Forget @p c: its CIDs now, the rest from the timer's close callback
 * (which runs on_closed first if it has not run yet). */
static void conn_free(nat_quic_conn *c) {
  if (c->state == NAT__QUIC_DEAD)
    return;
  c->state = NAT__QUIC_DEAD;
  nat__quic_cid_remove_all(c);
  uv_timer_stop(&c->timer);
  uv_close((uv_handle_t *)&c->timer, conn_on_closed);
}

static void conn_on_timer(uv_timer_t *t);

/* Set @p c's deadline to @p when (NAT_TSTAMP_MAX: none) and start its
 * timer for it, rounded up to whole ms. */
static void conn_timer_at(nat_quic_conn *c, nat_tstamp when) {
  nat_tstamp now = conn_now(c);
  uint64_t ms = 0;
  c->expiry = when;
  if (when == NAT_TSTAMP_MAX) {
    uv_timer_stop(&c->timer);
    return;
  }
  if (when > now)
    ms = (when - now + NAT_MILLISECONDS - 1) / NAT_MILLISECONDS;
  uv_update_time(c->ep->loop);
  uv_timer_start(&c->timer, conn_on_timer, ms, 0);
}

/* RFC 9000 section 10.2: three times the current PTO, at least
 * LINGER_MIN. */
static nat_tstamp conn_linger(nat_quic_conn *c) {
  nat_tstamp t = 3 * (nat_tstamp)ngtcp2_conn_get_pto(c->conn);
  return t < LINGER_MIN ? LINGER_MIN : t;
}

/* End @p c for the application: record why, then go to @p next:
 * NAT__QUIC_CLOSING (our CONNECTION_CLOSE is in close_pkt; without it,
 * nothing could be answered: freed at once), NAT__QUIC_DRAINING, or
 * NAT__QUIC_DEAD (state discarded now). A closing endpoint frees at once.
 * on_closed runs from the loop either way. */
static void conn_end(nat_quic_conn *c, nat__quic_state next, int error,
                     bool by_peer, bool app, uint64_t code,
                     const uint8_t *reason, size_t rlen) {
  nat_quic_stats *st = &c->ep->stats;
  if (NAT__QUIC_ENDED(c))
    return;
  if (rlen > NAT_QUIC_REASON_MAX)
    rlen = NAT_QUIC_REASON_MAX;
  if (rlen > 0)
    memcpy(c->info_reason, reason, rlen);
  c->info_reason[rlen] = '\0';
  c->info.error = error;
  c->info.by_peer = by_peer;
  c->info.app = app;
  c->info.code = code;
  c->info.reason = c->info_reason;
  c->info.reason_len = rlen;
  if (c->live) {
    c->live = false;
    st->conns--;
  }
  if (next == NAT__QUIC_CLOSING && !c->close_pkt)
    next = NAT__QUIC_DEAD;
  if (next == NAT__QUIC_DEAD || c->silent || c->ep->closing || !c->conn) {
    conn_free(c);
    return;
  }
  c->state = next;
  c->lingers = true;
  st->closing++;
  /* the period's first tick runs on_closed from the loop at once (never
   * inside an API call); the deadline is its end */
  c->expiry = conn_now(c) + conn_linger(c);
  uv_timer_stop(&c->timer);
  uv_timer_start(&c->timer, conn_on_timer, 0, 0);
}

/* A packet for @p c after it ended. */
static void conn_late(nat_quic_conn *c) {
  nat_quic_stats *st = &c->ep->stats;
  st->late_in++;
  c->late_in++;
  if (c->state != NAT__QUIC_CLOSING || (c->late_in & (c->late_in - 1)) != 0)
    return; /* draining, or not a power of two: rate limit */
  if (nat_udp_send(c->ep->udp, &c->close_dst, c->close_pkt, c->close_pkt_len) ==
      0)
    st->close_resent++;
}

/* A connection that failed while being made: freed without on_closed.
 * @return @p rv. */
int nat__quic_conn_discard(nat_quic_conn *c, int rv) {
  c->silent = true;
  conn_end(c, NAT__QUIC_DEAD, rv, false, false, 0, NULL, 0);
  return rv;
}

/* ------------------------------------------------------------- sending */

/* Send CONNECTION_CLOSE carrying @p ccerr, if the state allows one, and
 * keep the datagram for the closing period (c->close_pkt). ngtcp2 puts it
 * in every packet number space the peer may be reading (Initial and
 * Handshake during the handshake; there an application close becomes the
 * transport error APPLICATION_ERROR, RFC 9000 section 10.2.3). */
static void conn_send_close(nat_quic_conn *c,
                            const ngtcp2_connection_close_error *ccerr) {
  ngtcp2_path_storage ps;
  ngtcp2_pkt_info pi = {NGTCP2_ECN_NOT_ECT};
  ngtcp2_ssize n;
  if (ngtcp2_conn_is_in_closing_period(c->conn) ||
      ngtcp2_conn_is_in_draining_period(c->conn))
    return;
  ngtcp2_path_storage_zero(&ps);
  c->in_ngtcp2++;
  n = ngtcp2_conn_write_connection_close(c->conn, &ps.path, &pi, c->txbuf,
                                         sizeof c->txbuf, ccerr, conn_now(c));
  c->in_ngtcp2--;
  if (n <= 0)
    return;
  nat__quic_ep_send(c->ep, &ps.path.remote, c->txbuf, (size_t)n, pi.ecn);
  if (c->close_pkt || c->ep->closing ||
      nat_addr_from_sockaddr(
          &c->close_dst, (const struct sockaddr *)ps.path.remote.addr) < 0 ||
      !(c->close_pkt = malloc((size_t)n)))
    return; /* without a copy, the closing period is skipped */
  memcpy(c->close_pkt, c->txbuf, (size_t)n);
  c->close_pkt_len = (size_t)n;
}

/* A fatal error from ngtcp2 itself: close with the matching transport
 * error and end with NAT_EQUIC. */
static void conn_fatal(nat_quic_conn *c, int liberr) {
  ngtcp2_connection_close_error cc;
  ngtcp2_connection_close_error_set_transport_error_liberr(&cc, liberr, NULL,
                                                           0);
  conn_send_close(c, &cc);
  conn_end(c, NAT__QUIC_CLOSING, NAT_EQUIC, false, false, cc.error_code, NULL,
           0);
}

/* Close with the application code and reason stored in @p c. */
static void conn_do_close(nat_quic_conn *c, int error) {
  ngtcp2_connection_close_error cc;
  c->close_due = false;
  ngtcp2_connection_close_error_set_application_error(
      &cc, c->close_code, (const uint8_t *)c->close_reason,
      c->close_reason_len);
  conn_send_close(c, &cc);
  conn_end(c, NAT__QUIC_CLOSING, error, false, true, c->close_code,
           (const uint8_t *)c->close_reason, c->close_reason_len);
}

/* One writev_stream() call for stream @p s (or none); @p pi gets the
 * packet's ECN marking. @return its result; the stream's offsets are
 * advanced by what ngtcp2 took. */
static ngtcp2_ssize conn_write_one(nat_quic_conn *c, nat__quic_stream *s,
                                   ngtcp2_path_storage *ps, ngtcp2_pkt_info *pi,
                                   size_t max, ngtcp2_tstamp ts) {
  ngtcp2_vec v = {NULL, 0};
  ngtcp2_ssize n, ndatalen = -1;
  uint32_t flags = NGTCP2_WRITE_STREAM_FLAG_MORE;
  size_t vcnt = 0;
  bool fin = false;
  if (s) {
    vcnt = nat__quic_stream_peek(s, &v, &fin);
    if (fin)
      flags |= NGTCP2_WRITE_STREAM_FLAG_FIN;
  }
  c->in_ngtcp2++;
  n = ngtcp2_conn_writev_stream(c->conn, &ps->path, pi, c->txbuf, max,
                                &ndatalen, flags, s ? s->id : -1,
                                vcnt ? &v : NULL, vcnt, ts);
  c->in_ngtcp2--;
  if (s && ndatalen >= 0)
    nat__quic_stream_sent(s, (size_t)ndatalen,
                          fin && (size_t)ndatalen == v.len);
  return n;
}

/* Write every packet ngtcp2 has for us now, then re-arm the timer. */
void nat__quic_conn_write(nat_quic_conn *c) {
  ngtcp2_path_storage ps;
  ngtcp2_tstamp ts;
  size_t max;
  if (NAT__QUIC_ENDED(c) || c->in_ngtcp2)
    return; /* conn_after() writes once ngtcp2 has returned */
  ts = conn_now(c);
  max = ngtcp2_conn_get_max_tx_udp_payload_size(c->conn);
  if (max > sizeof c->txbuf)
    max = sizeof c->txbuf;
  ngtcp2_path_storage_zero(&ps);
  for (;;) {
    nat__quic_stream *s = nat__quic_stream_next_to_send(c);
    ngtcp2_pkt_info pi = {NGTCP2_ECN_NOT_ECT};
    ngtcp2_ssize n = conn_write_one(c, s, &ps, &pi, max, ts);
    if (n == NGTCP2_ERR_WRITE_MORE)
      continue;
    if (n == NGTCP2_ERR_STREAM_DATA_BLOCKED && s) {
      s->blocked = true;
      continue;
    }
    if ((n == NGTCP2_ERR_STREAM_SHUT_WR || n == NGTCP2_ERR_STREAM_NOT_FOUND) &&
        s) {
      s->shut_wr = true;
      continue;
    }
    if (n < 0) {
      conn_fatal(c, (int)n);
      return;
    }
    if (n == 0)
      break;
    nat__quic_ep_send(c->ep, &ps.path.remote, c->txbuf, (size_t)n, pi.ecn);
  }
  /* Pace only once the handshake is confirmed: pacing from the initial RTT
   * guess (333 ms) held the client's second flight back by ~20 ms (a
   * loopback handshake went from 1.7 ms to 23 ms to confirmed). */
  if (c->state == NAT__QUIC_OPEN)
    ngtcp2_conn_update_pkt_tx_time(c->conn, ts);
  conn_arm(c);
}

/* --------------------------------------------------------------- timer */

/* Run what is due at @p now (the endpoint's clock): for a connection in
 * its closing or draining period, the end of it (freed); else ngtcp2's
 * timers, then the packets they produce and the next deadline. */
void nat__quic_conn_handle_expiry(nat_quic_conn *c, nat_tstamp now) {
  int rv;
  if (c->state == NAT__QUIC_DEAD || c->in_ngtcp2)
    return; /* inside ngtcp2: conn_after() re-arms once it returns */
  if (NAT__QUIC_ENDED(c)) {
    if (now >= c->expiry)
      conn_free(c);
    else
      conn_timer_at(c, c->expiry);
    return;
  }
  c->in_ngtcp2++;
  rv = ngtcp2_conn_handle_expiry(c->conn, now);
  c->in_ngtcp2--;
  if (rv == NGTCP2_ERR_IDLE_CLOSE) { /* silently, state discarded */
    conn_end(c, NAT__QUIC_DEAD, NAT_EIDLE, false, false, 0, NULL, 0);
    return;
  }
  if (rv == NGTCP2_ERR_HANDSHAKE_TIMEOUT) {
    conn_end(c, NAT__QUIC_DEAD, NAT_ETIMEDOUT, false, false, 0, NULL, 0);
    return;
  }
  if (rv != 0) {
    conn_fatal(c, rv);
    return;
  }
  conn_after(c);
}

/* The uv_timer. The first tick of a closing or draining period runs
 * on_closed (from the loop) and frees what the period does not need. */
static void conn_on_timer(uv_timer_t *t) {
  nat_quic_conn *c = t->data;
  if (c->state == NAT__QUIC_DEAD)
    return;
  if (NAT__QUIC_ENDED(c)) {
    conn_report(c);
    if (c->state == NAT__QUIC_DEAD) /* on_closed closed the endpoint */
      return;
    conn_release(c);
  }
  nat__quic_conn_handle_expiry(c, conn_now(c));
}

/* Arm the timer for ngtcp2's next expiry. */
static void conn_arm(nat_quic_conn *c) {
  ngtcp2_tstamp exp = ngtcp2_conn_get_expiry(c->conn);
  conn_timer_at(c, exp == UINT64_MAX ? NAT_TSTAMP_MAX : exp);
}

/* ----------------------------------------------------------- receiving */

/* Our TLS stack refused the handshake (@p alert is what it sent). */
static int conn_local_tls_error(const nat_quic_conn *c, uint8_t alert) {
  if (c->pin_failed)
    return NAT_EPIN;
  if (c->alpn_failed || alert == TLS_ALERT_NO_APP_PROTOCOL)
    return NAT_EALPN;
  return NAT_ETLS;
}

/* What the peer's transport error @p code means to our caller. */
static int conn_peer_error(uint64_t code) {
  if (code >= NGTCP2_CRYPTO_ERROR && code <= NGTCP2_CRYPTO_ERROR + 0xff) {
    switch (code & 0xff) {          /* the peer's TLS stack sent this alert */
    case TLS_ALERT_BAD_CERTIFICATE: /* our certificate is not its pin */
      return NAT_EPEERPIN;
    case TLS_ALERT_NO_APP_PROTOCOL:
      return NAT_EALPN;
    default:
      return NAT_ETLS;
    }
  }
  /* NO_ERROR, or APPLICATION_ERROR: an application close during the
   * handshake, its code hidden (RFC 9000 section 10.2.3) */
  if (code == NGTCP2_NO_ERROR || code == NGTCP2_APPLICATION_ERROR)
    return 0;
  return NAT_EQUIC;
}

/* The peer sent CONNECTION_CLOSE: drain. */
static void conn_peer_closed(nat_quic_conn *c) {
  ngtcp2_connection_close_error cc;
  bool app;
  ngtcp2_conn_get_connection_close_error(c->conn, &cc);
  app = cc.type == NGTCP2_CONNECTION_CLOSE_ERROR_CODE_TYPE_APPLICATION;
  c->ep->stats.peer_closes++;
  conn_end(c, NAT__QUIC_DRAINING, app ? 0 : conn_peer_error(cc.error_code),
           true, app, cc.error_code, cc.reason, cc.reasonlen);
}

static void conn_read_error(nat_quic_conn *c, int rv) {
  ngtcp2_connection_close_error cc;
  const char *why;
  uint8_t alert;
  int err;
  switch (rv) {
  case NGTCP2_ERR_DISCARD_PKT:
  case NGTCP2_ERR_RETRY:
    conn_after(c);
    return;
  case NGTCP2_ERR_DRAINING:
    conn_peer_closed(c);
    return;
  case NGTCP2_ERR_DROP_CONN: /* silently, state discarded */
    conn_end(c, NAT__QUIC_DEAD, NAT_EQUIC, false, false, 0, NULL, 0);
    return;
  case NGTCP2_ERR_RECV_VERSION_NEGOTIATION: /* no common QUIC version */
    conn_end(c, NAT__QUIC_DEAD, NAT_EQUIC, true, false, 0, NULL, 0);
    return;
  case NGTCP2_ERR_CRYPTO:
  case NGTCP2_ERR_CALLBACK_FAILURE:
    if (rv == NGTCP2_ERR_CRYPTO || c->pin_failed || c->alpn_failed) {
      alert = ngtcp2_conn_get_tls_alert(c->conn);
      if (rv != NGTCP2_ERR_CRYPTO || alert == 0)
        alert = c->alpn_failed ? TLS_ALERT_NO_APP_PROTOCOL
                               : TLS_ALERT_BAD_CERTIFICATE;
      err = conn_local_tls_error(c, alert);
      why = err == NAT_EPIN ? reason_pin : err == NAT_EALPN ? reason_alpn : "";
      /* the refusal goes to the peer, so that it fails at once */
      ngtcp2_connection_close_error_set_transport_error_tls_alert(
          &cc, alert, (const uint8_t *)why, strlen(why));
      conn_send_close(c, &cc);
      conn_end(c, NAT__QUIC_CLOSING, err, false, false, cc.error_code,
               (const uint8_t *)why, strlen(why));
      return;
    }
    break;
  default:
    break;
  }
  conn_fatal(c, rv);
}

/* Feed one datagram from @p from (its real source: NAT-translated, maybe a
 * new path) to the connection, with the ECN codepoint it arrived with
 * (called from the socket's receive callback: nat_udp_recv_ecn() is the
 * datagram's), which ngtcp2 counts in its ACKs' ECN counts. */
void nat__quic_conn_recv(nat_quic_conn *c, const nat_addr *from,
                         const uint8_t *buf, size_t len) {
  struct sockaddr_storage ss;
  ngtcp2_path path;
  ngtcp2_pkt_info pi = {nat_udp_recv_ecn(c->ep->udp)};
  int rv;
  if (c->state == NAT__QUIC_CLOSING || c->state == NAT__QUIC_DRAINING) {
    conn_late(c);
    return;
  }
  if (NAT__QUIC_ENDED(c) || nat__quic_conn_path(c, from, &ss, &path) < 0)
    return;
  c->in_ngtcp2++;
  rv = ngtcp2_conn_read_pkt(c->conn, &path, &pi, buf, len, conn_now(c));
  c->in_ngtcp2--;
  if (rv != 0) {
    conn_read_error(c, rv);
    return;
  }
  conn_after(c);
}

/* Work deferred while ngtcp2 was running: a close, on_connected,
 * on_writable, then the packets to send. */
static void conn_after(nat_quic_conn *c) {
  const nat_quic_callbacks *cb = &c->ep->cfg.cb;
  if (NAT__QUIC_ENDED(c))
    return;
  if (c->close_due) {
    conn_do_close(c, c->ep->closing ? NAT_ECANCELED : 0);
    return;
  }
  if (c->confirmed_due) {
    c->confirmed_due = false;
    if (cb->on_connected)
      cb->on_connected(c, c->arg);
    if (NAT__QUIC_ENDED(c))
      return;
  }
  nat__quic_stream_deliver_writable(c);
  if (NAT__QUIC_ENDED(c))
    return;
  nat__quic_conn_write(c);
}

/* ------------------------------------------------------------- closing */

/* End @p c now (or as soon as ngtcp2 returns): CONNECTION_CLOSE with
 * application code 0 if @p send_close, and on_closed with @p error; no
 * closing period. A connection already in its closing or draining period
 * is freed now. */
void nat__quic_conn_abort(nat_quic_conn *c, int error, bool send_close) {
  static const char why[] = "endpoint closed";
  if (c->state == NAT__QUIC_DEAD)
    return;
  if (NAT__QUIC_ENDED(c)) {
    conn_free(c);
    return;
  }
  if (!send_close) {
    conn_end(c, NAT__QUIC_DEAD, error, false, false, 0, NULL, 0);
    return;
  }
  c->close_code = 0;
  memcpy(c->close_reason, why, sizeof why);
  c->close_reason_len = sizeof why - 1;
  c->close_due = true;
  if (!c->in_ngtcp2)
    conn_do_close(c, error);
}

/** Close with an application error code and reason; see quic.h. */
int nat_quic_conn_close(nat_quic_conn *c, uint64_t app_code,
                        const char *reason) {
  size_t len = reason ? strlen(reason) : 0;
  if (!c)
    return NAT_EINVAL;
  if (NAT__QUIC_ENDED(c) || c->close_due)
    return NAT_ECLOSING;
  if (len > NAT_QUIC_REASON_MAX)
    len = NAT_QUIC_REASON_MAX;
  c->close_code = app_code;
  if (len > 0)
    memcpy(c->close_reason, reason, len);
  c->close_reason[len] = '\0';
  c->close_reason_len = len;
  c->close_due = true;
  if (!c->in_ngtcp2)
    conn_do_close(c, 0);
  return 0;
}

/* ---------------------------------------------------------- accessors */

/** Set the connection's callback argument. */
void nat_quic_conn_set_arg(nat_quic_conn *c, void *arg) {
  if (c)
    c->arg = arg;
}

/** The connection's callback argument. */
void *nat_quic_conn_get_arg(const nat_quic_conn *c) {
  return c ? c->arg : NULL;
}

/** Facts about the connection; see quic.h. */
int nat_quic_conn_get_info(const nat_quic_conn *c, nat_quic_conn_info *out) {
  const ngtcp2_path *path;
  if (!c || !out)
    return NAT_EINVAL;
  memset(out, 0, sizeof *out);
  out->server = c->server;
  out->connected = c->t_confirmed != 0;
  out->remote = c->remote;
  path = c->conn ? ngtcp2_conn_get_path(c->conn) : NULL;
  if (path && path->remote.addrlen > 0)
    nat_addr_from_sockaddr(&out->remote,
                           (const struct sockaddr *)path->remote.addr);
  out->has_peer_pin = c->pin_seen;
  memcpy(out->peer_pin, c->peer_pin, NAT_QUIC_PIN_LEN);
  out->t_start = c->t_start;
  out->t_completed = c->t_completed;
  out->t_confirmed = c->t_confirmed;
  return 0;
}
