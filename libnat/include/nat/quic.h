/* libnat -- the QUIC punch endpoint: one UDP socket (a nat_udp) carrying
 * STUN transactions and any number of QUIC v1 connections (RFC 9000,
 * RFC 9001) in both roles, authenticated both ways by SHA-256 certificate
 * pins instead of a CA (mutual TLS 1.3, self-signed ECDSA P-256).
 *
 * Demultiplexing (QUIC greases the fixed bit, so the first byte alone does
 * not tell STUN from QUIC): a datagram is STUN only if nat_stun_is_stun()
 * holds (top two bits 00, magic cookie, exact length); responses to the
 * socket's own live transactions are consumed by the nat_udp. Every other
 * STUN message goes to on_stun: requests and indications, and responses
 * the nat_udp did not match (answers to transactions run elsewhere on the
 * socket, such as connectivity checks; see udp.h), with the view the
 * nat_udp decoded (a datagram is decoded once). Everything else is QUIC:
 * routed by Destination Connection ID (short header: the DCID of length
 * NAT_QUIC_CID_LEN, which this endpoint chooses for all its connections;
 * long header: the DCID field) to a connection, and new Initial packets to
 * a new server-role connection when the endpoint accepts. QUIC greases the
 * fixed bit (RFC 9287), so short headers may start with 0x00-0x3F: the
 * first-byte rule of RFC 7983 is not used.
 *
 * Packets nobody owns: a QUIC packet whose DCID belongs to no connection
 * (a short header, or a long header that is not a new Initial we accept) is
 * dropped and counted (unknown_cid): late packets of a connection freed
 * after its closing period, junk, and stateless resets (RFC 9000 section
 * 10.3; their DCID is random). This endpoint sends no stateless reset and
 * acts on none: a connection whose peer lost its state ends by its idle
 * timeout. A long header of a version ngtcp2 does not speak is answered
 * with Version Negotiation (listing QUIC v1) if the endpoint accepts and
 * the datagram has a client Initial's size (1200 bytes or more), and is
 * dropped otherwise (counted in undecodable).
 *
 * Ending (RFC 9000 section 10): on_closed runs as soon as a connection's
 * outcome is known; its state stays inside the endpoint a little longer.
 * A connection we close (nat_quic_conn_close(), a refused handshake, a
 * protocol error) sends CONNECTION_CLOSE and stays in the closing period:
 * packets that still arrive from the peer are answered with the same
 * CONNECTION_CLOSE, rate-limited (the 1st, 2nd, 4th, 8th... packet). A
 * connection the peer closed stays in the draining period, sending
 * nothing. Both last three times the PTO, and at least 2 s (twice the
 * first PTO of a peer without an RTT sample, about 1 s: its first probe
 * still gets an answer); only the CIDs and that one datagram are kept. An
 * idle timeout or handshake timeout frees the state at once, silently; so
 * does nat_quic_endpoint_close().
 *
 * Refusals: a handshake we refuse (pin mismatch, no common ALPN, a
 * ClientHello without QUIC transport parameters -- missing_extension,
 * 0x16d --, another TLS failure) sends CONNECTION_CLOSE with the TLS alert as a
 * crypto error (0x100 + alert, e.g. 0x12a for bad_certificate) and a reason
 * phrase, so that the peer fails at once with NAT_EPEERPIN, NAT_EALPN or
 * NAT_ETLS instead of waiting for its handshake or idle timeout.
 *
 * Paths: each received datagram is given to the connection with its real
 * source address, and each packet goes where the connection's current path
 * says. A server-role connection's remote address is the source of the
 * client's Initial (a NAT-translated address as seen by us) and follows the
 * peer's NAT rebinding after path validation (RFC 9000 section 9).
 *
 * Authentication: the client is given the server's pin and the server the
 * client's (or a list of pins, or a callback): the server requires a client
 * certificate. Pins are SHA-256 over the DER certificate, compared in
 * constant time. ALPN is mandatory on both sides.
 *
 * Events: a connection is "connected" when the handshake is confirmed
 * (RFC 9001 section 4.1.2): for a client, that is when the server has
 * accepted its certificate; the handshake merely completing is not enough.
 *
 * Callback rule: when a call that takes a callback fails at once, the
 * callback is never called. Callbacks run on the loop's thread. Inside
 * on_stream_data, on_writable and on_connected the connection may be used
 * (write, open, consume, close); the work that sends is deferred until the
 * received packet has been processed.
 *
 * In the tree: libnat/src/quic/ (this header is its main one): the endpoint
 * and its demultiplexing (quic_endpoint.c), opening and running connections
 * (quic_open.c, quic_conn.c), streams (quic_stream.c), per-connection TLS
 * and pins (quic_tls.c), identities (quic_identity.c). A driver folder over
 * io/'s nat_udp; the only files that call ngtcp2 and GnuTLS.
 */
