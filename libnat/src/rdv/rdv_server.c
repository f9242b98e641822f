/* The rendezvous server's driver: one UDP port (a nat_quic endpoint that
 * owns its nat_udp) answering STUN Binding requests (nat_stunsrv) and
 * accepting QUIC connections with ALPN NAT_RDV_ALPN from any client
 * certificate; each connection's first bidirectional stream carries the
 * messages of docs/rendezvous.md to and from the room logic (rdv_room.c).
 * A timer runs the rooms' deadlines. */
#include <stdlib.h>
#include <string.h>

#include "nat/error.h"
#include "nat/rdv.h"
#include "nat/stunsrv.h"

/* Per-connection receive buffer: one whole frame always fits. */
#define RX_CAP NAT_RDV_MAX_MSG

typedef struct sconn {
  nat_rdv_server *s;
  nat_quic_conn *c;
  nat_rdv_peer *p;
  int64_t sid;
  bool closing;
  size_t rxlen;
  uint8_t rx[RX_CAP];
} sconn;

struct nat_rdv_server {
  uv_loop_t *loop;
  nat_rdv_server_config cfg;
  char *software;
  nat_quic_identity *id;
  nat_quic_endpoint *ep;
  nat_rdv_rooms *rooms;
  uv_timer_t timer;
  nat_addr local;
  uint8_t pin[NAT_QUIC_PIN_LEN];
  uint64_t stun_answered, stun_bad;
  bool closing;
  nat_rdv_server_close_cb close_cb;
  void *close_arg;
};

static void rearm(nat_rdv_server *s);

/* ---------------------------------------------------------------- rooms */

static void do_send(sconn *sc, const nat_rdv_msg *m) {
  uint8_t buf[NAT_RDV_MAX_MSG];
  ssize_t n = nat_rdv_msg_encode(m, buf, sizeof buf);
  if (n > 0 && sc->sid >= 0 && !sc->closing)
    (void)nat_quic_stream_write(sc->c, sc->sid, buf, (size_t)n, false);
}

/* Actions of the room logic. The ERROR message written just before a CLOSE
 * may not leave (the close is immediate): the CONNECTION_CLOSE carries the
 * same code and text as its application error code and reason. */
static void on_action(void *ctx, const nat_rdv_action *a) {
  nat_rdv_server *s = ctx;
  sconn *sc = a->peer_arg;
  switch (a->kind) {
  case NAT_RDV_ACT_LOG:
    if (s->cfg.on_log != NULL)
      s->cfg.on_log(s->cfg.log_arg, a);
    break;
  case NAT_RDV_ACT_SEND:
    do_send(sc, a->msg);
    break;
  case NAT_RDV_ACT_CLOSE:
    if (!sc->closing) {
      sc->closing = true;
      (void)nat_quic_conn_close(sc->c, a->code, a->text != NULL ? a->text : "");
    }
    break;
  }
}

/* ----------------------------------------------------------------- QUIC */

static bool any_client(nat_quic_conn *c, void *arg,
                       const uint8_t pin[NAT_QUIC_PIN_LEN]) {
  (void)c;
  (void)arg;
  (void)pin;
  return true; /* clients are anonymous: membership is the join secret */
}

static int on_accept(nat_quic_endpoint *ep, void *arg, nat_quic_conn *c) {
  nat_rdv_server *s = arg;
  nat_quic_conn_info info;
  sconn *sc;
  (void)ep;
  if (s->closing || nat_quic_conn_get_info(c, &info) != 0)
    return -1;
  sc = calloc(1, sizeof *sc);
  if (sc == NULL)
    return -1;
  sc->s = s;
  sc->c = c;
  sc->sid = -1;
  if (nat_rdv_rooms_peer_add(s->rooms, &sc->p, &info.remote, sc,
                             nat_udp_now()) != 0) {
    free(sc);
    return -1;
  }
  nat_quic_conn_set_arg(c, sc);
  rearm(s);
  return 0;
}

