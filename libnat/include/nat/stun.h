/* libnat -- STUN message codec.
 *
 * RFC 8489 (STUN), RFC 5389, RFC 5780 (NAT behaviour discovery attributes),
 * RFC 3489 (classic STUN: messages without the magic cookie and its address
 * attributes), RFC 8445 (ICE attributes), RFC 5769 (test vectors).
 *
 * Decoding is a strict, zero-copy view over the caller's datagram:
 * nat_stun_decode() validates the header and every attribute's framing and
 * indexes the attributes; typed getters read values on demand. The view
 * points into the datagram, which must outlive it.
 *
 * Encoding is a builder writing into the caller's buffer. Errors are sticky:
 * once an add fails, later adds do nothing and nat_stun_builder_finish()
 * returns the first error.
 *
 * In the tree: libnat/src/stun/ (this header is its main one, with
 * stunsrv.h): the codec (stun_decode.c, stun_encode.c, stun_integrity.c,
 * stun_names.c) and a sans-I/O Binding responder (stunsrv.c). Uses base/
 * only. A datagram from io/ or from a capture is decoded here once; txn/,
 * probe/, punch/ and rdv/ read the view.
 */
#ifndef NAT_STUN_H
#define NAT_STUN_H

#include <stdbool.h>

#include "nat/addr.h"
#include "nat/common.h"

