/* libnat -- the hop probe, sans I/O: which routers lie between this host
 * and a STUN server, and in which address space each one is, so that a
 * second NAT (a carrier-grade NAT, RFC 6598) shows (nat/verdict.h,
 * nat_verdict_double_nat()).
 *
 * The probe sends STUN Binding requests (RFC 8489) with rising TTL (IPv4)
 * or hop limit (IPv6), one per TTL 1..max_ttl, from the socket whose
 * mapping the behaviour tests measure. A router where the TTL runs out
 * answers with ICMP time exceeded (RFC 792, RFC 4443 section 3.3) from
 * its own address and quotes the start of the datagram; the server
 * answers the requests that reach it. What comes back is matched to a TTL:
 *  - the transaction ID encodes the TTL: bytes 0..9 are random and the
 *    same for the whole run (the probe's prefix), byte 10 is the TTL,
 *    byte 11 the round (transmission) number;
 *  - an ICMP report whose quote carries a whole STUN header (20 bytes of
 *    the UDP payload: 48 bytes of the original IPv4 datagram; RFC 1812
 *    routers quote up to 576 bytes, Linux does) is matched by that
 *    transaction ID: TTL and round, so the RTT is exact. A quote with
 *    another transaction ID is not ours (the behaviour tests send from
 *    the same socket) and is refused;
 *  - a time-exceeded report that quotes less (RFC 792's minimum: the UDP
 *    header only) and names the probe's target as the original
 *    destination is matched by order: to the TTL this router already
 *    answered for if it did, else to the lowest TTL still silent that was
 *    sent (nearer routers answer first). A guess, marked by_order;
 *    destination-unreachable reports are matched by transaction ID only;
 *  - a Binding success response from the target with the probe's prefix
 *    says the request of that TTL reached the server: reached_ttl is the
 *    lowest such TTL, and the hop list ends there.
 *
 * Schedule: round 0 sends every TTL at once (ascending); each further
 * round (rounds in all, default 3, every interval, default 100 ms) sends
 * again the TTLs still silent below reached_ttl (all silent ones while
 * the server has not answered). The probe is done when every TTL below
 * reached_ttl has a report and the server answered (or every TTL 1..max
 * has a report), 2 intervals after the last round, at the deadline, or
 * when cancelled; the driver cancels it when the behaviour tests end, so
 * it never makes a run longer. ICMP reports are rate-limited by routers
 * (Linux: about one a second per destination after a burst of 6); the
 * rounds are few and far apart for that reason.
 *
 * Limits, said where they are used (nat/verdict.h): a router that does not
 * send time-exceeded leaves its hop silent; a NAT that does not decrement
 * the TTL is invisible; a NAT must translate the ICMP report back to the
 * host (Linux conntrack does, as RELATED traffic).
 *
 * In the tree: libnat/src/probe/hops.c (pure; io/netcheck.c drives it with
 * IP_TTL sends and the socket's error queue, IP_RECVERR). Uses stun/.
 */
#ifndef NAT_HOPS_H
#define NAT_HOPS_H

#include <stdbool.h>

#include "nat/addr.h"
#include "nat/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/** TTLs a probe may try, and the default. */
#define NAT_HOPS_MAX     32
#define NAT_HOPS_DEFAULT 8
/** Default rounds and the interval between them. */
#define NAT_HOPS_ROUNDS     3
#define NAT_HOPS_ROUNDS_MAX 8
#define NAT_HOPS_INTERVAL   (100 * NAT_MILLISECONDS)
/** The TTL byte and the round byte of a hop probe's transaction ID. */
#define NAT_HOPS_TID_TTL   10
#define NAT_HOPS_TID_ROUND 11

/** What answered for one TTL. */
typedef enum nat_hop_kind {
  NAT_HOP_SILENT = 0,        /**< nothing (yet) */
  NAT_HOP_TIME_EXCEEDED = 1, /**< ICMP time exceeded from a router */
  NAT_HOP_UNREACHABLE = 2,   /**< ICMP destination unreachable */
  NAT_HOP_SERVER = 3         /**< the STUN server answered this TTL */
} nat_hop_kind;

/** One TTL of the list. */
typedef struct nat_hop {
  uint8_t ttl;    /**< 1.. */
  uint8_t kind;   /**< nat_hop_kind */
  bool by_order;  /**< matched by send order, not by transaction ID */
  nat_addr addr;  /**< who answered (port 0); family NONE when silent */
  uint8_t space;  /**< nat_addr_space of addr */
  nat_tstamp rtt; /**< from the matched transmission (by order: the
                       latest one of that TTL) to the answer; 0 silent */
} nat_hop;

