/* libnat -- the pure part of the rendezvous of punch (nat/rdv.h has the
 * overview): the secrets a room code gives and the end-to-end sealing of
 * blobs (rdv_msg.c), the message codec (rdv_msg.c) and the room logic of
 * the server (rdv_room.c: a fake clock in, actions out). No I/O, no
 * clock, no libuv: a fuzzer or a test includes this header alone.
 * docs/rendezvous.md is the protocol specification. */
#ifndef NAT_RDV_CODEC_H
#define NAT_RDV_CODEC_H

#include <stdbool.h>

#include "nat/addr.h"
#include "nat/common.h"

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

/** The one-line text log of a LOG action (no newline), as punch serve
 * writes it: "room 1a2b3c4d: peer 192.0.2.1:4000 joined (1/2)",
 * "peer 192.0.2.1:4000 connected", "room 1a2b3c4d: paired: blobs
 * exchanged", ... A room shows as the first 4 bytes of its ID in hex; a
 * refusal, a malformed message or a timeout ends with its reason (text,
 * else nat_rdv_strerror(code)).
 * @return the line's length, NAT_EINVAL (NULL @p a or @p buf, @p len 0),
 *         NAT_ENOBUFS (@p buf holds the line cut to @p len - 1). */
NAT_EXTERN ssize_t nat_rdv_action_format(const nat_rdv_action *a, char *buf,
                                         size_t len);

#ifdef __cplusplus
}
#endif
#endif