#ifndef NAT_QUIC_H
#define NAT_QUIC_H

#include <stdbool.h>
#include <uv.h>

#include "nat/addr.h"
#include "nat/common.h"
#include "nat/udp.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Length of a certificate pin: SHA-256 over the DER certificate. */
#define NAT_QUIC_PIN_LEN 32
/** Buffer size for nat_quic_pin_to_hex(): 64 hex digits and a NUL. */
#define NAT_QUIC_PIN_HEX_LEN 65
/** Buffer size for nat_quic_pin_to_base64(): 44 characters and a NUL. */
#define NAT_QUIC_PIN_B64_LEN 45
/** The ALPN protocol used when the configuration gives none. */
#define NAT_QUIC_DEFAULT_ALPN "natpunch"
/** Length of the connection IDs this endpoint issues (short-header DCIDs). */
#define NAT_QUIC_CID_LEN 16
/** Longest close reason kept (longer ones are cut). */
#define NAT_QUIC_REASON_MAX 256

typedef struct nat_quic_identity nat_quic_identity;
typedef struct nat_quic_endpoint nat_quic_endpoint;
typedef struct nat_quic_conn nat_quic_conn;

/* ------------------------------------------------------------ identity */

/** Make a fresh identity: an ECDSA P-256 key and a self-signed X.509 v3
 * certificate (valid from one hour ago for 30 days) with CN @p common_name
 * (NULL: "libnat"). The caller owns one reference.
 * @return 0, NAT_EINVAL, NAT_ENOMEM, NAT_ECRYPTO. */
NAT_EXTERN int nat_quic_identity_new(nat_quic_identity **out,
                                     const char *common_name);

/** Load an identity from PEM files: @p cert_path (the first certificate is
 * used) and @p key_path (an unencrypted private key matching it).
 * @return 0, NAT_EINVAL, NAT_ENOMEM, NAT_ENOTFOUND (a file cannot be read),
 *         NAT_ECRYPTO (not PEM, or the key does not match). */
NAT_EXTERN int nat_quic_identity_load(nat_quic_identity **out,
                                      const char *cert_path,
                                      const char *key_path);

/** Write the identity as PEM: the certificate to @p cert_path and the
 * private key (PKCS#8, unencrypted, file mode 0600) to @p key_path.
 * @return 0, NAT_EINVAL, NAT_ECRYPTO, or a UV_E* code (negative errno) when
 *         a file cannot be written. */
NAT_EXTERN int nat_quic_identity_save(const nat_quic_identity *id,
                                      const char *cert_path,
                                      const char *key_path);

/** Copy the identity's pin (SHA-256 of its DER certificate) to @p pin. */
NAT_EXTERN void nat_quic_identity_pin(const nat_quic_identity *id,
                                      uint8_t pin[NAT_QUIC_PIN_LEN]);

/** Drop the caller's reference. Endpoints keep their own reference, so an
 * identity may be freed while endpoints that use it are open. NULL is a
 * no-op. */
NAT_EXTERN void nat_quic_identity_free(nat_quic_identity *id);

/** Write @p pin as 64 lowercase hex digits and a NUL into @p buf.
 * @return 0, or NAT_ENOBUFS if @p len < NAT_QUIC_PIN_HEX_LEN. */
NAT_EXTERN int nat_quic_pin_to_hex(const uint8_t pin[NAT_QUIC_PIN_LEN],
                                   char *buf, size_t len);

