/* Opening a QUIC connection in either role: the ngtcp2 callbacks (the
 * crypto ones from ngtcp2_crypto, CIDs, the handshake's completion and
 * confirmation), settings and transport parameters from the endpoint's
 * configuration, and ngtcp2_conn_client_new / _server_new. Running it is
 * quic_conn.c's. */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <ngtcp2/ngtcp2_crypto_gnutls.h>

#include "nat/error.h"
#include "quic_internal.h"

/* Inherent cycle with quic_endpoint.c: it opens us, we add CIDs to it. */

/* ---------------------------------------------------------- callbacks */

static ngtcp2_conn *conn_get(ngtcp2_crypto_conn_ref *ref) {
  return ((nat_quic_conn *)ref->user_data)->conn;
}

static void cb_rand(uint8_t *dest, size_t len, const ngtcp2_rand_ctx *ctx) {
  (void)ctx;
  nat__quic_rand(dest, len);
}

static int cb_new_cid(ngtcp2_conn *conn, ngtcp2_cid *cid, uint8_t *token,
                      size_t cidlen, void *user_data) {
  nat_quic_conn *c = user_data;
  (void)conn;
  cid->datalen = cidlen;
  nat__quic_rand(token, NGTCP2_STATELESS_RESET_TOKENLEN);
  for (int tries = 0; tries < 4; tries++) { /* a collision: draw again */
    nat__quic_rand(cid->data, cidlen);
    int rv = nat__quic_cid_add(c, cid->data, cidlen);
    if (rv != NAT_EEXIST)
      return rv == 0 ? 0 : NGTCP2_ERR_CALLBACK_FAILURE;
  }
  return NGTCP2_ERR_CALLBACK_FAILURE;
}

static int cb_remove_cid(ngtcp2_conn *conn, const ngtcp2_cid *cid,
                         void *user_data) {
  (void)conn;
  nat__quic_cid_remove(user_data, cid->data, cid->datalen);
  return 0;
}

static int cb_handshake_confirmed(ngtcp2_conn *conn, void *user_data);

static int cb_handshake_completed(ngtcp2_conn *conn, void *user_data) {
  nat_quic_conn *c = user_data;
  (void)conn;
  c->t_completed = nat__quic_now(c->ep);
  if (!nat__quic_tls_alpn_ok(c)) {
    c->alpn_failed = true;
    return NGTCP2_ERR_CALLBACK_FAILURE;
  }
  if (!c->pin_seen) { /* no certificate was checked: never accept that */
    c->pin_failed = true;
    return NGTCP2_ERR_CALLBACK_FAILURE;
  }
  /* RFC 9001 4.1.2: a server's handshake is confirmed when it completes
   * (it has checked the client's certificate and Finished by then); ngtcp2
   * 0.12 calls handshake_confirmed only on clients. */
  if (c->server)
    return cb_handshake_confirmed(conn, c);
  return 0;
}

static int cb_handshake_confirmed(ngtcp2_conn *conn, void *user_data) {
  nat_quic_conn *c = user_data;
  (void)conn;
  if (c->t_confirmed != 0)
    return 0;
  c->t_confirmed = nat__quic_now(c->ep);
  c->state = NAT__QUIC_OPEN;
  c->confirmed_due = true;
  return 0;
}

static void conn_callbacks(ngtcp2_callbacks *cb, bool server) {
  memset(cb, 0, sizeof *cb);
  if (server) {
    cb->recv_client_initial = ngtcp2_crypto_recv_client_initial_cb;
  } else {
    cb->client_initial = ngtcp2_crypto_client_initial_cb;
    cb->recv_retry = ngtcp2_crypto_recv_retry_cb;
  }
  cb->recv_crypto_data = ngtcp2_crypto_recv_crypto_data_cb;
  cb->encrypt = ngtcp2_crypto_encrypt_cb;
  cb->decrypt = ngtcp2_crypto_decrypt_cb;
  cb->hp_mask = ngtcp2_crypto_hp_mask_cb;
  cb->update_key = ngtcp2_crypto_update_key_cb;
  cb->delete_crypto_aead_ctx = ngtcp2_crypto_delete_crypto_aead_ctx_cb;
  cb->delete_crypto_cipher_ctx = ngtcp2_crypto_delete_crypto_cipher_ctx_cb;
  cb->get_path_challenge_data = ngtcp2_crypto_get_path_challenge_data_cb;
  cb->version_negotiation = ngtcp2_crypto_version_negotiation_cb;
  cb->rand = cb_rand;
  cb->get_new_connection_id = cb_new_cid;
  cb->remove_connection_id = cb_remove_cid;
  cb->handshake_completed = cb_handshake_completed;
  cb->handshake_confirmed = cb_handshake_confirmed;
  nat__quic_stream_callbacks(cb);
}

