/* Private to the QUIC files (quic_*.c): the only place, with them, that
 * names ngtcp2 and GnuTLS types. Split by concern:
 *   quic_endpoint.c  the socket, demultiplexing, CID table, endpoint close
 *   quic_open.c      a new connection in either role: ngtcp2 callbacks,
 *                    settings, the handshake's events
 *   quic_conn.c      one running connection: read, write, timer, end
 *   quic_stream.c    stream send buffers, stream callbacks, stream API
 *   quic_tls.c       a connection's GnuTLS session: ALPN, pin verification
 *   quic_identity.c  key, self-signed certificate, pins (uses no other)
 * Calls between these files go down the list, but for two cycles that the
 * protocol makes: the endpoint makes connections and routes datagrams to
 * them (quic_open.c, quic_conn.c), and a connection registers its CIDs with
 * and sends through its endpoint; a connection's writer drains its
 * streams, and a stream write wakes the writer. */
#ifndef NAT_QUIC_INTERNAL_H
#define NAT_QUIC_INTERNAL_H

#include <sys/socket.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <ngtcp2/ngtcp2.h>
#include <ngtcp2/ngtcp2_crypto.h>

#include "nat/quic.h"

/* Largest UDP payload we write (ngtcp2 0.12's default maximum). */
#define NAT__QUIC_MAX_PKT 1452
/* Send-buffer chunk: bytes never move once written, because ngtcp2 keeps
 * pointers to unacknowledged stream data. */
#define NAT__QUIC_CHUNK       16384
#define NAT__QUIC_CID_BUCKETS 256

struct nat_quic_identity {
  int refs;
  gnutls_x509_privkey_t key;
  gnutls_x509_crt_t crt;
  gnutls_certificate_credentials_t cred;
  uint8_t pin[NAT_QUIC_PIN_LEN];
};

typedef struct nat__quic_chunk {
  struct nat__quic_chunk *next;
  size_t len; /* bytes filled */
  uint8_t data[NAT__QUIC_CHUNK];
} nat__quic_chunk;

typedef struct nat__quic_stream {
  struct nat__quic_stream *next;
  int64_t id;
  nat__quic_chunk *head, *tail;
  uint64_t head_off;    /* stream offset of head->data[0] */
  uint64_t acked;       /* contiguous acknowledged offset */
  uint64_t sent;        /* offset handed to ngtcp2 */
  uint64_t total;       /* offset written by the application */
  nat__quic_chunk *cur; /* chunk holding offset `sent` */
  uint64_t cur_off;     /* stream offset of cur->data[0] */
  bool fin_queued, fin_sent;
  bool blocked;       /* stream flow control: wait for MAX_STREAM_DATA */
  bool shut_wr;       /* cannot send any more */
  bool want_writable; /* a write was short */
  bool writable_due;  /* deliver on_writable after the packet */
  bool closed;        /* ngtcp2 closed it: forget after delivery */
} nat__quic_stream;

typedef struct nat__quic_cid {
  struct nat__quic_cid *next;      /* bucket chain */
  struct nat__quic_cid *conn_next; /* the connection's list */
  nat_quic_conn *conn;
  uint8_t len;
  uint8_t data[NGTCP2_MAX_CIDLEN];
} nat__quic_cid;

/* A connection's life. CLOSING and DRAINING are the periods of RFC 9000
 * section 10.2: the connection has ended for the application (on_closed
 * runs at once) but its CIDs stay routed to it for three PTOs, at least
 * 2 s (conn_linger() in quic_conn.c); then it is freed. */
typedef enum nat__quic_state {
  NAT__QUIC_HANDSHAKE,
  NAT__QUIC_OPEN,
  NAT__QUIC_CLOSING,  /* we sent CONNECTION_CLOSE: late packets get it again */
  NAT__QUIC_DRAINING, /* the peer closed: late packets get nothing */
  NAT__QUIC_DEAD      /* waiting for the timer's close callback */
} nat__quic_state;

/* Ended for the application: no more API use, no more ngtcp2 calls. */
#define NAT__QUIC_ENDED(c) ((c)->state >= NAT__QUIC_CLOSING)

