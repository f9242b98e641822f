/* The QUIC endpoint: one nat_udp (owned or borrowed), the demultiplexer
 * behind its receive callback (STUN messages the nat_udp did not consume to
 * on_stun, QUIC by Destination Connection ID to a connection, new Initials
 * to a new server-role connection, Version Negotiation for Initials of
 * versions we do not speak), the CID table, and closing. */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <gnutls/crypto.h>

#include "nat/error.h"
#include "nat/stun.h"
#include "quic_internal.h"

#define DEF_HANDSHAKE_TIMEOUT (10 * NAT_SECONDS)
#define DEF_IDLE_TIMEOUT      (30 * NAT_SECONDS)
#define DEF_STREAM_WINDOW     (256 * 1024)
#define DEF_CONN_WINDOW       (1024 * 1024)
#define DEF_MAX_STREAMS       100
#define DEF_SEND_BUFFER       (256 * 1024)

/* Randomness for CIDs, reset tokens and unused bits: GnuTLS's generator,
 * the operating system's if it fails. */
void nat__quic_rand(uint8_t *buf, size_t len) {
  if (gnutls_rnd(GNUTLS_RND_RANDOM, buf, len) != 0)
    nat_rand_system(NULL, buf, len);
}

/* ------------------------------------------------------------ CID table */

static unsigned cid_hash(const uint8_t *data, size_t len) {
  uint32_t h = 2166136261u; /* FNV-1a */
  for (size_t i = 0; i < len; i++)
    h = (h ^ data[i]) * 16777619u;
  return h % NAT__QUIC_CID_BUCKETS;
}

static nat_quic_conn *cid_find(const nat_quic_endpoint *ep, const uint8_t *data,
                               size_t len) {
  for (nat__quic_cid *e = ep->buckets[cid_hash(data, len)]; e; e = e->next)
    if (e->len == len && memcmp(e->data, data, len) == 0)
      return e->conn;
  return NULL;
}

/* Route packets with DCID @p data to @p c. @return 0, NAT_EINVAL (too
 * long), NAT_EEXIST (another connection has it), NAT_ENOMEM. */
int nat__quic_cid_add(nat_quic_conn *c, const uint8_t *data, size_t len) {
  nat_quic_endpoint *ep = c->ep;
  nat__quic_cid *e;
  unsigned h;
  if (len == 0 || len > NGTCP2_MAX_CIDLEN)
    return NAT_EINVAL;
  if (cid_find(ep, data, len))
    return NAT_EEXIST;
  if (!(e = malloc(sizeof *e)))
    return NAT_ENOMEM;
  h = cid_hash(data, len);
  e->conn = c;
  e->len = (uint8_t)len;
  memcpy(e->data, data, len);
  e->next = ep->buckets[h];
  ep->buckets[h] = e;
  e->conn_next = c->cids;
  c->cids = e;
  return 0;
}

static void cid_unlink(nat_quic_endpoint *ep, nat__quic_cid *e) {
  for (nat__quic_cid **p = &ep->buckets[cid_hash(e->data, e->len)]; *p;
       p = &(*p)->next) {
    if (*p == e) {
      *p = e->next;
      return;
    }
  }
}

void nat__quic_cid_remove(nat_quic_conn *c, const uint8_t *data, size_t len) {
  for (nat__quic_cid **p = &c->cids; *p; p = &(*p)->conn_next) {
    nat__quic_cid *e = *p;
    if (e->len == len && memcmp(e->data, data, len) == 0) {
      *p = e->conn_next;
      cid_unlink(c->ep, e);
      free(e);
      return;
    }
  }
}

void nat__quic_cid_remove_all(nat_quic_conn *c) {
  while (c->cids) {
    nat__quic_cid *e = c->cids;
    c->cids = e->conn_next;
    cid_unlink(c->ep, e);
    free(e);
  }
}

/* ------------------------------------------------------------- sending */

/* A packet ngtcp2 wrote, to the path's remote address, with the ECN
 * codepoint it asked for (ECT(0) while it validates ECN and once the path
 * proved it keeps the mark, RFC 9000 section 13.4.2; else Not-ECT):
 * ngtcp2 counts the marks it asked for against the peer's ACK ECN counts,
 * so a mark must not be dropped silently. Queued when the socket would
 * block, counted by the udp. */