static void conn_settings(const nat_quic_conn *c, ngtcp2_settings *s,
                          ngtcp2_transport_params *p) {
  const nat_quic_config *cfg = &c->ep->cfg;
  ngtcp2_settings_default(s);
  s->initial_ts = nat__quic_now(c->ep);
  s->handshake_timeout = cfg->handshake_timeout;
  s->max_tx_udp_payload_size = NAT__QUIC_MAX_PKT;
  ngtcp2_transport_params_default(p);
  p->initial_max_streams_bidi = cfg->max_streams;
  p->initial_max_streams_uni = 0;
  p->initial_max_stream_data_bidi_local = cfg->stream_window;
  p->initial_max_stream_data_bidi_remote = cfg->stream_window;
  p->initial_max_data = cfg->conn_window;
  p->max_idle_timeout = cfg->idle_timeout;
}

static nat_quic_conn *conn_alloc(nat_quic_endpoint *ep, void *arg,
                                 bool server) {
  nat_quic_conn *c = calloc(1, sizeof *c);
  if (!c)
    return NULL;
  c->ep = ep;
  c->arg = arg;
  c->server = server;
  c->state = NAT__QUIC_HANDSHAKE;
  c->ref.get_conn = conn_get;
  c->ref.user_data = c;
  c->t_start = nat__quic_now(c->ep);
  c->live = true;
  c->expiry = NAT_TSTAMP_MAX;
  uv_timer_init(ep->loop, &c->timer);
  c->timer.data = c;
  c->next = ep->conns;
  if (ep->conns)
    ep->conns->prev = c;
  ep->conns = c;
  ep->stats.conns++;
  return c;
}

static int conn_finish_new(nat_quic_conn *c, int rv) {
  if (rv != 0)
    return nat__quic_conn_discard(c, rv == NGTCP2_ERR_NOMEM ? NAT_ENOMEM
                                                            : NAT_EQUIC);
  ngtcp2_conn_set_tls_native_handle(c->conn, c->tls);
  if (c->ep->cfg.keep_alive)
    ngtcp2_conn_set_keep_alive_timeout(c->conn, c->ep->cfg.keep_alive);
  return 0;
}

/* Start a client-role connection; see nat_quic_connect(). */
int nat__quic_conn_client(nat_quic_endpoint *ep, const nat_addr *peer,
                          const uint8_t *pin, void *arg, nat_quic_conn **out) {
  ngtcp2_callbacks cb;
  ngtcp2_settings settings;
  ngtcp2_transport_params params;
  ngtcp2_cid dcid, scid;
  ngtcp2_path path;
  struct sockaddr_storage ss;
  nat_quic_conn *c = conn_alloc(ep, arg, false);
  int rv;
  if (!c)
    return NAT_ENOMEM;
  c->remote = *peer;
  if (pin) {
    c->has_pin = true;
    memcpy(c->pin, pin, NAT_QUIC_PIN_LEN);
  }
  dcid.datalen = scid.datalen = NAT_QUIC_CID_LEN;
  nat__quic_rand(dcid.data, dcid.datalen);
  nat__quic_rand(scid.data, scid.datalen);
  if ((rv = nat__quic_conn_path(c, peer, &ss, &path)) < 0 ||
      (rv = nat__quic_cid_add(c, scid.data, scid.datalen)) < 0 ||
      (rv = nat__quic_tls_new(c, &c->tls)) < 0)
    return nat__quic_conn_discard(c, rv);
  conn_callbacks(&cb, false);
  conn_settings(c, &settings, &params);
  rv =
      ngtcp2_conn_client_new(&c->conn, &dcid, &scid, &path, NGTCP2_PROTO_VER_V1,
                             &cb, &settings, &params, NULL, c);
  if ((rv = conn_finish_new(c, rv)) < 0)
    return rv;
  if (out)
    *out = c;
  nat__quic_conn_write(c); /* the first Initial */
  return 0;
}

/* A server-role connection for the Initial described by @p hd, which came
 * from @p from: that address becomes the connection's remote address. */
int nat__quic_conn_server(nat_quic_endpoint *ep, const nat_addr *from,
                          const ngtcp2_pkt_hd *hd, nat_quic_conn **out) {
  ngtcp2_callbacks cb;
  ngtcp2_settings settings;
  ngtcp2_transport_params params;
  ngtcp2_cid scid;
  ngtcp2_path path;
  struct sockaddr_storage ss;
  nat_quic_conn *c = conn_alloc(ep, ep->cfg.arg, true);
  int rv;
  if (!c)
    return NAT_ENOMEM;
  c->remote = *from;
  scid.datalen = NAT_QUIC_CID_LEN;
  nat__quic_rand(scid.data, scid.datalen);
  /* The client's chosen DCID routes its Initial retransmissions. */
  if ((rv = nat__quic_conn_path(c, from, &ss, &path)) < 0 ||
      (rv = nat__quic_cid_add(c, scid.data, scid.datalen)) < 0 ||
      (rv = nat__quic_cid_add(c, hd->dcid.data, hd->dcid.datalen)) < 0 ||
      (rv = nat__quic_tls_new(c, &c->tls)) < 0)
    return nat__quic_conn_discard(c, rv);
  conn_callbacks(&cb, true);
  conn_settings(c, &settings, &params);
  settings.token = hd->token;
  params.original_dcid = hd->dcid;
  rv = ngtcp2_conn_server_new(&c->conn, &hd->scid, &scid, &path, hd->version,
                              &cb, &settings, &params, NULL, c);
  if ((rv = conn_finish_new(c, rv)) < 0)
    return rv;
  *out = c;
  return 0;
}