/* Decode every whole frame in the buffer. @return false once closing. */
static bool drain(sconn *sc) {
  nat_rdv_server *s = sc->s;
  size_t off = 0;
  while (!sc->closing && off < sc->rxlen) {
    nat_rdv_msg m;
    ssize_t n = nat_rdv_frame_len(sc->rx + off, sc->rxlen - off);
    if (n == 0 || (n > 0 && (size_t)n > sc->rxlen - off))
      break;
    if (n > 0)
      n = nat_rdv_msg_decode(&m, sc->rx + off, sc->rxlen - off);
    if (n < 0) {
      nat_rdv_rooms_on_bad(s->rooms, sc->p, (int)n, nat_udp_now());
      break;
    }
    nat_rdv_rooms_on_msg(s->rooms, sc->p, &m, nat_udp_now());
    off += (size_t)n;
  }
  if (!sc->closing) {
    memmove(sc->rx, sc->rx + off, sc->rxlen - off);
    sc->rxlen -= off;
  }
  return !sc->closing;
}

static void on_stream_data(nat_quic_conn *c, void *arg, int64_t sid,
                           const uint8_t *data, size_t len, bool fin) {
  sconn *sc = arg;
  nat_rdv_server *s = sc->s;
  (void)c;
  if (sc->closing)
    return;
  if (sc->sid < 0)
    sc->sid = sid;
  if (sid != sc->sid) {
    nat_rdv_rooms_on_bad(s->rooms, sc->p, NAT_ERDVMSG, nat_udp_now());
    rearm(s);
    return;
  }
  while (len > 0 && !sc->closing) {
    size_t take = RX_CAP - sc->rxlen < len ? RX_CAP - sc->rxlen : len;
    memcpy(sc->rx + sc->rxlen, data, take);
    sc->rxlen += take;
    data += take;
    len -= take;
    if (!drain(sc))
      break;
  }
  if (fin && !sc->closing && sc->rxlen > 0)
    nat_rdv_rooms_on_bad(s->rooms, sc->p, NAT_ERDVTRUNC, nat_udp_now());
  rearm(s);
}

static void on_closed(nat_quic_conn *c, void *arg,
                      const nat_quic_close_info *info) {
  sconn *sc = arg;
  nat_rdv_server *s = sc->s;
  (void)c;
  (void)info;
  nat_rdv_rooms_peer_remove(s->rooms, sc->p, nat_udp_now());
  free(sc);
  if (!s->closing)
    rearm(s);
}

static void on_stun(nat_quic_endpoint *ep, void *arg, const nat_addr *from,
                    const uint8_t *buf, size_t len, const nat_stun_msg *msg) {
  nat_rdv_server *s = arg;
  nat_stunsrv_opts o;
  nat_stunsrv_reply where;
  uint8_t out[600];
  ssize_t n;
  (void)buf;
  (void)len;
  if (msg == NULL) { /* did not decode */
    s->stun_bad++;
    return;
  }
  memset(&o, 0, sizeof o);
  o.software = s->software;
  o.local = &s->local;
  n = nat_stunsrv_respond_msg(&o, from, msg, out, sizeof out, &where);
  if (n < 0) {
    s->stun_bad++;
    return;
  }
  if (nat_udp_send(nat_quic_endpoint_udp(ep), &where.dst, out, (size_t)n) == 0)
    s->stun_answered++;
}

/* ---------------------------------------------------------------- timer */

static void on_timer(uv_timer_t *t) {
  nat_rdv_server *s = t->data;
  nat_rdv_rooms_handle_expiry(s->rooms, nat_udp_now());
  rearm(s);
}

static void rearm(nat_rdv_server *s) {
  nat_tstamp due = nat_rdv_rooms_get_expiry(s->rooms), now = nat_udp_now();
  uint64_t ms;
  if (s->closing)
    return;
  if (due == NAT_TSTAMP_MAX) {
    uv_timer_stop(&s->timer);
    return;
  }
  ms = due > now ? (due - now + NAT_MILLISECONDS - 1) / NAT_MILLISECONDS : 0;
  uv_timer_start(&s->timer, on_timer, ms, 0);
}

/* ------------------------------------------------------------ lifecycle */

static void server_free(nat_rdv_server *s) {
  nat_rdv_rooms_free(s->rooms);
  nat_quic_identity_free(s->id);
  free(s->software);
  free(s);
}