void nat__quic_ep_send(nat_quic_endpoint *ep, const ngtcp2_addr *dst,
                       const uint8_t *buf, size_t len, uint32_t ecn) {
  nat_addr a;
  if (nat_addr_from_sockaddr(&a, (const struct sockaddr *)dst->addr) == 0)
    nat_udp_send_ecn(ep->udp, &a, buf, len, ecn & NGTCP2_ECN_MASK);
}

/* --------------------------------------------------------------- demux */

/* A long header of a version ngtcp2 does not speak (RFC 9000 section 6):
 * answered with Version Negotiation listing QUIC v1 when we accept
 * connections and the datagram is the size of a client's first Initial
 * (at least 1200 bytes, section 14.1: smaller ones are dropped, so the
 * answer is never larger than what triggered it); otherwise dropped. A
 * Version Negotiation packet itself (version 0) never gets here. */
static void ep_version_negotiation(nat_quic_endpoint *ep, const nat_addr *from,
                                   const ngtcp2_version_cid *vc, size_t len) {
  static const uint32_t versions[] = {NGTCP2_PROTO_VER_V1};
  uint8_t pkt[7 + 2 * 255 + sizeof versions], unused;
  ngtcp2_ssize n;
  if (!ep->cfg.accept || len < NGTCP2_MAX_UDP_PAYLOAD_SIZE) {
    ep->stats.undecodable++;
    return;
  }
  nat__quic_rand(&unused, 1);
  n = ngtcp2_pkt_write_version_negotiation(pkt, sizeof pkt, unused, vc->scid,
                                           vc->scidlen, vc->dcid, vc->dcidlen,
                                           versions, 1);
  if (n > 0 && nat_udp_send(ep->udp, from, pkt, (size_t)n) == 0)
    ep->stats.version_negotiation++;
}

/* A new Initial: make a server-role connection if we accept. */
static nat_quic_conn *ep_accept(nat_quic_endpoint *ep, const nat_addr *from,
                                const uint8_t *buf, size_t len) {
  ngtcp2_pkt_hd hd;
  nat_quic_conn *c;
  if (!ep->cfg.accept || !(buf[0] & 0x80) || ngtcp2_accept(&hd, buf, len) != 0)
    return NULL;
  if (nat__quic_conn_server(ep, from, &hd, &c) < 0)
    return NULL;
  ep->stats.accepted++;
  if (ep->cfg.cb.on_accept && ep->cfg.cb.on_accept(ep, ep->cfg.arg, c) < 0) {
    c->silent = true;
    nat__quic_conn_abort(c, NAT_ECANCELED, false);
    return NULL;
  }
  return c;
}

static void ep_on_recv(nat_udp *u, void *arg, const nat_addr *from,
                       const uint8_t *buf, size_t len,
                       const nat_stun_msg *msg) {
  nat_quic_endpoint *ep = arg;
  ngtcp2_version_cid vc;
  nat_quic_conn *c;
  int rv;
  (void)u;
  if (ep->closing)
    return;
  ep->stats.datagrams_in++;
  if (nat_stun_is_stun(buf, len)) { /* the strict rule; see udp.h */
    ep->stats.stun_in++;
    if (ep->cfg.cb.on_stun)
      ep->cfg.cb.on_stun(ep, ep->cfg.arg, from, buf, len, msg);
    return;
  }
  /* An empty datagram (UDP allows it) is no QUIC packet, and ngtcp2 0.12
   * asserts a non-empty buffer in the call below. */
  if (len == 0) {
    ep->stats.undecodable++;
    return;
  }
  rv = ngtcp2_pkt_decode_version_cid(&vc, buf, len, NAT_QUIC_CID_LEN);
  if (rv == NGTCP2_ERR_VERSION_NEGOTIATION) {
    ep_version_negotiation(ep, from, &vc, len);
    return;
  }
  if (rv != 0) {
    ep->stats.undecodable++;
    return;
  }
  /* A DCID we do not know (a short header, or a long header that is not a
   * new Initial we accept) is dropped: late packets of connections freed
   * after their closing period, stateless resets (their DCID is random),
   * junk. No stateless reset is sent back: our reset tokens are random
   * and die with their connection. */
  c = cid_find(ep, vc.dcid, vc.dcidlen);
  if (!c && !(c = ep_accept(ep, from, buf, len))) {
    ep->stats.unknown_cid++;
    return;
  }
  ep->stats.quic_in++;
  if (!(buf[0] & 0x40))
    ep->stats.fixed_bit_clear++;
  nat__quic_conn_recv(c, from, buf, len);
}

