/* libnat -- the rendezvous of punch: two peers that share a room code meet
 * through a server, learn the address the server sees for them and
 * exchange one sealed blob each (candidates, certificate pin, check
 * credentials: opaque bytes to this module). docs/rendezvous.md is the
 * protocol specification and the security model; this header follows it.
 *
 * Three layers:
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
 * callback is never called. */
#ifndef NAT_RDV_H
#define NAT_RDV_H

#include <stdbool.h>
#include <uv.h>

#include "nat/addr.h"
#include "nat/common.h"
#include "nat/quic.h"
#include "nat/udp.h"

#ifdef __cplusplus
extern "C" {
#endif

/** The ALPN protocol of rendezvous connections (also the protocol
 * version: a future incompatible version takes another ALPN). */
#define NAT_RDV_ALPN "natpunch-rdv"
/** Bytes of a room ID (sent to the server, logged as its first 4 bytes). */
#define NAT_RDV_ROOM_ID_LEN 16
/** Bytes of the join secret (proof of room membership). */
#define NAT_RDV_JOIN_LEN 32
/** Bytes of the end-to-end key K (AES-256-GCM). */
#define NAT_RDV_KEY_LEN 32
/** Nonce bytes in a sealed blob (AES-GCM IV). */
#define NAT_RDV_NONCE_LEN 12
/** Longest plaintext blob a peer may send. */
#define NAT_RDV_MAX_BLOB 1024
/** Sealed blob overhead: version byte, nonce, GCM tag. */
#define NAT_RDV_SEAL_OVERHEAD (1 + NAT_RDV_NONCE_LEN + 16)
/** Longest sealed blob. */
#define NAT_RDV_MAX_SEALED (NAT_RDV_MAX_BLOB + NAT_RDV_SEAL_OVERHEAD)
/** Longest ERROR text. */
#define NAT_RDV_MAX_TEXT 128
/** Longest message on the wire, length prefix included. */
#define NAT_RDV_MAX_MSG 1200
/** Shortest and longest room code after normalisation. */
#define NAT_RDV_CODE_MIN 8
#define NAT_RDV_CODE_MAX 128
/** Buffer size for nat_rdv_code_new(): "xxxxx-xxxxx" and a NUL. */
#define NAT_RDV_CODE_BUFLEN 12

/* ------------------------------------------------------------- secrets */

/** What the room code gives (docs/rendezvous.md, "Keys"). */
typedef struct nat_rdv_keys {
  uint8_t room_id[NAT_RDV_ROOM_ID_LEN]; /**< names the room at the server */
  uint8_t join[NAT_RDV_JOIN_LEN];       /**< shown to the server to join */
  uint8_t key[NAT_RDV_KEY_LEN];         /**< K: never leaves the peers */
} nat_rdv_keys;

/** Derive the keys from a room code. The code is normalised first: ASCII
 * letters lowercased, separators (space, tab, '-', '_', '.') dropped, and
 * the Crockford base32 look-alikes mapped ('o' to '0', 'i' and 'l' to
 * '1'), so "ABCDE-FGHIJ" and "abcde fgh1j" name the same room.
 * join = HKDF-SHA256(code, salt "libnat-rdv-v1", info "join", 32);
 * K = HKDF-SHA256(same, info "e2e-key", 32);
 * room_id = SHA-256("libnat-rdv-v1 room" || join)[0..16].
 * @return 0; NAT_EINVAL (NULL, or fewer than NAT_RDV_CODE_MIN or more than
 *         NAT_RDV_CODE_MAX characters after normalisation, or a control
 *         character); NAT_ECRYPTO. */
NAT_EXTERN int nat_rdv_keys_derive(nat_rdv_keys *out, const char *code);

/** True if @p join proves membership of @p room_id (the server's check:
 * room_id == SHA-256("libnat-rdv-v1 room" || join)[0..16], compared in
 * constant time). */
NAT_EXTERN bool nat_rdv_join_check(const uint8_t room_id[NAT_RDV_ROOM_ID_LEN],
                                   const uint8_t join[NAT_RDV_JOIN_LEN]);

/** Make a fresh room code: 10 Crockford base32 characters (50 bits) as
 * "xxxxx-xxxxx", from @p rnd (NULL: nat_rand_system).
 * @return 0, NAT_EINVAL (NULL @p buf), NAT_ENOBUFS (@p len <
 *         NAT_RDV_CODE_BUFLEN). */
NAT_EXTERN int nat_rdv_code_new(char *buf, size_t len, nat_rand_fn rnd,
                                void *rnd_ctx);

/** Seal @p len bytes of @p pt under K with @p nonce: AES-256-GCM with the
 * additional data "libnat-rdv-v1 blob" || room_id. Output: version 1,
 * nonce, ciphertext, tag (len + NAT_RDV_SEAL_OVERHEAD bytes).
 * @return the sealed length; NAT_EINVAL (NULL, @p len > NAT_RDV_MAX_BLOB);
 *         NAT_ENOBUFS; NAT_ECRYPTO. */
NAT_EXTERN ssize_t nat_rdv_seal(const nat_rdv_keys *k,
                                const uint8_t nonce[NAT_RDV_NONCE_LEN],
                                const uint8_t *pt, size_t len, uint8_t *out,
                                size_t cap);

/** Open a sealed blob; @p nonce_out (if not NULL) gets its nonce.
 * @return the plaintext length; NAT_ERDVMSG (shorter than the overhead,
 *         longer than NAT_RDV_MAX_SEALED, unknown version); NAT_ENOBUFS;
 *         NAT_EROOMSECRET (authentication failed: sealed under another
 *         key or for another room, or altered); NAT_EINVAL; NAT_ECRYPTO. */
NAT_EXTERN ssize_t nat_rdv_open(const nat_rdv_keys *k, const uint8_t *sealed,
                                size_t len, uint8_t *out, size_t cap,
                                uint8_t nonce_out[NAT_RDV_NONCE_LEN]);

/* ------------------------------------------------------------- messages */

/** Message types (docs/rendezvous.md, "Messages"). */
typedef enum nat_rdv_type {
  NAT_RDV_HELLO = 1, /**< client: room_id, join */
  NAT_RDV_SEEN = 2,  /**< server: addr (the client's address as seen) */
  NAT_RDV_BLOB = 3,  /**< client: data (its sealed blob) */
  NAT_RDV_PEER = 4,  /**< server: data (the other peer's sealed blob) */
  NAT_RDV_ERROR = 5, /**< either: code, text */
  NAT_RDV_BYE = 6    /**< either: no fields */
} nat_rdv_type;

/** Codes of ERROR messages (also the QUIC application close codes). */
typedef enum nat_rdv_errcode {
  NAT_RDV_ERR_MALFORMED = 1,  /**< undecodable or oversized message */
  NAT_RDV_ERR_UNEXPECTED = 2, /**< valid message at the wrong time */
  NAT_RDV_ERR_BAD_JOIN = 3,   /**< the join secret does not fit the room */
  NAT_RDV_ERR_ROOM_FULL = 4,  /**< the room has its two peers */
  NAT_RDV_ERR_TOO_MANY = 5,   /**< room or peer cap reached */
  NAT_RDV_ERR_EXPIRED = 6,    /**< the room's time ran out */
  NAT_RDV_ERR_TIMEOUT = 7,    /**< no HELLO in time */
  NAT_RDV_ERR_SHUTDOWN = 8    /**< the server is stopping */
} nat_rdv_errcode;

/** A decoded message: a view into the decoded buffer (data, text). */
typedef struct nat_rdv_msg {
  uint8_t type; /**< nat_rdv_type */
  uint8_t room_id[NAT_RDV_ROOM_ID_LEN];
  uint8_t join[NAT_RDV_JOIN_LEN];
  nat_addr addr;
  const uint8_t *data; /**< BLOB, PEER: 1..NAT_RDV_MAX_SEALED bytes */
  size_t data_len;
  uint16_t code;    /**< ERROR: nat_rdv_errcode (others kept as given) */
  const char *text; /**< ERROR: printable ASCII, not NUL-terminated */
  size_t text_len;
} nat_rdv_msg;

/** Length of the frame at the start of @p buf from its 2-byte prefix.
 * @return the whole frame's length (prefix included); 0 if fewer than 2
 *         bytes are there; NAT_ERDVSIZE (longer than NAT_RDV_MAX_MSG);
 *         NAT_ERDVMSG (an empty frame). */
NAT_EXTERN ssize_t nat_rdv_frame_len(const uint8_t *buf, size_t len);

/** Encode @p m (the fields its type uses) as one frame.
 * @return the frame's length; NAT_EINVAL (unknown type, a field out of its
 *         range: data empty or over NAT_RDV_MAX_SEALED, text over
 *         NAT_RDV_MAX_TEXT or not printable, no address family);
 *         NAT_ENOBUFS. */
NAT_EXTERN ssize_t nat_rdv_msg_encode(const nat_rdv_msg *m, uint8_t *out,
                                      size_t cap);

/** Decode the one frame at the start of @p buf. Strict: each type has
 * exactly its fields, each once, with their exact sizes.
 * @return the bytes consumed; NAT_ERDVTRUNC (the frame or a field runs past
 *         the data); NAT_ERDVSIZE (frame over NAT_RDV_MAX_MSG); NAT_ERDVTYPE
 *         (unknown message type); NAT_ERDVMSG (empty frame, unknown or
 *         repeated or missing field, wrong field size, bad address family,
 *         unprintable text); NAT_EINVAL (NULL). */
NAT_EXTERN ssize_t nat_rdv_msg_decode(nat_rdv_msg *m, const uint8_t *buf,
                                      size_t len);

/** "HELLO", "SEEN", ... or "?" */
NAT_EXTERN const char *nat_rdv_type_name(int type);
/** "room full", ... or "unknown error" */
NAT_EXTERN const char *nat_rdv_strerror(int code);

/* ---------------------------------------------------------------- rooms */

typedef struct nat_rdv_rooms nat_rdv_rooms;
typedef struct nat_rdv_peer nat_rdv_peer;

/** Room settings; zero fields take the defaults shown. */
typedef struct nat_rdv_rooms_config {
  size_t max_rooms;         /**< 1024 */
  size_t max_peers;         /**< connections at once: 2 * max_rooms */
  nat_tstamp room_ttl;      /**< 60 s from the room's first HELLO */
  nat_tstamp hello_timeout; /**< 10 s from connect to HELLO */
  nat_tstamp linger;        /**< 5 s after PEER before closing */
} nat_rdv_rooms_config;

/** What the room logic asks of its driver, or tells it. */
typedef enum nat_rdv_action_kind {
  NAT_RDV_ACT_SEND = 1, /**< send msg to the peer */
  NAT_RDV_ACT_CLOSE,    /**< close the peer's connection with code/text
                             (code 0: normal end) after the sends */
  NAT_RDV_ACT_LOG       /**< an event to log (event, room_id, count) */
} nat_rdv_action_kind;

/** Events for the log (one line each). */
typedef enum nat_rdv_event {
  NAT_RDV_EV_CONNECT = 1, /**< a connection arrived */
  NAT_RDV_EV_REFUSED,     /**< refused (code says why) */
  NAT_RDV_EV_JOINED,      /**< joined a room (count: peers now) */
  NAT_RDV_EV_PAIRED,      /**< both blobs forwarded */
  NAT_RDV_EV_EXPIRED,     /**< the room expired */
  NAT_RDV_EV_LEFT,        /**< the connection ended (room: count left) */
  NAT_RDV_EV_MALFORMED,   /**< a bad message (code MALFORMED/UNEXPECTED) */
  NAT_RDV_EV_TIMEOUT,     /**< no HELLO in time */
  NAT_RDV_EV_ROOM_CLOSED  /**< the room was removed */
} nat_rdv_event;

/** One action. Pointers are valid during the callback only. */
typedef struct nat_rdv_action {
  nat_rdv_action_kind kind;
  nat_rdv_peer *peer;     /**< the peer concerned (NULL for room events) */
  void *peer_arg;         /**< its argument (nat_rdv_rooms_peer_add) */
  nat_addr addr;          /**< its address */
  const nat_rdv_msg *msg; /**< SEND */
  uint16_t code;          /**< CLOSE, REFUSED, MALFORMED: errcode */
  const char *text;       /**< CLOSE: reason; MALFORMED: what */
  nat_rdv_event event;    /**< LOG */
  bool has_room;          /**< LOG: room_id is set */
  uint8_t room_id[NAT_RDV_ROOM_ID_LEN];
  unsigned count; /**< LOG JOINED/LEFT: peers in the room now */
} nat_rdv_action;

typedef void (*nat_rdv_action_fn)(void *ctx, const nat_rdv_action *a);

/** Counters. */
typedef struct nat_rdv_rooms_stats {
  uint64_t rooms, peers;   /**< alive now */
  uint64_t joined, paired; /**< totals */
  uint64_t expired, timeouts, refused_full, refused_caps, bad_join;
  uint64_t malformed, unexpected;
} nat_rdv_rooms_stats;

/** Make the room table. @p cfg (NULL: defaults) is copied; @p act gets
 * every action, synchronously, during the calls below.
 * @return 0, NAT_EINVAL, NAT_ENOMEM. */
NAT_EXTERN int nat_rdv_rooms_new(nat_rdv_rooms **out,
                                 const nat_rdv_rooms_config *cfg,
                                 nat_rdv_action_fn act, void *ctx);

/** Free the table and every peer in it. NULL is a no-op. */
NAT_EXTERN void nat_rdv_rooms_free(nat_rdv_rooms *rs);

/** A connection arrived from @p addr (as the server sees it) at @p now.
 * @p arg is given back in its actions. Logs CONNECT.
 * @return 0 and *out; NAT_EBUSY (max_peers reached: logged as REFUSED, no
 *         peer made: drop the connection); NAT_ENOMEM; NAT_EINVAL. */
NAT_EXTERN int nat_rdv_rooms_peer_add(nat_rdv_rooms *rs, nat_rdv_peer **out,
                                      const nat_addr *addr, void *arg,
                                      nat_tstamp now);

/** A decoded message from @p p. Anything a client may not send, or a
 * message out of order, gives ERROR + CLOSE. Messages from a peer told to
 * close are ignored. */
NAT_EXTERN void nat_rdv_rooms_on_msg(nat_rdv_rooms *rs, nat_rdv_peer *p,
                                     const nat_rdv_msg *m, nat_tstamp now);

/** @p p sent bytes that did not decode (@p err: the decoder's code):
 * ERROR MALFORMED + CLOSE, counted. */
NAT_EXTERN void nat_rdv_rooms_on_bad(nat_rdv_rooms *rs, nat_rdv_peer *p,
                                     int err, nat_tstamp now);

/** The connection of @p p has ended: @p p leaves its room (an empty room is
 * removed) and is freed. Logs LEFT. */
NAT_EXTERN void nat_rdv_rooms_peer_remove(nat_rdv_rooms *rs, nat_rdv_peer *p,
                                          nat_tstamp now);

/** Handle every deadline at or before @p now (room expiry, HELLO timeout,
 * linger after the exchange). */
NAT_EXTERN void nat_rdv_rooms_handle_expiry(nat_rdv_rooms *rs, nat_tstamp now);

/** The next deadline, or NAT_TSTAMP_MAX. */
NAT_EXTERN nat_tstamp nat_rdv_rooms_get_expiry(const nat_rdv_rooms *rs);

/** Copy the counters. */
NAT_EXTERN void nat_rdv_rooms_stats_get(const nat_rdv_rooms *rs,
                                        nat_rdv_rooms_stats *out);

/** "connect", "joined", ... */
NAT_EXTERN const char *nat_rdv_event_name(int ev);

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
   * example the peer's first connectivity check). */
  void (*on_stun)(nat_rdv_client *c, void *arg, const nat_addr *from,
                  const uint8_t *buf, size_t len);
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