#ifdef __cplusplus
extern "C" {
#endif

#define NAT_STUN_MAGIC_COOKIE 0x2112A442u
#define NAT_STUN_HEADER_LEN   20
#define NAT_STUN_TID_LEN      12
/** Largest message the codec accepts or builds (RFC 8489 section 6.1 allows
 * up to 64 KiB; anything over a UDP datagram's payload is refused). */
#define NAT_STUN_MAX_MSG 65507
/** Attributes indexed per message; a message with more gets
 * NAT_ETOOMANYATTRS. */
#define NAT_STUN_MAX_ATTRS 64
/** Unknown comprehension-required attribute types remembered for a
 * 420 response (RFC 8489 section 14.13). */
#define NAT_STUN_MAX_UNKNOWN 16

/* Methods (RFC 8489 section 18.2). */
#define NAT_STUN_BINDING 0x001

/* Classes (RFC 8489 section 5). */
typedef enum nat_stun_class {
  NAT_STUN_REQUEST = 0,
  NAT_STUN_INDICATION = 1,
  NAT_STUN_SUCCESS = 2,
  NAT_STUN_ERROR = 3
} nat_stun_class;

/* Attribute types. */
typedef enum nat_stun_attr_type {
  /* RFC 8489 / RFC 5389 comprehension-required */
  NAT_ATTR_MAPPED_ADDRESS = 0x0001,
  NAT_ATTR_RESPONSE_ADDRESS = 0x0002, /* RFC 3489 */
  NAT_ATTR_CHANGE_REQUEST = 0x0003,   /* RFC 5780 (and 3489) */
  NAT_ATTR_SOURCE_ADDRESS = 0x0004,   /* RFC 3489 */
  NAT_ATTR_CHANGED_ADDRESS = 0x0005,  /* RFC 3489 */
  NAT_ATTR_USERNAME = 0x0006,
  NAT_ATTR_PASSWORD = 0x0007, /* RFC 3489, deprecated */
  NAT_ATTR_MESSAGE_INTEGRITY = 0x0008,
  NAT_ATTR_ERROR_CODE = 0x0009,
  NAT_ATTR_UNKNOWN_ATTRIBUTES = 0x000A,
  NAT_ATTR_REFLECTED_FROM = 0x000B, /* RFC 3489 */
  NAT_ATTR_REALM = 0x0014,
  NAT_ATTR_NONCE = 0x0015,
  NAT_ATTR_MESSAGE_INTEGRITY_SHA256 = 0x001C,
  NAT_ATTR_PASSWORD_ALGORITHM = 0x001D,
  NAT_ATTR_USERHASH = 0x001E,
  NAT_ATTR_XOR_MAPPED_ADDRESS = 0x0020,
  NAT_ATTR_PADDING = 0x0026,       /* RFC 5780 */
  NAT_ATTR_RESPONSE_PORT = 0x0027, /* RFC 5780 */
  NAT_ATTR_PRIORITY = 0x0024,      /* RFC 8445 */
  NAT_ATTR_USE_CANDIDATE = 0x0025, /* RFC 8445 */
  /* comprehension-optional */
  NAT_ATTR_PASSWORD_ALGORITHMS = 0x8002,
  NAT_ATTR_ALTERNATE_DOMAIN = 0x8003,
  NAT_ATTR_SOFTWARE = 0x8022,
  NAT_ATTR_ALTERNATE_SERVER = 0x8023,
  NAT_ATTR_FINGERPRINT = 0x8028,
  NAT_ATTR_ICE_CONTROLLED = 0x8029,  /* RFC 8445 */
  NAT_ATTR_ICE_CONTROLLING = 0x802A, /* RFC 8445 */
  NAT_ATTR_RESPONSE_ORIGIN = 0x802B, /* RFC 5780 */
  NAT_ATTR_OTHER_ADDRESS = 0x802C    /* RFC 5780 */
} nat_stun_attr_type;

/* CHANGE-REQUEST flags (RFC 5780 section 7.2). */
#define NAT_STUN_CHANGE_IP   0x04u
#define NAT_STUN_CHANGE_PORT 0x02u

/* PASSWORD-ALGORITHM values (RFC 8489 section 18.5). */
#define NAT_STUN_PWALG_MD5    0x0001
#define NAT_STUN_PWALG_SHA256 0x0002

/** One attribute as found in the message. @p value points into the
 * datagram; @p len excludes padding. */
typedef struct nat_stun_attr {
  uint16_t type;
  uint16_t len;
  const uint8_t *value;
} nat_stun_attr;

/** A decoded message: a view over the datagram given to nat_stun_decode(). */
typedef struct nat_stun_msg {
  const uint8_t *buf; /**< the whole message (header included) */
  size_t len;         /**< 20 + the header's length field */
  uint16_t method;    /**< 12-bit method */
  uint8_t cls;        /**< nat_stun_class */
  bool classic;       /**< RFC 3489: no magic cookie */
  uint32_t cookie;    /**< bytes 4..7: the magic cookie, or for a classic
                           message the first 32 bits of its 128-bit ID */
  uint8_t tid[NAT_STUN_TID_LEN]; /**< bytes 8..19 */
  /** Attributes in message order, those after MESSAGE-INTEGRITY that
   * RFC 8489 section 14.5 says to ignore left out. */
  nat_stun_attr attrs[NAT_STUN_MAX_ATTRS];
  uint16_t nattrs;
  /** Index into attrs[] of MESSAGE-INTEGRITY, MESSAGE-INTEGRITY-SHA256 and
   * FINGERPRINT, or -1. */
  int16_t mi_idx, mi256_idx, fp_idx;
  /** Unknown comprehension-required types (0x0000-0x7FFF), in order, at
   * most NAT_STUN_MAX_UNKNOWN of them; nunknown counts them all. */
  uint16_t unknown[NAT_STUN_MAX_UNKNOWN];
  uint16_t nunknown;
} nat_stun_msg;

/* ------------------------------------------------------------ decoding */

/** Fast check for demultiplexing one socket between STUN and other
 * protocols (QUIC): top two bits zero, magic cookie present, and the length
 * field equal to @p len - 20 and a multiple of 4. Classic RFC 3489
 * messages do not pass; use nat_stun_decode() where those matter. */
NAT_EXTERN bool nat_stun_is_stun(const uint8_t *buf, size_t len);

/** Decode and validate one STUN message occupying all of @p buf.
 *
 * Checks: header length; top two bits zero; length field a multiple of 4
 * and equal to @p len - 20; each attribute inside the message with its
 * padding; at most NAT_STUN_MAX_ATTRS attributes; address attributes have a
 * valid family and matching length; fixed-size attributes have their size;
 * nothing but MESSAGE-INTEGRITY-SHA256 and FINGERPRINT is indexed after
 * MESSAGE-INTEGRITY; nothing follows FINGERPRINT; FINGERPRINT's CRC-32 is
 * right. Classic messages (no magic cookie) decode with @c classic set.
 * Unknown comprehension-required attributes do not fail decoding: they are
 * listed in @c unknown for the caller's 420 response.
 *
 * Which error, when: a first byte with either top bit set gives
 * NAT_ENOTSTUN; fewer than 20 bytes, or a datagram shorter than 20 + the
 * length field, NAT_ETRUNC; a datagram longer than that, or over
 * NAT_STUN_MAX_MSG, NAT_EBADLEN; a length field that is not a multiple of
 * 4 gives NAT_EPADDING when the last attribute lacks its padding, else
 * NAT_EBADLEN; an attribute whose header or value runs past the end,
 * NAT_EATTRLEN; more than NAT_STUN_MAX_ATTRS attributes (ignored ones
 * included), NAT_ETOOMANYATTRS; an address family other than 1 or 2,
 * NAT_EBADFAMILY; a value of the wrong size or out of range (RFC 8489 byte
 * limits a receiver must parse: USERNAME, REALM, NONCE, SOFTWARE 763),
 * NAT_EBADATTR; anything
 * after FINGERPRINT, NAT_EATTRORDER. Padding bytes may hold anything.
 * Attributes after MESSAGE-INTEGRITY (other than MESSAGE-INTEGRITY-SHA256
 * and FINGERPRINT) and after MESSAGE-INTEGRITY-SHA256 (other than
 * FINGERPRINT) are framed but neither validated nor indexed. In a classic
 * message FINGERPRINT is an ordinary attribute (not checked, fp_idx -1).
 *
 * @param m    the view to fill; it points into @p buf afterwards. On error
 *             it holds no attributes.
 * @return the message length (== @p len), or NAT_EINVAL, NAT_ETRUNC,
 *         NAT_ENOTSTUN (top bits set), NAT_EBADLEN, NAT_EATTRLEN,
 *         NAT_EPADDING, NAT_ETOOMANYATTRS, NAT_EBADFAMILY, NAT_EBADATTR,
 *         NAT_EATTRORDER, NAT_EFINGERPRINT. */
NAT_EXTERN ssize_t nat_stun_decode(nat_stun_msg *m, const uint8_t *buf,
                                   size_t len);

/** The first attribute of @p type, or NULL. */
NAT_EXTERN const nat_stun_attr *nat_stun_msg_find(const nat_stun_msg *m,
                                                  uint16_t type);

/** Read an address attribute of @p type. XOR-MAPPED-ADDRESS (0x0020) and
 * TURN's XOR-PEER-ADDRESS (0x0012) / XOR-RELAYED-ADDRESS (0x0016) are
 * un-XORed with the cookie and transaction ID (message bytes 4..19);
 * MAPPED-ADDRESS, RESPONSE-ORIGIN, OTHER-ADDRESS, ALTERNATE-SERVER and the
 * RFC 3489 ones are read plainly.
 * @return 0, NAT_ENOTFOUND if absent, NAT_EBADATTR / NAT_EBADFAMILY. */
NAT_EXTERN int nat_stun_msg_get_addr(const nat_stun_msg *m, uint16_t type,
                                     nat_addr *out);

/** The mapped address a response reports: XOR-MAPPED-ADDRESS if present,
 * else MAPPED-ADDRESS (classic servers). @return as nat_stun_msg_get_addr. */
NAT_EXTERN int nat_stun_msg_get_mapped(const nat_stun_msg *m, nat_addr *out);

/** Read ERROR-CODE: @p code gets class*100+number, @p reason points into
 * the message (not NUL-terminated), @p reason_len its length.
 * @return 0, NAT_ENOTFOUND, NAT_EBADATTR. */
NAT_EXTERN int nat_stun_msg_get_error(const nat_stun_msg *m, int *code,
                                      const char **reason, size_t *reason_len);

/** Read a 32-bit attribute (CHANGE-REQUEST, PRIORITY, FINGERPRINT).
 * @return 0, NAT_ENOTFOUND, NAT_EBADATTR (length != 4). */
NAT_EXTERN int nat_stun_msg_get_u32(const nat_stun_msg *m, uint16_t type,
                                    uint32_t *out);

/** Read a 64-bit attribute (ICE-CONTROLLED, ICE-CONTROLLING).
 * @return 0, NAT_ENOTFOUND, NAT_EBADATTR (length != 8). */
NAT_EXTERN int nat_stun_msg_get_u64(const nat_stun_msg *m, uint16_t type,
                                    uint64_t *out);

/** Read RESPONSE-PORT (RFC 5780 section 7.5).
 * @return 0, NAT_ENOTFOUND, NAT_EBADATTR. */
NAT_EXTERN int nat_stun_msg_get_response_port(const nat_stun_msg *m,
                                              uint16_t *port);

/** Read UNKNOWN-ATTRIBUTES into @p types (at most @p max), @p n gets the
 * count in the message. @return 0, NAT_ENOTFOUND, NAT_EBADATTR (odd len). */
NAT_EXTERN int nat_stun_msg_get_unknown_attrs(const nat_stun_msg *m,
                                              uint16_t *types, size_t max,
                                              size_t *n);

/** Name of an attribute type ("XOR-MAPPED-ADDRESS"), or "UNKNOWN". */
NAT_EXTERN const char *nat_stun_attr_name(uint16_t type);

/** Name of a class ("request", "success", "error", "indication"). */
NAT_EXTERN const char *nat_stun_class_name(uint8_t cls);

/* ----------------------------------------------------------- integrity */

/** Long-term credential key (RFC 8489 section 9.2.2):
 * MD5(username ":" realm ":" password) for NAT_STUN_PWALG_MD5 (16 bytes),
 * SHA-256(...) for NAT_STUN_PWALG_SHA256 (32 bytes). Strings are taken as
 * given (already OpaqueString/SASLprep-processed by the caller).
 * @param key  at least 32 bytes. @p keylen gets the key's length.
 * @return 0, NAT_EINVAL (unknown algorithm), NAT_ECRYPTO. */
NAT_EXTERN int nat_stun_long_term_key(uint16_t alg, const char *username,
                                      const char *realm, const char *password,
                                      uint8_t *key, size_t *keylen);

/** Check MESSAGE-INTEGRITY-SHA256 if present, else MESSAGE-INTEGRITY,
 * with @p key (for short-term credentials, the password's bytes; for
 * long-term, nat_stun_long_term_key()'s output). Comparison is constant
 * time. A truncated MESSAGE-INTEGRITY-SHA256 (16..32 bytes, multiple of 4)
 * is compared over its length. In a classic message MESSAGE-INTEGRITY
 * follows RFC 3489 section 11.2.8 (header as sent, text zero-padded to a
 * multiple of 64 bytes).
 * @return 0, NAT_ENOINTEGRITY, NAT_EINTEGRITY, NAT_EBADATTR, NAT_ECRYPTO. */
NAT_EXTERN int nat_stun_msg_check_integrity(const nat_stun_msg *m,
                                            const uint8_t *key, size_t keylen);

/** CRC-32 (ISO-HDLC, as FINGERPRINT uses before the XOR) of @p len bytes,
 * continuing from @p crc (start with 0). */
NAT_EXTERN uint32_t nat_crc32(uint32_t crc, const uint8_t *buf, size_t len);

/* ------------------------------------------------------------ encoding */

/** Builder state; a plain struct on the caller's stack. */
typedef struct nat_stun_builder {
  uint8_t *buf;
  size_t cap;
  size_t len;
  int err;      /**< first error, sticky */
  bool classic; /**< RFC 3489 message: no cookie, 16-byte ID */
  bool sealed;  /**< MESSAGE-INTEGRITY added: only MI-SHA256/FINGERPRINT may
                     follow */
} nat_stun_builder;

/** Start a message in @p buf (@p cap bytes). @p tid is the 96-bit
 * transaction ID (copied).
 * @return 0, NAT_EINVAL (method > 0xFFF, class > 3, NULL), NAT_ENOBUFS. */
NAT_EXTERN int nat_stun_builder_init(nat_stun_builder *b, uint8_t *buf,
                                     size_t cap, uint16_t method, uint8_t cls,
                                     const uint8_t tid[NAT_STUN_TID_LEN]);

/** Start a classic RFC 3489 message with a 128-bit transaction ID (16 bytes
 * at @p tid16; no magic cookie). Returns as nat_stun_builder_init(). */
NAT_EXTERN int nat_stun_builder_init_classic(nat_stun_builder *b, uint8_t *buf,
                                             size_t cap, uint16_t method,
                                             uint8_t cls,
                                             const uint8_t tid16[16]);

/** Append an attribute with a raw value (zero padding added). A value
 * that nat_stun_decode() would refuse for a known type (wrong size, bad
 * family, over the RFC byte limit) is refused here too, and so is a
 * USERNAME of 509 bytes or more (RFC 8489 section 14.3's sending limit).
 * @return 0 or the sticky error (NAT_ENOBUFS, NAT_EINVAL: value over
 *         65535 bytes or invalid for its type, or an attribute after
 *         MESSAGE-INTEGRITY other than MESSAGE-INTEGRITY-SHA256 /
 *         FINGERPRINT, after MESSAGE-INTEGRITY-SHA256 other than
 *         FINGERPRINT, or after FINGERPRINT). */
NAT_EXTERN int nat_stun_add_attr(nat_stun_builder *b, uint16_t type,
                                 const void *value, size_t len);

/** Append an address attribute. Types 0x0020 (XOR-MAPPED-ADDRESS), 0x0012
 * and 0x0016 (TURN's XOR-PEER/RELAYED-ADDRESS) are XORed; others are
 * written plainly. @return as nat_stun_add_attr, or
 * NAT_EBADFAMILY. */
NAT_EXTERN int nat_stun_add_addr(nat_stun_builder *b, uint16_t type,
                                 const nat_addr *a);

NAT_EXTERN int nat_stun_add_u32(nat_stun_builder *b, uint16_t type, uint32_t v);
NAT_EXTERN int nat_stun_add_u64(nat_stun_builder *b, uint16_t type, uint64_t v);
/** Append a string attribute (USERNAME, SOFTWARE, REALM, NONCE, ...). */
NAT_EXTERN int nat_stun_add_string(nat_stun_builder *b, uint16_t type,
                                   const char *s);
/** Append ERROR-CODE with @p code in 300..699 and a UTF-8 @p reason. */
NAT_EXTERN int nat_stun_add_error(nat_stun_builder *b, int code,
                                  const char *reason);
/** Append CHANGE-REQUEST with NAT_STUN_CHANGE_IP / NAT_STUN_CHANGE_PORT. */
NAT_EXTERN int nat_stun_add_change_request(nat_stun_builder *b, uint32_t flags);
/** Append UNKNOWN-ATTRIBUTES listing @p n types. */
NAT_EXTERN int nat_stun_add_unknown_attrs(nat_stun_builder *b,
                                          const uint16_t *types, size_t n);

/** Append MESSAGE-INTEGRITY (HMAC-SHA1, 20 bytes) over the message so far,
 * with the header length covering it (RFC 8489 section 14.5).
 * @return 0 or the sticky error, NAT_ECRYPTO. */
NAT_EXTERN int nat_stun_add_integrity(nat_stun_builder *b, const uint8_t *key,
                                      size_t keylen);

/** Append MESSAGE-INTEGRITY-SHA256 (HMAC-SHA256 truncated to @p trunc bytes,
 * 16..32 and a multiple of 4; 32 for the full MAC; RFC 8489 section 14.6). */
NAT_EXTERN int nat_stun_add_integrity_sha256(nat_stun_builder *b,
                                             const uint8_t *key, size_t keylen,
                                             size_t trunc);

/** Finish the message: set the header length and, if @p fingerprint,
 * append FINGERPRINT (RFC 8489 section 14.7).
 * @return the message length in bytes, or the sticky error (NAT_EINVAL
 *         when @p fingerprint is asked of a classic message or one that
 *         already has FINGERPRINT). */
NAT_EXTERN ssize_t nat_stun_builder_finish(nat_stun_builder *b,
                                           bool fingerprint);

#ifdef __cplusplus
}
#endif
#endif