/* ------------------------------------------------------------ lifetime */

static nat_tstamp ep_loop_clock(void *ctx) {
  (void)ctx;
  return nat_udp_now();
}

static int ep_copy_config(nat_quic_endpoint *ep, const nat_quic_config *cfg) {
  const char *alpn = cfg->alpn ? cfg->alpn : NAT_QUIC_DEFAULT_ALPN;
  size_t alen = strlen(alpn);
  nat_quic_config *c = &ep->cfg;
  if (alen == 0 || alen >= sizeof ep->alpn)
    return NAT_EINVAL;
  if (cfg->n_peer_pins > 0 && !cfg->peer_pins)
    return NAT_EINVAL;
  *c = *cfg;
  memcpy(ep->alpn, alpn, alen + 1);
  c->alpn = ep->alpn;
  if (cfg->n_peer_pins > 0) {
    ep->pins = malloc(cfg->n_peer_pins * sizeof *ep->pins);
    if (!ep->pins)
      return NAT_ENOMEM;
    memcpy(ep->pins, cfg->peer_pins, cfg->n_peer_pins * sizeof *ep->pins);
  }
  c->peer_pins = (const uint8_t(*)[NAT_QUIC_PIN_LEN])ep->pins;
#define DEFAULT(field, value)                                                  \
  if (c->field == 0)                                                           \
  c->field = (value)
  DEFAULT(handshake_timeout, DEF_HANDSHAKE_TIMEOUT);
  DEFAULT(idle_timeout, DEF_IDLE_TIMEOUT);
  DEFAULT(stream_window, DEF_STREAM_WINDOW);
  DEFAULT(conn_window, DEF_CONN_WINDOW);
  DEFAULT(max_streams, DEF_MAX_STREAMS);
  DEFAULT(send_buffer, DEF_SEND_BUFFER);
#undef DEFAULT
  if (!c->clock) {
    c->clock = ep_loop_clock;
    c->clock_ctx = NULL;
  }
  return 0;
}

static void ep_free(nat_quic_endpoint *ep) {
  nat_quic_identity_free(ep->id);
  free(ep->pins);
  free(ep);
}

static int ep_open_udp(nat_quic_endpoint *ep, const nat_quic_config *cfg) {
  struct sockaddr_storage ss;
  int rv, n;
  if (cfg->udp) {
    ep->udp = cfg->udp;
  } else {
    nat_udp_config ucfg;
    memset(&ucfg, 0, sizeof ucfg);
    ucfg.bind = cfg->bind;
    if ((rv = nat_udp_new(&ep->udp, ep->loop, &ucfg)) < 0)
      return rv;
    ep->own_udp = true;
  }
  if ((rv = nat_udp_local_addr(ep->udp, &ep->local)) < 0)
    return rv;
  n = nat_addr_to_sockaddr(&ep->local, (struct sockaddr *)&ss, sizeof ss);
  if (n < 0)
    return n;
  memcpy(&ep->local_ss, &ss, sizeof ss);
  ep->local_sslen = (ngtcp2_socklen)n;
  return 0;
}

/** Create an endpoint; see quic.h. */
int nat_quic_endpoint_new(nat_quic_endpoint **out, uv_loop_t *loop,
                          const nat_quic_config *cfg) {
  nat_quic_endpoint *ep;
  int rv;
  if (!out || !loop || !cfg || !cfg->identity)
    return NAT_EINVAL;
  *out = NULL;
  if (!cfg->udp && cfg->bind.family != NAT_AF_INET &&
      cfg->bind.family != NAT_AF_INET6)
    return NAT_EINVAL;
  if (!(ep = calloc(1, sizeof *ep)))
    return NAT_ENOMEM;
  ep->loop = loop;
  if ((rv = ep_copy_config(ep, cfg)) < 0) {
    ep_free(ep);
    return rv;
  }
  ep->id = cfg->identity;
  ep->id->refs++;
  if ((rv = ep_open_udp(ep, cfg)) < 0) {
    if (ep->own_udp)
      nat_udp_close(ep->udp, NULL, NULL);
    ep_free(ep);
    return rv;
  }
  uv_timer_init(loop, &ep->handle);
  ep->handle.data = ep;
  nat_udp_set_recv_cb(ep->udp, ep_on_recv, ep);
  *out = ep;
  return 0;
}

