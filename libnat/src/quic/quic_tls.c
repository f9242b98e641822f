/* The GnuTLS session of one QUIC connection: TLS 1.3 only, QUIC's ciphers,
 * mandatory ALPN, the endpoint identity's credentials, and no trust store:
 * the only check of the peer is its pin, made by this session's verify
 * function (a client certificate is required, so both sides are pinned).
 * Uses quic_identity.c for pin comparison; calls nothing else of the QUIC
 * files. */
#include <string.h>

#include <gnutls/crypto.h>
#include <ngtcp2/ngtcp2_crypto_gnutls.h>

#include "nat/error.h"
#include "quic_internal.h"

/* TLS 1.3 only, QUIC's ciphers, no middlebox compatibility mode. */
static const char quic_priority[] =
    "NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+AES-128-GCM:+AES-256-GCM:"
    "+CHACHA20-POLY1305:+AES-128-CCM:-GROUP-ALL:+GROUP-X25519:"
    "+GROUP-SECP256R1:+GROUP-SECP384R1:%DISABLE_TLS13_COMPAT_MODE";

/* The peer's certificate has SHA-256 @p pin: record it on @p c and say
 * whether it is accepted (the connection's own pin, else the endpoint's
 * pin list, else its verify_pin callback). */
static bool tls_check_pin(nat_quic_conn *c,
                          const uint8_t pin[NAT_QUIC_PIN_LEN]) {
  const nat_quic_endpoint *ep = c->ep;
  bool ok = false;
  memcpy(c->peer_pin, pin, NAT_QUIC_PIN_LEN);
  c->pin_seen = true;
  if (c->has_pin) {
    ok = nat_quic_pin_equal(pin, c->pin);
  } else {
    for (size_t i = 0; i < ep->cfg.n_peer_pins; i++)
      ok |= nat_quic_pin_equal(pin, ep->pins[i]); /* no early exit */
    if (!ok && ep->cfg.verify_pin)
      ok = ep->cfg.verify_pin(c, ep->cfg.verify_arg, pin);
  }
  if (!ok)
    c->pin_failed = true;
  return ok;
}

/* GnuTLS's certificate check: no CA, only the pin of the leaf. */
static int tls_verify(gnutls_session_t session) {
  ngtcp2_crypto_conn_ref *ref = gnutls_session_get_ptr(session);
  const gnutls_datum_t *certs;
  uint8_t fp[NAT_QUIC_PIN_LEN];
  unsigned n = 0;
  if (!ref || gnutls_certificate_type_get2(session, GNUTLS_CTYPE_PEERS) !=
                  GNUTLS_CRT_X509)
    return GNUTLS_E_CERTIFICATE_ERROR;
  certs = gnutls_certificate_get_peers(session, &n);
  if (!certs || n == 0 ||
      gnutls_hash_fast(GNUTLS_DIG_SHA256, certs[0].data, certs[0].size, fp) < 0)
    return GNUTLS_E_CERTIFICATE_ERROR;
  return tls_check_pin(ref->user_data, fp) ? 0 : GNUTLS_E_CERTIFICATE_ERROR;
}

/* Server: a ClientHello without QUIC transport parameters is refused with
 * missing_extension (RFC 9001 section 8.2). ngtcp2 0.12 does not check:
 * it went on and aborted the process on an assertion
 * (conn->negotiated_version, conn_write_pkt) when writing its answer, so
 * one crafted Initial killed a server (found by
 * tests/fuzz/fuzz_quic_demux.c). Runs once GnuTLS has read the
 * ClientHello's extensions, before it answers. */
static int tls_client_hello_hook(gnutls_session_t session, unsigned htype,
                                 unsigned when, unsigned incoming,
                                 const gnutls_datum_t *msg) {
  ngtcp2_crypto_conn_ref *ref = gnutls_session_get_ptr(session);
  nat_quic_conn *c = ref ? ref->user_data : NULL;
  (void)htype, (void)when, (void)incoming, (void)msg;
  if (!c || !c->conn)
    return GNUTLS_E_INTERNAL_ERROR;
  if (!ngtcp2_conn_get_remote_transport_params(c->conn)) {
    ngtcp2_conn_set_tls_alert(c->conn, GNUTLS_A_MISSING_EXTENSION);
    return GNUTLS_E_MISSING_EXTENSION;
  }
  return 0;
}

/* A GnuTLS session for @p c, tied to its ngtcp2_crypto_conn_ref.
 * @return 0, NAT_ENOMEM, NAT_ECRYPTO. */
int nat__quic_tls_new(nat_quic_conn *c, gnutls_session_t *out) {
  const nat_quic_endpoint *ep = c->ep;
  gnutls_datum_t alpn = {(unsigned char *)(uintptr_t)ep->alpn,
                         (unsigned)strlen(ep->alpn)};
  gnutls_session_t tls;
  unsigned flags = GNUTLS_ALPN_MANDATORY;
  int rv = gnutls_init(&tls, (c->server ? GNUTLS_SERVER : GNUTLS_CLIENT) |
                                 GNUTLS_NO_END_OF_EARLY_DATA);
  if (rv < 0)
    return rv == GNUTLS_E_MEMORY_ERROR ? NAT_ENOMEM : NAT_ECRYPTO;
  if (c->server)
    flags |= GNUTLS_ALPN_SERVER_PRECEDENCE;
  if ((c->server ? ngtcp2_crypto_gnutls_configure_server_session(tls)
                 : ngtcp2_crypto_gnutls_configure_client_session(tls)) != 0 ||
      gnutls_priority_set_direct(tls, quic_priority, NULL) < 0 ||
      gnutls_credentials_set(tls, GNUTLS_CRD_CERTIFICATE, ep->id->cred) < 0 ||
      gnutls_alpn_set_protocols(tls, &alpn, 1, flags) < 0) {
    gnutls_deinit(tls);
    return NAT_ECRYPTO;
  }
  gnutls_session_set_ptr(tls, &c->ref);
  gnutls_session_set_verify_function(tls, tls_verify);
  if (c->server) { /* mutual: the client must show its (pinned) certificate */
    gnutls_certificate_server_set_request(tls, GNUTLS_CERT_REQUIRE);
    gnutls_handshake_set_hook_function(tls, GNUTLS_HANDSHAKE_CLIENT_HELLO,
                                       GNUTLS_HOOK_POST, tls_client_hello_hook);
  }
  *out = tls;
  return 0;
}

/* The negotiated ALPN is ours (GnuTLS's MANDATORY flag should already have
 * refused anything else; this is the belt to those braces). */
bool nat__quic_tls_alpn_ok(const nat_quic_conn *c) {
  gnutls_datum_t sel;
  size_t len = strlen(c->ep->alpn);
  if (gnutls_alpn_get_selected_protocol(c->tls, &sel) != 0)
    return false;
  return sel.size == len && memcmp(sel.data, c->ep->alpn, len) == 0;
}

/** Set the pin expected from the peer; see quic.h. */
int nat_quic_conn_set_peer_pin(nat_quic_conn *c,
                               const uint8_t pin[NAT_QUIC_PIN_LEN]) {
  if (!c || !pin)
    return NAT_EINVAL;
  if (c->pin_seen)
    return NAT_EBUSY;
  memcpy(c->pin, pin, NAT_QUIC_PIN_LEN);
  c->has_pin = true;
  return 0;
}