/** Write @p pin as standard base64 (44 characters with padding) and a NUL.
 * @return 0, or NAT_ENOBUFS if @p len < NAT_QUIC_PIN_B64_LEN. */
NAT_EXTERN int nat_quic_pin_to_base64(const uint8_t pin[NAT_QUIC_PIN_LEN],
                                      char *buf, size_t len);

/** Parse a pin: 64 hex digits (either case, optionally in pairs separated
 * by ':'), or 43/44 characters of base64 (standard or URL-safe alphabet),
 * either optionally prefixed with "sha256:" or "sha256/".
 * @return 0, NAT_EINVAL (NULL), NAT_EBADATTR (not a pin in any of those
 *         forms). */
NAT_EXTERN int nat_quic_pin_parse(uint8_t pin[NAT_QUIC_PIN_LEN], const char *s);

/** Compare two pins in constant time. */
NAT_EXTERN bool nat_quic_pin_equal(const uint8_t a[NAT_QUIC_PIN_LEN],
                                   const uint8_t b[NAT_QUIC_PIN_LEN]);

/* ---------------------------------------------------------------- events */

/** Why a connection ended (see on_closed). */
typedef struct nat_quic_close_info {
  /** 0: closed with an application code by either side (see by_peer), or
   * by the peer with transport NO_ERROR (or APPLICATION_ERROR: the peer's
   * application closed during the handshake, RFC 9000 section 10.2.3).
   * NAT_EIDLE: idle timeout. NAT_ETIMEDOUT: handshake timeout.
   * NAT_EPIN: we refused the peer's certificate (pin mismatch); the peer
   *   was sent code 0x12a (bad_certificate).
   * NAT_EPEERPIN: by_peer, the peer refused our certificate (its
   *   bad_certificate alert, code 0x12a): it holds another pin for us.
   * NAT_EALPN: no common ALPN (found by us, or the peer's
   *   no_application_protocol alert, code 0x178).
   * NAT_ETLS: another TLS failure; with by_peer, the peer's TLS stack
   *   refused the handshake (its alert is in code, 0x100 + alert).
   * NAT_EQUIC: a QUIC protocol error (code is the transport error), or
   *   (by_peer, code 0) the peer speaks no QUIC version we speak.
   * NAT_ECANCELED: the endpoint was closed. */
  int error;
  bool by_peer; /**< the peer sent CONNECTION_CLOSE */
  bool app;     /**< code is an application error code, else transport */
  uint64_t code;
  const char *reason; /**< NUL-terminated; valid during the callback */
  size_t reason_len;
} nat_quic_close_info;

/** Decides whether a peer certificate with SHA-256 @p pin is accepted
 * (true) or refused (false). Called from inside the TLS handshake: it must
 * not close the connection or the endpoint. */
typedef bool (*nat_quic_pin_cb)(nat_quic_conn *c, void *arg,
                                const uint8_t pin[NAT_QUIC_PIN_LEN]);

/** Event callbacks; any may be NULL. @p arg of connection events is the
 * connection's argument (nat_quic_conn_set_arg(); the endpoint's arg until
 * set). */