struct nat_quic_conn {
  nat_quic_endpoint *ep;
  nat_quic_conn *prev, *next;
  void *arg;
  bool server;
  nat__quic_state state;
  ngtcp2_conn *conn;
  gnutls_session_t tls;
  ngtcp2_crypto_conn_ref ref; /* gnutls_session_get_ptr() points here */
  uv_timer_t timer;
  nat_addr remote;
  nat__quic_cid *cids;
  /* pinning */
  bool has_pin, pin_seen, pin_failed, alpn_failed;
  uint8_t pin[NAT_QUIC_PIN_LEN];
  uint8_t peer_pin[NAT_QUIC_PIN_LEN];
  /* deferred work (set inside ngtcp2 callbacks or user callbacks) */
  int in_ngtcp2;
  bool confirmed_due, close_due, silent;
  uint64_t close_code;
  char close_reason[NAT_QUIC_REASON_MAX + 1];
  size_t close_reason_len;
  nat__quic_stream *streams;
  /* how it ended */
  nat_quic_close_info info;
  char info_reason[NAT_QUIC_REASON_MAX + 1];
  bool live;     /* counted in stats.conns */
  bool lingers;  /* counted in stats.closing */
  bool reported; /* on_closed has run */
  /* closing period: the datagram carrying our CONNECTION_CLOSE, sent again
   * in answer to the 1st, 2nd, 4th, 8th... late packet */
  uint8_t *close_pkt;
  size_t close_pkt_len;
  nat_addr close_dst;
  uint64_t late_in;
  /* when the timer is due on the endpoint's clock (NAT_TSTAMP_MAX: not
   * armed): ngtcp2's expiry, or the end of the closing / draining period */
  nat_tstamp expiry;
  nat_tstamp t_start, t_completed, t_confirmed;
  uint8_t txbuf[NAT__QUIC_MAX_PKT];
};

struct nat_quic_endpoint {
  uv_loop_t *loop;
  nat_udp *udp;
  bool own_udp;
  nat_quic_identity *id;
  nat_quic_config cfg; /* alpn and peer_pins point into this object */
  char alpn[256];
  uint8_t (*pins)[NAT_QUIC_PIN_LEN];
  nat_addr local;
  struct sockaddr_storage local_ss;
  ngtcp2_socklen local_sslen;
  nat_quic_conn *conns;
  nat__quic_cid *buckets[NAT__QUIC_CID_BUCKETS];
  nat_quic_stats stats;
  uv_timer_t handle; /* only so that closing is always asynchronous */
  bool closing;
  nat_quic_close_cb close_cb;
  void *close_arg;
};

/* The endpoint's clock (nat_quic_config.clock, nat_udp_now() by default). */
static inline nat_tstamp nat__quic_now(const nat_quic_endpoint *ep) {
  return ep->cfg.clock(ep->cfg.clock_ctx);
}

/* quic_tls.c */
int nat__quic_tls_new(nat_quic_conn *c, gnutls_session_t *out);
bool nat__quic_tls_alpn_ok(const nat_quic_conn *c);

/* quic_endpoint.c */
void nat__quic_rand(uint8_t *buf, size_t len);
int nat__quic_cid_add(nat_quic_conn *c, const uint8_t *data, size_t len);
void nat__quic_cid_remove(nat_quic_conn *c, const uint8_t *data, size_t len);
void nat__quic_cid_remove_all(nat_quic_conn *c);
void nat__quic_ep_send(nat_quic_endpoint *ep, const ngtcp2_addr *dst,
                       const uint8_t *buf, size_t len, uint32_t ecn);
void nat__quic_ep_conn_gone(nat_quic_endpoint *ep, nat_quic_conn *c);

/* quic_open.c */
int nat__quic_conn_client(nat_quic_endpoint *ep, const nat_addr *peer,
                          const uint8_t *pin, void *arg, nat_quic_conn **out);
int nat__quic_conn_server(nat_quic_endpoint *ep, const nat_addr *from,
                          const ngtcp2_pkt_hd *hd, nat_quic_conn **out);

/* quic_conn.c */
int nat__quic_conn_path(const nat_quic_conn *c, const nat_addr *remote,
                        struct sockaddr_storage *ss, ngtcp2_path *path);
int nat__quic_conn_discard(nat_quic_conn *c, int rv);
void nat__quic_conn_recv(nat_quic_conn *c, const nat_addr *from,
                         const uint8_t *buf, size_t len);
void nat__quic_conn_write(nat_quic_conn *c);
void nat__quic_conn_abort(nat_quic_conn *c, int error, bool send_close);
void nat__quic_conn_handle_expiry(nat_quic_conn *c, nat_tstamp now);

/* quic_stream.c */
void nat__quic_stream_callbacks(ngtcp2_callbacks *cb);
nat__quic_stream *nat__quic_stream_next_to_send(nat_quic_conn *c);
size_t nat__quic_stream_peek(const nat__quic_stream *s, ngtcp2_vec *v,
                             bool *fin);
void nat__quic_stream_sent(nat__quic_stream *s, size_t n, bool fin);
void nat__quic_stream_deliver_writable(nat_quic_conn *c);
void nat__quic_stream_free_all(nat_quic_conn *c);

#endif
