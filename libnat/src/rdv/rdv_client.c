/* The rendezvous client's driver: a QUIC endpoint lent the caller's
 * nat_udp for the session, one connection to the rendezvous (pinned, or
 * any certificate when asked), one stream: HELLO out, SEEN in, our sealed
 * BLOB out, the other peer's PEER in, opened and authenticated with K.
 * docs/rendezvous.md is the protocol. */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "nat/error.h"
#include "nat/rdv.h"

struct nat_rdv_client {
  uv_loop_t *loop;
  nat_rdv_client_config cfg;
  nat_rdv_keys keys;
  uint8_t nonce[NAT_RDV_NONCE_LEN];
  uint8_t server_pin[NAT_QUIC_PIN_LEN];
  nat_quic_identity *id; /* ours to free, if we made it */
  nat_quic_endpoint *ep;
  nat_quic_conn *conn;
  int64_t sid;
  uv_timer_t timer;
  uint8_t *blob; /* cfg.blob's copy */
  bool blob_sent, done, closing;
  nat_rdv_client_info info;
  size_t rxlen;
  uint8_t rx[NAT_RDV_MAX_MSG];
  nat_rdv_client_close_cb close_cb;
  void *close_arg;
};

/* End the session once with @p status: close the connection, tell the
 * caller. */
static void finish(nat_rdv_client *c, int status) {
  if (c->done)
    return;
  c->done = true;
  if (!c->closing)
    uv_timer_stop(&c->timer);
  if (c->conn != NULL)
    (void)nat_quic_conn_close(c->conn, status == 0 ? 0 : 1,
                              status == 0 ? "done" : nat_strerror(status));
  if (c->cfg.cb.on_done != NULL)
    c->cfg.cb.on_done(c, c->cfg.arg, status);
}

static void set_error(nat_rdv_client *c, uint64_t code, const char *text,
                      size_t len) {
  if (len > NAT_RDV_MAX_TEXT)
    len = NAT_RDV_MAX_TEXT;
  c->info.error_code = code > UINT16_MAX ? UINT16_MAX : (uint16_t)code;
  memcpy(c->info.error_text, text, len);
  c->info.error_text[len] = '\0';
}

static int write_msg(nat_rdv_client *c, const nat_rdv_msg *m) {
  uint8_t buf[NAT_RDV_MAX_MSG];
  ssize_t n = nat_rdv_msg_encode(m, buf, sizeof buf);
  if (n < 0)
    return (int)n;
  n = nat_quic_stream_write(c->conn, c->sid, buf, (size_t)n, false);
  return n < 0 ? (int)n : 0;
}

int nat_rdv_client_send_blob(nat_rdv_client *c, const uint8_t *blob,
                             size_t len) {
  uint8_t sealed[NAT_RDV_MAX_SEALED];
  nat_rdv_msg m;
  ssize_t n;
  int rc;
  if (c == NULL || blob == NULL || len == 0 || len > NAT_RDV_MAX_BLOB)
    return NAT_EINVAL;
  if (c->done || c->conn == NULL)
    return NAT_ECLOSING;
  if (!c->info.has_seen)
    return NAT_EAGAIN;
  if (c->blob_sent)
    return NAT_EBUSY;
  n = nat_rdv_seal(&c->keys, c->nonce, blob, len, sealed, sizeof sealed);
  if (n < 0)
    return (int)n;
  memset(&m, 0, sizeof m);
  m.type = NAT_RDV_BLOB;
  m.data = sealed;
  m.data_len = (size_t)n;
  rc = write_msg(c, &m);
  if (rc == 0) {
    c->blob_sent = true;
    c->info.t_blob = nat_udp_now();
  }
  return rc;
}

/* ------------------------------------------------------------- messages */

static void on_seen(nat_rdv_client *c, const nat_rdv_msg *m) {
  int rc;
  if (c->info.has_seen) {
    finish(c, NAT_ERDVMSG);
    return;
  }
  c->info.has_seen = true;
  c->info.seen = m->addr;
  c->info.t_seen = nat_udp_now();
  if (c->cfg.cb.on_seen != NULL)
    c->cfg.cb.on_seen(c, c->cfg.arg, &m->addr);
  if (!c->done && c->blob != NULL && !c->blob_sent) {
    rc = nat_rdv_client_send_blob(c, c->blob, c->cfg.blob_len);
    if (rc != 0)
      finish(c, rc);
  }
}

static void on_peer(nat_rdv_client *c, const nat_rdv_msg *m) {
  uint8_t pt[NAT_RDV_MAX_BLOB], nonce[NAT_RDV_NONCE_LEN];
  ssize_t n;
  if (!c->blob_sent) {
    finish(c, NAT_ERDVMSG);
    return;
  }
  n = nat_rdv_open(&c->keys, m->data, m->data_len, pt, sizeof pt, nonce);
  /* Our own blob sent back (a reflecting server) is refused too. */
  if (n >= 0 && CRYPTO_memcmp(nonce, c->nonce, sizeof nonce) == 0)
    n = NAT_EROOMSECRET;
  if (n < 0) {
    finish(c, n == NAT_ERDVMSG ? NAT_EROOMSECRET : (int)n);
    return;
  }
  c->info.t_peer = nat_udp_now();
  if (c->cfg.cb.on_peer != NULL)
    c->cfg.cb.on_peer(c, c->cfg.arg, pt, (size_t)n);
  OPENSSL_cleanse(pt, sizeof pt);
  finish(c, 0);
}

