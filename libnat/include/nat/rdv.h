/* libnat -- the rendezvous of punch: two peers that share a room code meet
 * through a server, learn the address the server sees for them and
 * exchange one sealed blob each (candidates, certificate pin, check
 * credentials: opaque bytes to this module). docs/rendezvous.md is the
 * protocol specification and the security model; this header follows it.
 *
 * Three layers, the first two pure and declared in nat/rdv_codec.h
 * (which includes no libuv), the drivers here:
 * - the message codec and the end-to-end crypto (pure: rdv_msg.c):
 *   room code -> HKDF-SHA256 (RFC 5869) -> join secret, room ID, key K;
 *   blobs sealed with AES-256-GCM under K, bound to the room ID;
 *   length-prefixed TLV messages carried on one QUIC stream;
 * - the room logic (pure, a fake clock in, actions out: rdv_room.c);
 * - drivers over nat_quic (libuv): a client session (rdv_client.c) on a
 *   socket the caller owns, and the server (rdv_server.c) that answers
 *   STUN Binding requests and rendezvous connections on one UDP port.
 *
 * The server never learns the code or K: it sees the room ID, the join
 * secret (which proves membership: room_id = SHA-256(label || join)) and
 * sealed blobs it cannot read or forge. It relays no application data.
 *
 * Callback rule: when a call that takes a callback fails at once, the
 * callback is never called.
 *
 * In the tree: libnat/src/rdv/ (this header is its main one, with
 * rdv_codec.h): the codec and the room logic are pure (rdv_msg.c,
 * rdv_room.c: nat/rdv_codec.h, no libuv); the client and the server
 * (rdv_client.c, rdv_server.c) are drivers over quic/ and io/.
 */
#ifndef NAT_RDV_H
#define NAT_RDV_H

#include <stdbool.h>
#include <uv.h>

#include "nat/addr.h"
#include "nat/common.h"
#include "nat/quic.h"
#include "nat/rdv_codec.h"
#include "nat/udp.h"