typedef struct nat_quic_callbacks {
  /** A new incoming connection (server role), before its handshake.
   * Set its peer pin or argument here. Return 0 to go on, or a negative
   * value to refuse it: it is then dropped silently (no on_closed). */
  int (*on_accept)(nat_quic_endpoint *ep, void *ep_arg, nat_quic_conn *c);
  /** The handshake is confirmed: the peer authenticated us and we it. */
  void (*on_connected)(nat_quic_conn *c, void *arg);
  /** Stream data in order; @p data is valid during the call. @p fin: the
   * peer finished the stream (len may then be 0). */
  void (*on_stream_data)(nat_quic_conn *c, void *arg, int64_t sid,
                         const uint8_t *data, size_t len, bool fin);
  /** Send-buffer space came free on @p sid after a short write. */
  void (*on_writable)(nat_quic_conn *c, void *arg, int64_t sid);
  /** The connection ended; @p c must not be used after this returns (the
   * endpoint may keep its state for the closing or draining period, see
   * the top of this file, and frees it then). Called once for every
   * connection on which on_accept did not refuse (and for every
   * nat_quic_connect() that succeeded), never from inside an API call. */
  void (*on_closed)(nat_quic_conn *c, void *arg,
                    const nat_quic_close_info *info);
  /** A STUN message arrived on the socket that the nat_udp did not
   * consume: a request or indication (for example a connectivity check to
   * answer with nat_udp_send()), or a response that matched none of the
   * nat_udp's transactions (for example the answer to a check sent with
   * nat_udp_send()). @p msg is the nat_udp's decoded view of @p buf
   * (nat_check_recv_msg() takes it), NULL if it did not decode. @p buf
   * and @p msg (which points into the socket's receive buffer) are valid
   * during the call only. */
  void (*on_stun)(nat_quic_endpoint *ep, void *ep_arg, const nat_addr *from,
                  const uint8_t *buf, size_t len, const nat_stun_msg *msg);
} nat_quic_callbacks;

/** Endpoint configuration, copied by nat_quic_endpoint_new(). Zero fields
 * take the defaults shown. */
typedef struct nat_quic_config {
  /** Borrow this socket (it must outlive the endpoint; the endpoint takes
   * its receive callback and gives it back, as NULL, on close). NULL: the
   * endpoint opens its own, bound to @p bind, and closes it. */
  nat_udp *udp;
  nat_addr bind;
  /** Our certificate and key (required); the endpoint takes a reference. */
  nat_quic_identity *identity;
  /** ALPN protocol, 1-255 bytes; NULL: NAT_QUIC_DEFAULT_ALPN. Copied. */
  const char *alpn;
  /** Accept incoming connections (server role). */
  bool accept;
  /** Pins accepted from peers of connections that have no pin of their own
   * (copied). Checked before @p verify_pin. */
  const uint8_t (*peer_pins)[NAT_QUIC_PIN_LEN];
  size_t n_peer_pins;
  /** Called for peers of connections with neither their own pin nor a match
   * in @p peer_pins. With none of the three, every peer is refused. */
  nat_quic_pin_cb verify_pin;
  void *verify_arg;
  nat_tstamp handshake_timeout; /**< 10 s */
  nat_tstamp idle_timeout;      /**< 30 s (the smaller of both sides wins) */
  nat_tstamp keep_alive;        /**< PING after this much quiet; 0: off */
  uint64_t stream_window;       /**< receive window per stream: 256 KiB */
  uint64_t conn_window;         /**< receive window per connection: 1 MiB */
  uint64_t max_streams;         /**< bidi streams the peer may open: 100 */
  size_t send_buffer; /**< unacknowledged bytes kept per stream: 256 KiB */
  /** Give flow-control credit back only through nat_quic_stream_consume()
   * (backpressure on the peer). false: credit is returned as data is
   * delivered. */
  bool manual_consume;
  nat_quic_callbacks cb;
  void *arg;
  /** The endpoint's clock: every QUIC timestamp and deadline (ngtcp2's
   * loss detection, ACK delay, pacing, idle, handshake and keep-alive
   * timers, the closing and draining periods) and the times of
   * nat_quic_conn_info are read from it. NULL: nat_udp_now(), the loop's
   * clock. The endpoint's libuv timers wait for its deadlines as measured
   * on it; a caller that moves a clock of its own forward (a fake clock in
   * tests) calls nat_quic_endpoint_handle_expiry() after each move. */
  nat_clock_fn clock;
  void *clock_ctx;
} nat_quic_config;