static void on_msg(nat_rdv_client *c, const nat_rdv_msg *m) {
  switch (m->type) {
  case NAT_RDV_SEEN:
    on_seen(c, m);
    break;
  case NAT_RDV_PEER:
    on_peer(c, m);
    break;
  case NAT_RDV_ERROR:
    set_error(c, m->code, m->text != NULL ? m->text : "", m->text_len);
    finish(c,
           m->code == NAT_RDV_ERR_ROOM_FULL ? NAT_EROOMFULL : NAT_ERDVREFUSED);
    break;
  case NAT_RDV_BYE:
    break; /* the server closes; on_closed reports if PEER never came */
  default:
    finish(c, NAT_ERDVMSG);
    break;
  }
}

/* ----------------------------------------------------------------- QUIC */

static bool any_server(nat_quic_conn *qc, void *arg,
                       const uint8_t pin[NAT_QUIC_PIN_LEN]) {
  (void)qc;
  (void)arg;
  (void)pin;
  return true; /* only with any_server_pin: see nat_rdv_client_config */
}

static void q_connected(nat_quic_conn *qc, void *arg) {
  nat_rdv_client *c = arg;
  nat_rdv_msg m;
  int rc;
  if (c->done)
    return;
  c->info.t_connected = nat_udp_now();
  rc = nat_quic_stream_open(qc, &c->sid);
  memset(&m, 0, sizeof m);
  m.type = NAT_RDV_HELLO;
  memcpy(m.room_id, c->keys.room_id, NAT_RDV_ROOM_ID_LEN);
  memcpy(m.join, c->keys.join, NAT_RDV_JOIN_LEN);
  if (rc == 0)
    rc = write_msg(c, &m);
  OPENSSL_cleanse(&m, sizeof m);
  if (rc != 0) {
    finish(c, rc);
    return;
  }
  c->info.t_hello = nat_udp_now();
}

static void q_stream_data(nat_quic_conn *qc, void *arg, int64_t sid,
                          const uint8_t *data, size_t len, bool fin) {
  nat_rdv_client *c = arg;
  (void)qc;
  (void)fin;
  if (c->done)
    return;
  if (sid != c->sid) {
    finish(c, NAT_ERDVMSG);
    return;
  }
  while (len > 0 && !c->done) {
    size_t take = sizeof c->rx - c->rxlen < len ? sizeof c->rx - c->rxlen : len;
    size_t off = 0;
    memcpy(c->rx + c->rxlen, data, take);
    c->rxlen += take;
    data += take;
    len -= take;
    while (!c->done && off < c->rxlen) {
      nat_rdv_msg m;
      ssize_t n = nat_rdv_frame_len(c->rx + off, c->rxlen - off);
      if (n == 0 || (n > 0 && (size_t)n > c->rxlen - off))
        break;
      if (n > 0)
        n = nat_rdv_msg_decode(&m, c->rx + off, c->rxlen - off);
      if (n < 0) {
        finish(c, (int)n);
        return;
      }
      on_msg(c, &m);
      off += (size_t)n;
    }
    memmove(c->rx, c->rx + off, c->rxlen - off);
    c->rxlen -= off;
  }
}

static void q_closed(nat_quic_conn *qc, void *arg,
                     const nat_quic_close_info *info) {
  nat_rdv_client *c = arg;
  (void)qc;
  c->conn = NULL;
  if (c->done)
    return;
  if (info->by_peer && info->app && info->code != 0) {
    set_error(c, info->code, info->reason, info->reason_len);
    finish(c, info->code == NAT_RDV_ERR_ROOM_FULL ? NAT_EROOMFULL
                                                  : NAT_ERDVREFUSED);
    return;
  }
  if (info->error == 0)
    set_error(c, info->code, info->reason, info->reason_len);
  finish(c, info->error != 0 ? info->error : NAT_ERDVREFUSED);
}

static void q_stun(nat_quic_endpoint *ep, void *arg, const nat_addr *from,
                   const uint8_t *buf, size_t len, const nat_stun_msg *msg) {
  nat_rdv_client *c = arg;
  (void)ep;
  if (c->cfg.cb.on_stun != NULL)
    c->cfg.cb.on_stun(c, c->cfg.arg, from, buf, len, msg);
}

/* ------------------------------------------------------------ lifecycle */

static void on_timeout(uv_timer_t *t) {
  finish(t->data, NAT_ETIMEDOUT);
}

static void client_free(nat_rdv_client *c) {
  nat_quic_identity_free(c->id);
  free(c->blob);
  OPENSSL_cleanse(&c->keys, sizeof c->keys);
  free(c);
}

