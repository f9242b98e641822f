/* libnat -- private STUN codec helpers shared by stun_decode.c,
 * stun_encode.c and stun_integrity.c. */
#ifndef NAT_STUN_INTERNAL_H
#define NAT_STUN_INTERNAL_H

#include <stdbool.h>

#include "nat/stun.h"

/** FINGERPRINT is CRC-32 XOR this ("STUN"), RFC 8489 section 14.7. */
#define NAT__STUN_FP_XOR 0x5354554eu

/* RFC 8489 byte limits of the variable-length text attributes. */
/* RFC 8489 section 14.3: USERNAME is sent "fewer than 509 bytes" long, but
 * a receiver "MUST be able to parse ... 763 or fewer octets" (RFC 5389
 * compatibility). */
#define NAT__STUN_MAX_USERNAME_SEND 508
#define NAT__STUN_MAX_USERNAME      763
#define NAT__STUN_MAX_TEXT          763 /* REALM, NONCE, SOFTWARE, reason */

/** HMAC digests MESSAGE-INTEGRITY and MESSAGE-INTEGRITY-SHA256 use. */
typedef enum nat__mac_alg { NAT__MAC_SHA1, NAT__MAC_SHA256 } nat__mac_alg;

/** True for attribute types this codec understands (every type in
 * nat_stun_attr_type). */
bool nat__stun_attr_known(uint16_t type);

/** True for the XORed address types: XOR-MAPPED-ADDRESS (0x0020) and
 * TURN's XOR-PEER-ADDRESS (0x0012) / XOR-RELAYED-ADDRESS (0x0016). */
bool nat__stun_is_xor_type(uint16_t type);

/** Validate the value of an attribute of @p type: fixed sizes, address
 * family/length, ERROR-CODE class/number, text length limits. Unknown
 * types are accepted. @return 0, NAT_EBADATTR or NAT_EBADFAMILY. */
int nat__stun_check_value(uint16_t type, const uint8_t *v, size_t len);

/** Type code from a 12-bit method and a 2-bit class (RFC 8489 section 5). */
uint16_t nat__stun_type(uint16_t method, uint8_t cls);

/** HMAC (@p alg) with @p key over @p a (@p alen bytes), then @p b (@p blen
 * bytes, may be NULL when 0), then @p zpad zero bytes. @p out gets the full
 * digest (20 or 32 bytes). @return 0 or NAT_ECRYPTO. */
int nat__stun_hmac(nat__mac_alg alg, const uint8_t *key, size_t keylen,
                   const uint8_t *a, size_t alen, const uint8_t *b, size_t blen,
                   size_t zpad, uint8_t out[32]);

#endif