/** Counters of the endpoint's demultiplexer. */
typedef struct nat_quic_stats {
  uint64_t datagrams_in; /**< datagrams given to the endpoint by the udp */
  uint64_t stun_in;      /**< STUN messages given to on_stun */
  /** datagrams given to a connection (in its closing or draining period
   * too) */
  uint64_t quic_in;
  uint64_t fixed_bit_clear; /**< of those, how many had the fixed bit 0 */
  /** neither STUN nor a QUIC header we read (including long headers of
   * other versions not answered with Version Negotiation): dropped */
  uint64_t undecodable;
  /** QUIC packets for no connection (late packets of one freed after its
   * closing period, stateless resets, Initials while not accepting or
   * refused): dropped */
  uint64_t unknown_cid;
  uint64_t accepted; /**< server-role connections created */
  uint64_t conns;    /**< connections alive now (on_closed not yet run) */
  /** connections that ended and are in their closing or draining period */
  uint64_t closing;
  /** packets that reached a connection in its closing or draining period */
  uint64_t late_in;
  /** of those, how many were answered with our CONNECTION_CLOSE again */
  uint64_t close_resent;
  /** connections that received the peer's CONNECTION_CLOSE (draining) */
  uint64_t peer_closes;
  /** Version Negotiation packets sent */
  uint64_t version_negotiation;
} nat_quic_stats;

typedef void (*nat_quic_close_cb)(nat_quic_endpoint *ep, void *arg);

/** Create an endpoint on @p loop. @p cfg is copied.
 * @return 0, NAT_EINVAL (no identity, bad ALPN, neither udp nor a bind
 *         address), NAT_ENOMEM, or nat_udp_new()'s errors (then, as there,
 *         run the loop once more before uv_loop_close()). */
NAT_EXTERN int nat_quic_endpoint_new(nat_quic_endpoint **out, uv_loop_t *loop,
                                     const nat_quic_config *cfg);

/** The socket, for STUN transactions (nat_udp_binding) and for answering
 * connectivity checks. Owned by the endpoint unless it was borrowed. */
NAT_EXTERN nat_udp *nat_quic_endpoint_udp(nat_quic_endpoint *ep);

/** The socket's bound address. @return 0 or nat_udp_local_addr()'s. */
NAT_EXTERN int nat_quic_endpoint_local_addr(const nat_quic_endpoint *ep,
                                            nat_addr *out);

/** Copy the endpoint's counters. */
NAT_EXTERN void nat_quic_endpoint_stats(const nat_quic_endpoint *ep,
                                        nat_quic_stats *out);

/** The endpoint's next deadline on its clock (the earliest of its
 * connections' timers, the end of a closing or draining period included),
 * or NAT_TSTAMP_MAX when nothing is due (or @p ep is NULL or closing). */
NAT_EXTERN nat_tstamp nat_quic_endpoint_get_expiry(const nat_quic_endpoint *ep);

/** Run what is due at the endpoint clock's current time: the timers of
 * every connection whose deadline has come (retransmissions, ACKs, PINGs,
 * idle and handshake timeouts, the end of a closing or draining period),
 * and send what they produce. Connection callbacks may run from inside
 * this call (on_connected, on_writable; on_closed still runs from the
 * loop). The endpoint does this by itself from its libuv timers: only a
 * caller with a clock of its own (nat_quic_config.clock) needs to call it,
 * after moving that clock forward. Does nothing on a NULL or closing
 * endpoint. */
NAT_EXTERN void nat_quic_endpoint_handle_expiry(nat_quic_endpoint *ep);

/** Close: every live connection sends CONNECTION_CLOSE (application code 0,
 * reason "endpoint closed") and ends with NAT_ECANCELED (on_closed runs),
 * connections in their closing or draining period are freed without
 * waiting for its end (nothing could answer late packets once the socket
 * is gone), then the socket closes (if owned) and @p cb runs; @p ep is
 * freed after it returns. A second call does nothing. */
NAT_EXTERN void nat_quic_endpoint_close(nat_quic_endpoint *ep,
                                        nat_quic_close_cb cb, void *arg);

/* ----------------------------------------------------------- connections */

/** Start a client-role connection to @p peer (the address its datagrams
 * are to reach, e.g. a NAT mapping). @p peer_pin: the server's expected pin
 * (copied); NULL falls back to the endpoint's peer_pins / verify_pin.
 * @p arg becomes the connection's argument. On success *out (if not NULL)
 * is the connection, and on_closed will be called once for it.
 * @return 0, NAT_EINVAL (no pin source, bad address), NAT_EBADFAMILY,
 *         NAT_ECLOSING, NAT_ENOMEM, NAT_ECRYPTO, NAT_EQUIC. */