static int client_keys(nat_rdv_client *c, const nat_rdv_client_config *cfg) {
  if (cfg->keys != NULL) {
    c->keys = *cfg->keys;
    return 0;
  }
  return nat_rdv_keys_derive(&c->keys, cfg->code);
}

static int client_endpoint(nat_rdv_client *c) {
  nat_quic_config q;
  nat_tstamp hs =
      c->cfg.timeout < 10 * NAT_SECONDS ? c->cfg.timeout : 10 * NAT_SECONDS;
  memset(&q, 0, sizeof q);
  q.udp = c->cfg.udp;
  q.identity = c->id != NULL ? c->id : c->cfg.identity;
  q.alpn = NAT_RDV_ALPN;
  q.verify_pin = c->cfg.any_server_pin ? any_server : NULL;
  q.handshake_timeout = hs;
  q.max_streams = 1;
  q.cb.on_connected = q_connected;
  q.cb.on_stream_data = q_stream_data;
  q.cb.on_closed = q_closed;
  q.cb.on_stun = q_stun;
  q.arg = c;
  return nat_quic_endpoint_new(&c->ep, c->loop, &q);
}

static int check_config(const nat_rdv_client_config *cfg) {
  if (cfg->udp == NULL || cfg->server.family == NAT_AF_NONE ||
      (cfg->code == NULL && cfg->keys == NULL) ||
      (cfg->server_pin == NULL && !cfg->any_server_pin) ||
      cfg->blob_len > NAT_RDV_MAX_BLOB ||
      (cfg->blob == NULL) != (cfg->blob_len == 0))
    return NAT_EINVAL;
  return 0;
}

int nat_rdv_client_new(nat_rdv_client **out, uv_loop_t *loop,
                       const nat_rdv_client_config *cfg) {
  nat_rdv_client *c;
  int rc;
  if (out == NULL || loop == NULL || cfg == NULL || check_config(cfg) != 0)
    return NAT_EINVAL;
  c = calloc(1, sizeof *c);
  if (c == NULL)
    return NAT_ENOMEM;
  c->loop = loop;
  c->cfg = *cfg;
  c->sid = -1;
  if (c->cfg.timeout == 0)
    c->cfg.timeout = 30 * NAT_SECONDS;
  if (c->cfg.rand == NULL)
    c->cfg.rand = nat_rand_system;
  c->cfg.rand(c->cfg.rand_ctx, c->nonce, sizeof c->nonce);
  if (cfg->server_pin != NULL)
    memcpy(c->server_pin, cfg->server_pin, NAT_QUIC_PIN_LEN);
  c->cfg.server_pin = NULL;
  c->cfg.code = NULL;
  c->cfg.keys = NULL;
  c->cfg.blob = NULL;
  rc = client_keys(c, cfg);
  if (rc == 0 && cfg->blob != NULL) {
    c->blob = malloc(cfg->blob_len);
    if (c->blob == NULL)
      rc = NAT_ENOMEM;
    else
      memcpy(c->blob, cfg->blob, cfg->blob_len);
  }
  if (rc == 0 && cfg->identity == NULL)
    rc = nat_quic_identity_new(&c->id, "libnat-punch");
  if (rc == 0)
    rc = client_endpoint(c);
  if (rc != 0) {
    client_free(c);
    return rc;
  }
  c->info.t_start = nat_udp_now();
  rc = nat_quic_connect(c->ep, &cfg->server,
                        cfg->server_pin != NULL ? c->server_pin : NULL, c,
                        &c->conn);
  if (rc != 0) {
    nat_quic_endpoint_close(c->ep, NULL, NULL);
    client_free(c);
    return rc;
  }
  uv_timer_init(loop, &c->timer);
  c->timer.data = c;
  uv_timer_start(&c->timer, on_timeout,
                 (c->cfg.timeout + NAT_MILLISECONDS - 1) / NAT_MILLISECONDS, 0);
  *out = c;
  return 0;
}

void nat_rdv_client_info_get(const nat_rdv_client *c,
                             nat_rdv_client_info *out) {
  if (c != NULL && out != NULL)
    *out = c->info;
}

static void on_timer_closed(uv_handle_t *h) {
  nat_rdv_client *c = h->data;
  if (c->close_cb != NULL)
    c->close_cb(c, c->close_arg);
  client_free(c);
}

static void on_ep_closed(nat_quic_endpoint *ep, void *arg) {
  nat_rdv_client *c = arg;
  (void)ep;
  uv_close((uv_handle_t *)&c->timer, on_timer_closed);
}

/* Deferred to the loop so that close may be called from any callback. */
static void on_close_due(uv_timer_t *t) {
  nat_rdv_client *c = t->data;
  nat_quic_endpoint_close(c->ep, on_ep_closed, c);
}

void nat_rdv_client_close(nat_rdv_client *c, nat_rdv_client_close_cb cb,
                          void *arg) {
  if (c == NULL || c->closing)
    return;
  finish(c, NAT_ECANCELED);
  c->closing = true;
  c->close_cb = cb;
  c->close_arg = arg;
  uv_timer_start(&c->timer, on_close_due, 0, 0);
}