/** The endpoint's socket; see quic.h. */
nat_udp *nat_quic_endpoint_udp(nat_quic_endpoint *ep) {
  return ep ? ep->udp : NULL;
}

/** The socket's bound address; see quic.h. */
int nat_quic_endpoint_local_addr(const nat_quic_endpoint *ep, nat_addr *out) {
  if (!ep || !out)
    return NAT_EINVAL;
  return nat_udp_local_addr(ep->udp, out);
}

/** Copy the endpoint's counters; see quic.h. */
void nat_quic_endpoint_stats(const nat_quic_endpoint *ep, nat_quic_stats *out) {
  if (ep && out)
    *out = ep->stats;
}

/** Start a client-role connection; see quic.h. */
int nat_quic_connect(nat_quic_endpoint *ep, const nat_addr *peer,
                     const uint8_t *peer_pin, void *arg, nat_quic_conn **out) {
  if (!ep || !peer)
    return NAT_EINVAL;
  if (ep->closing)
    return NAT_ECLOSING;
  if (peer->family != ep->local.family)
    return NAT_EBADFAMILY;
  if (!peer_pin && ep->cfg.n_peer_pins == 0 && !ep->cfg.verify_pin)
    return NAT_EINVAL;
  return nat__quic_conn_client(ep, peer, peer_pin, arg, out);
}

/** The earliest deadline of the endpoint's connections; see quic.h. */
nat_tstamp nat_quic_endpoint_get_expiry(const nat_quic_endpoint *ep) {
  nat_tstamp t = NAT_TSTAMP_MAX;
  if (!ep || ep->closing)
    return t;
  for (const nat_quic_conn *c = ep->conns; c; c = c->next)
    if (c->state != NAT__QUIC_DEAD && c->expiry < t)
      t = c->expiry;
  return t;
}

/** Run the connections' timers that are due; see quic.h. Connections are
 * unlinked only from their close callbacks, so the list stays walkable
 * whatever the callbacks run from here do. */
void nat_quic_endpoint_handle_expiry(nat_quic_endpoint *ep) {
  nat_tstamp now;
  if (!ep || ep->closing)
    return;
  now = nat__quic_now(ep);
  for (nat_quic_conn *c = ep->conns; c && !ep->closing; c = c->next)
    if (c->state != NAT__QUIC_DEAD && c->expiry <= now)
      nat__quic_conn_handle_expiry(c, now);
}

static void ep_done(nat_quic_endpoint *ep) {
  if (ep->close_cb)
    ep->close_cb(ep, ep->close_arg);
  ep_free(ep);
}

static void ep_on_udp_closed(nat_udp *u, void *arg) {
  (void)u;
  ep_done(arg);
}

static void ep_on_handle_closed(uv_handle_t *h) {
  nat_quic_endpoint *ep = h->data;
  if (ep->own_udp)
    nat_udp_close(ep->udp, ep_on_udp_closed, ep);
  else
    ep_done(ep);
}

/* Called from a connection's final close callback (the counters were
 * updated by quic_conn.c). */
void nat__quic_ep_conn_gone(nat_quic_endpoint *ep, nat_quic_conn *c) {
  if (c->prev)
    c->prev->next = c->next;
  else
    ep->conns = c->next;
  if (c->next)
    c->next->prev = c->prev;
  if (ep->closing && !ep->conns)
    uv_close((uv_handle_t *)&ep->handle, ep_on_handle_closed);
}

/** Close the endpoint and its connections; see quic.h. */
void nat_quic_endpoint_close(nat_quic_endpoint *ep, nat_quic_close_cb cb,
                             void *arg) {
  if (!ep || ep->closing)
    return;
  ep->closing = true;
  ep->close_cb = cb;
  ep->close_arg = arg;
  nat_udp_set_recv_cb(ep->udp, NULL, NULL);
  for (nat_quic_conn *c = ep->conns; c; c = c->next)
    nat__quic_conn_abort(c, NAT_ECANCELED, true);
  if (!ep->conns)
    uv_close((uv_handle_t *)&ep->handle, ep_on_handle_closed);
}