#ifdef __cplusplus
extern "C" {
#endif

/* --------------------------------------------------------------- server */

typedef struct nat_rdv_server nat_rdv_server;

/** Server settings, copied by nat_rdv_server_new(). */
typedef struct nat_rdv_server_config {
  nat_addr bind; /**< the one UDP port (required) */
  /** Server identity; NULL: a fresh one (clients then cannot pin it). */
  nat_quic_identity *identity;
  nat_rdv_rooms_config rooms;
  nat_tstamp idle_timeout; /**< QUIC idle timeout: 15 s */
  const char *software;    /**< SOFTWARE of STUN responses; NULL: none */
  /** Each action of kind NAT_RDV_ACT_LOG (and nothing else). */
  nat_rdv_action_fn on_log;
  void *log_arg;
} nat_rdv_server_config;

/** Server counters. */
typedef struct nat_rdv_server_stats {
  nat_rdv_rooms_stats rooms;
  nat_quic_stats quic;
  uint64_t stun_answered, stun_bad;
} nat_rdv_server_stats;

/** Bind and serve: STUN Binding requests get answers (nat_stunsrv), QUIC
 * connections with ALPN NAT_RDV_ALPN are accepted from any client
 * certificate and run the room protocol.
 * @return 0, NAT_EINVAL, NAT_ENOMEM, NAT_ECRYPTO, or nat_udp_new()'s errors
 *         (then run the loop once more before uv_loop_close()). */
NAT_EXTERN int nat_rdv_server_new(nat_rdv_server **out, uv_loop_t *loop,
                                  const nat_rdv_server_config *cfg);

/** The bound address. @return 0 or a UV_E* code. */
NAT_EXTERN int nat_rdv_server_local_addr(const nat_rdv_server *s,
                                         nat_addr *out);

/** The server's certificate pin (what clients may pin). */
NAT_EXTERN void nat_rdv_server_pin(const nat_rdv_server *s,
                                   uint8_t pin[NAT_QUIC_PIN_LEN]);

/** Copy the counters. */
NAT_EXTERN void nat_rdv_server_stats_get(const nat_rdv_server *s,
                                         nat_rdv_server_stats *out);

typedef void (*nat_rdv_server_close_cb)(nat_rdv_server *s, void *arg);

/** Close every connection, the socket and the timer; @p cb runs after the
 * last handle closed, then @p s is freed. */
NAT_EXTERN void nat_rdv_server_close(nat_rdv_server *s,
                                     nat_rdv_server_close_cb cb, void *arg);

/* --------------------------------------------------------------- client */

typedef struct nat_rdv_client nat_rdv_client;

/** Client callbacks; any may be NULL. */
typedef struct nat_rdv_client_callbacks {
  /** The server's SEEN: our address as the server sees it (our
   * server-reflexive candidate). nat_rdv_client_send_blob() may be called
   * from here. */
  void (*on_seen)(nat_rdv_client *c, void *arg, const nat_addr *seen);
  /** The other peer's blob, opened and authenticated (valid during the
   * call). on_done(0) follows. */
  void (*on_peer)(nat_rdv_client *c, void *arg, const uint8_t *blob,
                  size_t len);
  /** The session ended (once): 0 after on_peer; NAT_EROOMSECRET (the
   * peer's blob failed authentication: wrong room secret, or a forgery);
   * NAT_EROOMFULL; NAT_ERDVREFUSED (another ERROR from the server:
   * nat_rdv_client_info() has code and text); NAT_ETIMEDOUT; NAT_ERDVMSG
   * and friends (the server sent garbage); a QUIC error (NAT_EPIN,
   * NAT_ETLS, NAT_EIDLE, NAT_EQUIC, ...). Call nat_rdv_client_close()
   * afterwards (may be from here). */
  void (*on_done)(nat_rdv_client *c, void *arg, int status);
  /** A STUN request or indication arrived on the socket meanwhile (for
   * example the peer's first connectivity check), or a response none of
   * the socket's transactions matched. @p msg is the socket's decoded view
   * of @p buf (nat_check_recv_msg() takes it), NULL if it did not decode.
   * @p buf and @p msg (which points into the socket's receive buffer) are
   * valid during the call only. */
  void (*on_stun)(nat_rdv_client *c, void *arg, const nat_addr *from,
                  const uint8_t *buf, size_t len, const nat_stun_msg *msg);
} nat_rdv_client_callbacks;

/** Client settings, copied by nat_rdv_client_new(). */
typedef struct nat_rdv_client_config {
  /** The caller's socket (required). It is lent to a QUIC endpoint for the
   * session and given back (its receive callback NULL) when the client has
   * closed. */
  nat_udp *udp;
  nat_addr server; /**< the rendezvous' address (required) */
  /** The rendezvous' pin (NAT_QUIC_PIN_LEN bytes); NULL needs
   * @p any_server_pin. */
  const uint8_t *server_pin;
  /** Accept any certificate from the rendezvous (for this connection
   * only). Safe for the blobs, which are sealed end to end under K; it
   * only lets a man in the middle see room IDs and join secrets, and deny
   * service. */
  bool any_server_pin;
  /** Our identity for the rendezvous connection; NULL: a fresh one. */
  nat_quic_identity *identity;
  /** The room code; or, if @p keys is not NULL, the keys (then the code
   * is not used). */
  const char *code;
  const nat_rdv_keys *keys;
  /** Our blob (copied), sent sealed as soon as SEEN arrives; NULL: the
   * caller sends it with nat_rdv_client_send_blob(). */
  const uint8_t *blob;
  size_t blob_len;
  nat_tstamp timeout; /**< the whole session: 30 s */
  nat_rand_fn rand;   /**< nonces; NULL: nat_rand_system */
  void *rand_ctx;
  nat_rdv_client_callbacks cb;
  void *arg;
} nat_rdv_client_config;

/** Facts about the session. Times are nat_udp_now() values; 0: not yet. */
typedef struct nat_rdv_client_info {
  bool has_seen;
  nat_addr seen;       /**< SEEN's address */
  uint16_t error_code; /**< the server's ERROR / close code */
  char error_text[NAT_RDV_MAX_TEXT + 1];
  nat_tstamp t_start, t_connected, t_hello, t_seen, t_blob, t_peer;
} nat_rdv_client_info;

/** Start a session: derive the keys, connect to the server, send HELLO.
 * @return 0; NAT_EINVAL (no socket, server, code or keys; a code
 *         nat_rdv_keys_derive() refuses; neither a pin nor any_server_pin;
 *         a blob over NAT_RDV_MAX_BLOB); NAT_ENOMEM; NAT_ECRYPTO; the
 *         errors of nat_quic_endpoint_new() and nat_quic_connect(). */
NAT_EXTERN int nat_rdv_client_new(nat_rdv_client **out, uv_loop_t *loop,
                                  const nat_rdv_client_config *cfg);

/** Send our blob (copied, sealed). Valid once SEEN has arrived.
 * @return 0; NAT_EAGAIN (before SEEN); NAT_EBUSY (already sent);
 *         NAT_EINVAL (over NAT_RDV_MAX_BLOB, empty); NAT_ECLOSING (the
 *         session has ended); NAT_ECRYPTO. */
NAT_EXTERN int nat_rdv_client_send_blob(nat_rdv_client *c, const uint8_t *blob,
                                        size_t len);

/** Copy what is known about the session. */
NAT_EXTERN void nat_rdv_client_info_get(const nat_rdv_client *c,
                                        nat_rdv_client_info *out);

typedef void (*nat_rdv_client_close_cb)(nat_rdv_client *c, void *arg);

/** End the session (on_done(NAT_ECANCELED) first if it had not ended),
 * close the QUIC endpoint (the socket is given back, not closed), then
 * @p cb; @p c is freed after it returns. A second call does nothing. */
NAT_EXTERN void nat_rdv_client_close(nat_rdv_client *c,
                                     nat_rdv_client_close_cb cb, void *arg);

#ifdef __cplusplus
}
#endif
#endif