/** The result: a value, copy it freely. */
typedef struct nat_hop_list {
  nat_addr target;     /**< the STUN server probed (family NONE: no probe) */
  uint8_t max_ttl;     /**< the highest TTL tried */
  uint8_t reached_ttl; /**< lowest TTL the server answered; 0: not reached */
  size_t n;            /**< hops listed: TTL 1..n (reached_ttl if reached,
                            else max_ttl) */
  nat_hop hop[NAT_HOPS_MAX]; /**< hop[i].ttl == i + 1 */
  unsigned sent;             /**< requests handed out */
  unsigned reports;          /**< ICMP reports matched */
  unsigned answers;          /**< server answers matched */
  unsigned refused; /**< reports and answers not ours, spoofed or late */
} nat_hop_list;

/** Configuration, copied by nat_hops_new(). Zero fields take defaults. */
typedef struct nat_hops_config {
  nat_addr target;     /**< the STUN server: IP and port (required) */
  unsigned max_ttl;    /**< 1..NAT_HOPS_MAX; 0: NAT_HOPS_DEFAULT */
  unsigned rounds;     /**< 1..NAT_HOPS_ROUNDS_MAX; 0: NAT_HOPS_ROUNDS */
  nat_tstamp interval; /**< between rounds; 0: NAT_HOPS_INTERVAL */
  nat_tstamp deadline; /**< from nat_hops_new()'s now; 0: none */
  nat_rand_fn rand;    /**< required: the transaction ID prefix */
  void *rand_ctx;
} nat_hops_config;

/** One datagram to send: @p data (valid until the next call on the
 * probe) to @p dst with TTL / hop limit @p ttl. */
typedef struct nat_hops_send {
  uint8_t ttl;
  nat_addr dst;
  const uint8_t *data;
  size_t len;
} nat_hops_send;

/** An ICMP report from the socket's error queue (IP_RECVERR). */
typedef struct nat_hops_report {
  uint8_t kind;         /**< NAT_HOP_TIME_EXCEEDED or NAT_HOP_UNREACHABLE */
  nat_addr offender;    /**< who sent the report (SO_EE_OFFENDER) */
  nat_addr dst;         /**< the original datagram's destination (the error
                             message's name); family NONE if unknown */
  const uint8_t *quote; /**< the quoted UDP payload, as far as quoted */
  size_t quote_len;
} nat_hops_report;

typedef struct nat_hops nat_hops;

/** Create a probe starting at @p now.
 * @return 0, NAT_EINVAL (NULL, a target without an IP or port, no rand,
 *         max_ttl or rounds out of range), NAT_ENOMEM. */
NAT_EXTERN int nat_hops_new(nat_hops **out, const nat_hops_config *cfg,
                            nat_tstamp now);

/** Free the probe. NULL is fine. */
NAT_EXTERN void nat_hops_free(nat_hops *h);

/** The next datagram due at @p now into @p s.
 * @return 1 if @p s holds one, 0 if nothing is due, NAT_EINVAL. */
NAT_EXTERN int nat_hops_next_send(nat_hops *h, nat_tstamp now,
                                  nat_hops_send *s);

/** A datagram arrived on the probing socket from @p from. Feed every
 * datagram here before the behaviour tests see it: the probe's own
 * answers (its prefix, even late or after the probe ended) are consumed.
 * @return 0 if it was the probe's (matched, or refused as a duplicate,
 *         a late answer or one from another source), NAT_ENOTFOUND if it
 *         is not (not STUN, another transaction ID), NAT_EINVAL. */
NAT_EXTERN int nat_hops_recv(nat_hops *h, nat_tstamp now, const nat_addr *from,
                             const uint8_t *buf, size_t len);

/** An ICMP report arrived (see the matching rules above).
 * @return 0 if it was matched to a TTL, NAT_ENOTFOUND if it is not the
 *         probe's (or comes after it ended, or matches nothing),
 *         NAT_EINVAL. */
NAT_EXTERN int nat_hops_report_icmp(nat_hops *h, nat_tstamp now,
                                    const nat_hops_report *r);

/** When nat_hops_handle_expiry() or next_send has work next;
 * NAT_TSTAMP_MAX when done. */
NAT_EXTERN nat_tstamp nat_hops_get_expiry(const nat_hops *h);

/** Run the timers due at @p now (rounds, the end). */
NAT_EXTERN void nat_hops_handle_expiry(nat_hops *h, nat_tstamp now);

/** End the probe now: nothing more is sent or matched. */
NAT_EXTERN void nat_hops_cancel(nat_hops *h);

/** True when the probe has ended. */
NAT_EXTERN bool nat_hops_done(const nat_hops *h);

/** The hop list so far into @p out. */
NAT_EXTERN void nat_hops_get(const nat_hops *h, nat_hop_list *out);

/** "silent", "time-exceeded", "unreachable", "server"; "?" otherwise. */
NAT_EXTERN const char *nat_hop_kind_name(uint8_t kind);

#ifdef __cplusplus
}
#endif
#endif