NAT_EXTERN int nat_quic_connect(nat_quic_endpoint *ep, const nat_addr *peer,
                                const uint8_t *peer_pin, void *arg,
                                nat_quic_conn **out);

/** Set the pin expected from the peer of @p c (useful in on_accept).
 * @return 0, NAT_EINVAL, NAT_EBUSY (the peer was already checked). */
NAT_EXTERN int nat_quic_conn_set_peer_pin(nat_quic_conn *c,
                                          const uint8_t pin[NAT_QUIC_PIN_LEN]);

/** Set / get the argument given to @p c's callbacks. */
NAT_EXTERN void nat_quic_conn_set_arg(nat_quic_conn *c, void *arg);
NAT_EXTERN void *nat_quic_conn_get_arg(const nat_quic_conn *c);

/** Facts about a connection. Times are read from the endpoint's clock
 * (nat_udp_now() unless nat_quic_config.clock is set); 0: not yet. */
typedef struct nat_quic_conn_info {
  bool server;       /**< server role (accepted) */
  bool connected;    /**< handshake confirmed */
  nat_addr remote;   /**< current remote address of the path */
  bool has_peer_pin; /**< the peer's certificate has been seen */
  uint8_t peer_pin[NAT_QUIC_PIN_LEN];
  nat_tstamp t_start;     /**< created */
  nat_tstamp t_completed; /**< TLS handshake completed here */
  nat_tstamp t_confirmed; /**< handshake confirmed (on_connected) */
} nat_quic_conn_info;

/** @return 0 or NAT_EINVAL. */
NAT_EXTERN int nat_quic_conn_get_info(const nat_quic_conn *c,
                                      nat_quic_conn_info *out);

/** Close with an application error @p app_code and @p reason (NULL: "";
 * cut to NAT_QUIC_REASON_MAX bytes): sends CONNECTION_CLOSE (RFC 9000
 * section 10.2; during the handshake the peer sees the transport error
 * APPLICATION_ERROR instead of the code, section 10.2.3); on_closed runs
 * later from the loop with error 0, by_peer false. The connection then
 * stays in the closing period (see the top of this file). The peer's
 * on_closed gets error 0, by_peer, app, @p app_code and @p reason.
 * @return 0, NAT_EINVAL, NAT_ECLOSING (already ending). */
NAT_EXTERN int nat_quic_conn_close(nat_quic_conn *c, uint64_t app_code,
                                   const char *reason);

/* --------------------------------------------------------------- streams */

/** Open a bidirectional stream; its ID goes to @p sid.
 * @return 0, NAT_EINVAL, NAT_ECLOSING, NAT_EAGAIN (not connected yet, or the
 *         peer's stream limit is reached), NAT_ENOMEM. */
NAT_EXTERN int nat_quic_stream_open(nat_quic_conn *c, int64_t *sid);

/** Queue @p len bytes (copied; kept until the peer acknowledges them) and,
 * if @p fin and all of them fit, the end of the stream. Accepts at most the
 * free room of the stream's send buffer; after a short write, on_writable
 * runs when room comes free. Data is sent as flow and congestion control
 * allow.
 * @return the bytes accepted (0..len), or NAT_EINVAL (unknown stream, a
 *         receive-only stream), NAT_ECLOSING (connection ending, or the
 *         stream was finished or reset), NAT_ENOMEM. */
NAT_EXTERN ssize_t nat_quic_stream_write(nat_quic_conn *c, int64_t sid,
                                         const uint8_t *data, size_t len,
                                         bool fin);

/** With manual_consume: give @p n bytes of flow-control credit back to the
 * peer on @p sid (and on the connection): the application has processed
 * them. @return 0, NAT_EINVAL, NAT_ECLOSING. */
NAT_EXTERN int nat_quic_stream_consume(nat_quic_conn *c, int64_t sid, size_t n);

/** Bytes written to @p sid but not yet acknowledged by the peer (0 for an
 * unknown stream). */
NAT_EXTERN size_t nat_quic_stream_unacked(const nat_quic_conn *c, int64_t sid);

#ifdef __cplusplus
}
#endif
#endif