static int make_endpoint(nat_rdv_server *s) {
  nat_quic_config q;
  memset(&q, 0, sizeof q);
  q.bind = s->cfg.bind;
  q.identity = s->id;
  q.alpn = NAT_RDV_ALPN;
  q.accept = true;
  q.verify_pin = any_client;
  q.idle_timeout = s->cfg.idle_timeout;
  q.max_streams = 1;      /* one stream per client */
  q.stream_window = 4096; /* a few frames in flight, no more */
  q.conn_window = 8192;
  q.send_buffer = 16384;
  q.cb.on_accept = on_accept;
  q.cb.on_stream_data = on_stream_data;
  q.cb.on_closed = on_closed;
  q.cb.on_stun = on_stun;
  q.arg = s;
  return nat_quic_endpoint_new(&s->ep, s->loop, &q);
}

int nat_rdv_server_new(nat_rdv_server **out, uv_loop_t *loop,
                       const nat_rdv_server_config *cfg) {
  nat_rdv_server *s;
  int rc;
  if (out == NULL || loop == NULL || cfg == NULL ||
      cfg->bind.family == NAT_AF_NONE)
    return NAT_EINVAL;
  s = calloc(1, sizeof *s);
  if (s == NULL)
    return NAT_ENOMEM;
  s->loop = loop;
  s->cfg = *cfg;
  if (s->cfg.idle_timeout == 0)
    s->cfg.idle_timeout = 15 * NAT_SECONDS;
  if (cfg->software != NULL && (s->software = strdup(cfg->software)) == NULL) {
    free(s);
    return NAT_ENOMEM;
  }
  s->cfg.software = NULL;
  s->cfg.identity = NULL;
  rc = nat_rdv_rooms_new(&s->rooms, &cfg->rooms, on_action, s);
  if (rc == 0 && cfg->identity != NULL)
    s->id = cfg->identity; /* borrowed; the endpoint takes a reference */
  else if (rc == 0)
    rc = nat_quic_identity_new(&s->id, "libnat-rendezvous");
  if (rc == 0) {
    nat_quic_identity_pin(s->id, s->pin);
    rc = make_endpoint(s);
  }
  if (cfg->identity != NULL)
    s->id = NULL;
  if (rc == 0)
    rc = nat_quic_endpoint_local_addr(s->ep, &s->local);
  if (rc != 0) {
    if (s->ep != NULL)
      nat_quic_endpoint_close(s->ep, NULL, NULL);
    server_free(s);
    return rc;
  }
  uv_timer_init(loop, &s->timer);
  s->timer.data = s;
  *out = s;
  return 0;
}

int nat_rdv_server_local_addr(const nat_rdv_server *s, nat_addr *out) {
  if (s == NULL || out == NULL)
    return NAT_EINVAL;
  *out = s->local;
  return 0;
}

void nat_rdv_server_pin(const nat_rdv_server *s,
                        uint8_t pin[NAT_QUIC_PIN_LEN]) {
  memcpy(pin, s->pin, NAT_QUIC_PIN_LEN);
}

void nat_rdv_server_stats_get(const nat_rdv_server *s,
                              nat_rdv_server_stats *out) {
  memset(out, 0, sizeof *out);
  nat_rdv_rooms_stats_get(s->rooms, &out->rooms);
  nat_quic_endpoint_stats(s->ep, &out->quic);
  out->stun_answered = s->stun_answered;
  out->stun_bad = s->stun_bad;
}

static void on_timer_closed(uv_handle_t *h) {
  nat_rdv_server *s = h->data;
  if (s->close_cb != NULL)
    s->close_cb(s, s->close_arg);
  server_free(s);
}

static void on_ep_closed(nat_quic_endpoint *ep, void *arg) {
  nat_rdv_server *s = arg;
  (void)ep;
  uv_close((uv_handle_t *)&s->timer, on_timer_closed);
}

void nat_rdv_server_close(nat_rdv_server *s, nat_rdv_server_close_cb cb,
                          void *arg) {
  if (s == NULL || s->closing)
    return;
  s->closing = true;
  s->close_cb = cb;
  s->close_arg = arg;
  uv_timer_stop(&s->timer);
  nat_quic_endpoint_close(s->ep, on_ep_closed, s);
}
