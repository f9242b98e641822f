/* libnat -- answering STUN Binding requests, sans I/O.
 *
 * RFC 8489 section 6.3.1 (a server's Binding response: XOR-MAPPED-ADDRESS,
 * FINGERPRINT when the request had one, 420 for unknown
 * comprehension-required attributes), RFC 3489 section 11.2.1 (a classic
 * request gets MAPPED-ADDRESS), RFC 5780 sections 6 and 7 (when an
 * alternate address is configured: OTHER-ADDRESS, RESPONSE-ORIGIN,
 * CHANGE-REQUEST and RESPONSE-PORT).
 *
 * A pure function: request bytes and the address they came from go in, the
 * response bytes and the addresses to send them from and to come out. Used
 * by the hairpinning test (the target socket answers the probe, RFC 5780
 * section 4.5), by the punch tool, and by tests as a fake RFC 5780 server.
 */
#ifndef NAT_STUNSRV_H
#define NAT_STUNSRV_H

#include <stdbool.h>

#include "nat/addr.h"
#include "nat/common.h"
#include "nat/stun.h"

#ifdef __cplusplus
extern "C" {
#endif

/** How to answer; a NULL options pointer is the same as all fields zero. */
typedef struct nat_stunsrv_opts {
  /** SOFTWARE attribute of the response; NULL for none. */
  const char *software;
  /** The address the request arrived on. Required for RFC 5780 service;
   * otherwise only used as the reply's source (NULL: unknown). */
  const nat_addr *local;
  /** RFC 5780 service: the server's alternate address (other IP and other
   * port). With it, responses carry OTHER-ADDRESS and RESPONSE-ORIGIN and
   * CHANGE-REQUEST / RESPONSE-PORT are honoured. Without it, a request
   * carrying either gets a 420 (Unknown Attribute) response, as a plain
   * RFC 8489 server answers. */
  const nat_addr *other;
  /** Short-term credential (the password's bytes): the request must carry
   * a MESSAGE-INTEGRITY(-SHA256) that checks, and the response gets
   * MESSAGE-INTEGRITY. NULL: integrity is neither checked nor added. */
  const uint8_t *key;
  size_t keylen;
} nat_stunsrv_opts;

/** Where the response goes. */
typedef struct nat_stunsrv_reply {
  /** Send from here: opts->local, or with CHANGE-REQUEST the address with
   * the other IP and/or port. NAT_AF_NONE if opts->local was NULL. */
  nat_addr src;
  /** Send to here: the request's source, or with RESPONSE-PORT that IP and
   * the given port. */
  nat_addr dst;
  bool error; /**< the response is an error response (420) */
} nat_stunsrv_reply;

/** Build the response to the Binding request @p req (@p len bytes) that
 * came from @p from.
 * @param out   where the response is written (@p cap bytes; 548 is
 *              always enough without a long SOFTWARE).
 * @param where gets the source and destination of the response.
 * @return the response's length; NAT_EINVAL (NULL argument, @p from and
 *         @p opts->local of different families, a CHANGE-REQUEST the
 *         configured addresses cannot honour); NAT_EBADCLASS (not a
 *         Binding request: responses, indications and other methods are
 *         never answered); a nat_stun_decode() error for a malformed
 *         datagram; NAT_ENOINTEGRITY / NAT_EINTEGRITY when a key is set and
 *         the request's integrity is missing or wrong (no response: the
 *         caller drops it); NAT_ENOBUFS. */
NAT_EXTERN ssize_t nat_stunsrv_respond(const nat_stunsrv_opts *opts,
                                       const nat_addr *from, const uint8_t *req,
                                       size_t len, uint8_t *out, size_t cap,
                                       nat_stunsrv_reply *where);

/** nat_stunsrv_respond() for a request already decoded (the view a
 * nat_udp receive callback or the QUIC endpoint's on_stun got), without
 * decoding it again. @p req is read during the call only. Returns as
 * nat_stunsrv_respond() (no decode errors). */
NAT_EXTERN ssize_t nat_stunsrv_respond_msg(const nat_stunsrv_opts *opts,
                                           const nat_addr *from,
                                           const nat_stun_msg *req,
                                           uint8_t *out, size_t cap,
                                           nat_stunsrv_reply *where);

#ifdef __cplusplus
}
#endif
#endif
