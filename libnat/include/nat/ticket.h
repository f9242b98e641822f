/* libnat -- punch tickets: everything a peer needs to reach us, as one
 * short copy-pasteable line.
 *
 * Text form: "natp" VERSION "." base64url(BODY || CRC32(BODY)), no
 * padding. ASCII whitespace anywhere is ignored on input (tickets survive
 * line wrapping in terminals and mail). Version 1 BODY:
 *
 *   u8 version (1)
 *   then TLVs: u8 type, u8 length, value
 *     1 PIN        32 bytes: SHA-256 of our QUIC certificate (nat/quic.h)
 *     2 UFRAG      4..32 bytes of [A-Za-z0-9+/_-]: our ICE username
 *                  fragment (RFC 8445 section 5.3)
 *     3 PWD        22..64 bytes of the same set: our ICE password
 *                  (short-term credential, RFC 8489 section 9.1)
 *     4 TIEBREAKER 8 bytes, big-endian: our 64-bit tie-breaker
 *     5 CAND       1 + 4 + 2 (IPv4) or 1 + 16 + 2 (IPv6) bytes: candidate
 *                  type (host, srflx or predicted), IP, port (big-endian)
 *   Unknown types 0x80-0xFF are skipped (optional); unknown types below
 *   0x80 are refused. PIN, UFRAG, PWD and TIEBREAKER must appear once.
 *
 * The CRC-32 (the FINGERPRINT polynomial, nat_crc32) only catches copy
 * errors: a ticket is not a secret-protected message. Whoever reads it can
 * talk to us, so it travels over a channel the user trusts.
 *
 * Candidates keep their order: the first is the most preferred. A decoded
 * candidate gets priority nat_cand_priority(type pref, 65535 - index, 1)
 * and a foundation from nat_cand_make().
 */
#ifndef NAT_TICKET_H
#define NAT_TICKET_H

#include <stdbool.h>

#include "nat/cand.h"
#include "nat/common.h"

#ifdef __cplusplus
extern "C" {
#endif

#define NAT_TICKET_VERSION   1
#define NAT_TICKET_MAX_CANDS 12
#define NAT_TICKET_PIN_LEN   32
#define NAT_TICKET_UFRAG_MIN 4
#define NAT_TICKET_UFRAG_MAX 32
#define NAT_TICKET_PWD_MIN   22
#define NAT_TICKET_PWD_MAX   64
/** Lengths nat_ticket_init_random() generates. */
#define NAT_TICKET_UFRAG_GEN 8
#define NAT_TICKET_PWD_GEN   24
/** Longest ticket text (with its NUL) nat_ticket_encode() can write. */
#define NAT_TICKET_TEXT_MAX 1024

/** A decoded ticket. A plain value. */
typedef struct nat_ticket {
  uint8_t version;
  uint8_t pin[NAT_TICKET_PIN_LEN];
  char ufrag[NAT_TICKET_UFRAG_MAX + 1];
  char pwd[NAT_TICKET_PWD_MAX + 1];
  uint64_t tie_breaker;
  size_t ncands;
  nat_cand cands[NAT_TICKET_MAX_CANDS];
} nat_ticket;

/** What was wrong with a ticket. */
typedef enum nat_ticket_status {
  NAT_TICKET_OK = 0,
  NAT_TICKET_BAD_PREFIX,       /**< does not start with "natp<digits>." */
  NAT_TICKET_BAD_VERSION,      /**< a version this build cannot read */
  NAT_TICKET_BAD_BASE64,       /**< a character outside base64url */
  NAT_TICKET_TRUNCATED,        /**< ends inside a field, or too short */
  NAT_TICKET_CHECKSUM,         /**< CRC-32 mismatch (a copy error) */
  NAT_TICKET_BAD_CANDIDATE,    /**< bad length, type, address or port 0 */
  NAT_TICKET_TOO_MANY_CANDS,   /**< over NAT_TICKET_MAX_CANDS */
  NAT_TICKET_BAD_FIELD,        /**< bad length/charset, duplicate, unknown
                                    required type */
  NAT_TICKET_MISSING_FIELD,    /**< PIN, UFRAG, PWD or TIEBREAKER absent */
  NAT_TICKET_TOO_LONG,         /**< over NAT_TICKET_TEXT_MAX characters */
  NAT_TICKET_NO_CANDIDATES,    /**< nat_ticket_validate(): none usable */
  NAT_TICKET_REFUSED_CANDIDATE /**< nat_ticket_validate(): address refused */
} nat_ticket_status;

/** Details of a decoding failure: the status and a one-line message
 * naming what was wrong and what would be right. */
typedef struct nat_ticket_diag {
  int status; /**< nat_ticket_status */
  char msg[160];
} nat_ticket_diag;

/** Fill @p t's credentials from @p rand: a fresh ufrag
 * (NAT_TICKET_UFRAG_GEN characters), password (NAT_TICKET_PWD_GEN
 * characters, 144 bits) and tie-breaker; sets the version and clears the
 * candidates. The pin is left zero (copy nat_quic_identity_pin() in).
 * @return 0, NAT_EINVAL (NULL). */
NAT_EXTERN int nat_ticket_init_random(nat_ticket *t, nat_rand_fn rand,
                                      void *rand_ctx);

/** Append a candidate (host, srflx or predicted) to @p t.
 * @return 0, NAT_EINVAL (other type, bad family, port 0), NAT_ENOBUFS
 *         (NAT_TICKET_MAX_CANDS reached). */
NAT_EXTERN int nat_ticket_add_cand(nat_ticket *t, const nat_cand *c);

/** Encode @p t as text into @p buf (NUL-terminated).
 * @return the text's length without the NUL, NAT_EINVAL (a field
 *         nat_ticket_decode() would refuse), NAT_ENOBUFS. */
NAT_EXTERN ssize_t nat_ticket_encode(const nat_ticket *t, char *buf,
                                     size_t cap);

/** Decode ticket text (@p len bytes; need not be NUL-terminated).
 * @param diag  may be NULL; on failure gets the status and message.
 * @return 0, NAT_EINVAL (NULL @p out or @p text), NAT_ETICKET. */
NAT_EXTERN int nat_ticket_decode(nat_ticket *out, const char *text, size_t len,
                                 nat_ticket_diag *diag);

/** Check a decoded peer ticket's candidates against @p pol
 * (nat_cand_validate_remote). Refused candidates are removed from @p t
 * when @p drop_refused, and the first refusal is described in @p diag
 * (which may be NULL).
 * @return 0 if at least one candidate is left and (unless
 *         @p drop_refused) none was refused; else NAT_ETICKET with
 *         NAT_TICKET_REFUSED_CANDIDATE or NAT_TICKET_NO_CANDIDATES. */
NAT_EXTERN int nat_ticket_validate(nat_ticket *t, const nat_cand_policy *pol,
                                   bool drop_refused, nat_ticket_diag *diag);

/** The message of @p diag ("ticket: ..."), or "ok" for NULL or success. */
NAT_EXTERN const char *nat_ticket_strerror(const nat_ticket_diag *diag);

/** Name of a status ("bad-prefix", "checksum", ...). */
NAT_EXTERN const char *nat_ticket_status_name(int status);

#ifdef __cplusplus
}
#endif
#endif
