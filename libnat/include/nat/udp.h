/* libnat -- the UDP driver: one libuv UDP socket carrying STUN transactions
 * (through a nat_txn_mgr) and any other datagrams (QUIC, later).
 *
 * Demultiplexing (QUIC greases the fixed bit, so the first byte alone does
 * not tell STUN from QUIC): a datagram goes to the transaction layer only
 * if nat_stun_is_stun() holds (top two bits 00, magic cookie, exact length),
 * or if it decodes as a classic RFC 3489 response whose transaction ID
 * matches a live transaction. Everything else -- requests and indications
 * for this endpoint, and non-STUN data -- goes to the receive callback.
 *
 * Responses the transaction layer refuses: an "unmatched" one (a success
 * or error response whose transaction ID matches no live or recently ended
 * transaction of this socket's manager: it belongs to another STUN agent
 * sharing the socket, such as nat_check's connectivity checks) goes to the
 * receive callback, and is still counted in stats.txn.unmatched. A late
 * duplicate of one of our own ended transactions (txn.duplicates), a
 * response to a live transaction from the wrong source (txn.spoofed) and
 * a malformed message (txn.malformed) are dropped.
 *
 * Callback rule: when a call that takes a callback fails at once, the
 * callback is never called.
 *
 * In the tree: libnat/src/io/ (this header is its main one, with resolve.h
 * and netcheck.h): the libuv drivers of the sans-I/O core. A datagram enters
 * the library here (udp.c: one socket, demultiplexed to txn/ or to the
 * receiver: quic/, the checks of punch/, rdv/); names resolve (resolve.c),
 * interfaces are listed (cand_gather.c), netcheck runs the probe/ plan
 * (netcheck.c) and the hop probe beside it (netcheck_hops.c: TTL-limited
 * sends, the socket's ICMP error queue). A driver folder: it may include
 * <uv.h>.
 */
#ifndef NAT_UDP_H
#define NAT_UDP_H

#include <stdbool.h>
#include <uv.h>

#include "nat/addr.h"
#include "nat/common.h"
#include "nat/stun.h"
#include "nat/txn.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct nat_udp nat_udp;

typedef struct nat_udp_config {
  /** Local address to bind: family, IP (may be the unspecified address) and
   * port (0 for an ephemeral one). Required. */
  nat_addr bind;
  /** Transaction layer settings (zero fields take defaults). */
  nat_txn_config txn;
  /** SOFTWARE attribute for requests built by nat_udp_binding(); NULL for
   * none. Copied. */
  const char *software;
  /** Randomness for transaction IDs; NULL uses nat_rand_system(). */
  nat_rand_fn rand;
  void *rand_ctx;
} nat_udp_config;

/** Called when a transaction started on @p u ends (see nat_txn_result). */
typedef void (*nat_udp_stun_cb)(nat_udp *u, void *arg, const nat_txn_result *r);
/** Called for each datagram that is not for this socket's transactions:
 * non-STUN data, STUN requests and indications, and unmatched STUN
 * responses (see the top of this file). @p msg is the view the
 * demultiplexer decoded (a datagram is decoded once: pass it on rather
 * than decode @p buf again), or NULL when the datagram is not STUN or did
 * not decode. @p buf and @p msg (which points into @p buf, the socket's
 * receive buffer) are valid during the call only. */
typedef void (*nat_udp_recv_cb)(nat_udp *u, void *arg, const nat_addr *from,
                                const uint8_t *buf, size_t len,
                                const nat_stun_msg *msg);
typedef void (*nat_udp_close_cb)(nat_udp *u, void *arg);

/** Counters kept by the driver (the transaction layer's are added). */
typedef struct nat_udp_stats {
  nat_txn_stats txn;
  uint64_t datagrams_in;
  uint64_t datagrams_out;
  uint64_t send_errors;
  uint64_t queued_max;  /**< longest the send queue has been */
  uint64_t recv_errors; /**< failed reads and truncated datagrams (dropped) */
} nat_udp_stats;

/** Open and bind a socket on @p loop. @p cfg is copied.
 * When bind fails, the libuv handles already made are closed from the loop:
 * run it once more before uv_loop_close().
 * @return 0, NAT_EINVAL, NAT_ENOMEM, or a UV_E* code from bind (for example
 *         UV_EADDRINUSE, UV_EADDRNOTAVAIL). */
NAT_EXTERN int nat_udp_new(nat_udp **out, uv_loop_t *loop,
                           const nat_udp_config *cfg);

/** The bound local address (with the port the kernel chose).
 * @return 0 or a UV_E* code. */
NAT_EXTERN int nat_udp_local_addr(const nat_udp *u, nat_addr *out);

/** Send a Binding request to @p dst, with CHANGE-REQUEST @p change_flags
 * if non-zero (RFC 5780), SOFTWARE if configured, and FINGERPRINT.
 * @p opts as in nat_txn_start (NULL: expect the response from @p dst).
 * @p tid_out, if not NULL, gets the transaction ID.
 * @return 0, NAT_ECLOSING, NAT_EBADFAMILY (dst family differs from the
 *         socket's), or nat_txn_start()'s errors. */
NAT_EXTERN int nat_udp_binding(nat_udp *u, const nat_addr *dst,
                               uint32_t change_flags, const nat_txn_opts *opts,
                               nat_udp_stun_cb cb, void *arg,
                               uint8_t tid_out[NAT_STUN_TID_LEN]);

/** Start a transaction with a request the caller encoded (authenticated
 * checks, classic RFC 3489 requests). @p req is copied.
 * @return as nat_udp_binding. */
NAT_EXTERN int nat_udp_request(nat_udp *u, const nat_addr *dst,
                               const uint8_t *req, size_t len,
                               const nat_txn_opts *opts, nat_udp_stun_cb cb,
                               void *arg);

/** A fresh random transaction ID from the socket's random source. */
NAT_EXTERN void nat_udp_new_tid(nat_udp *u, uint8_t tid[NAT_STUN_TID_LEN]);

/** Send a raw datagram (copied). Sends are queued, never dropped when the
 * socket would block. @return 0, NAT_ECLOSING, NAT_ENOMEM, NAT_EBADFAMILY. */
NAT_EXTERN int nat_udp_send(nat_udp *u, const nat_addr *dst, const uint8_t *buf,
                            size_t len);

/** Send one datagram (@p buf is not kept) with the IPv4 TTL or IPv6 hop
 * limit @p ttl instead of the socket's: for datagrams meant to die on the
 * way, such as the agent's hole openers (agent.h). The socket's own value
 * is restored before this returns. Sent at once or not at all: never
 * queued.
 * @return 0, NAT_EINVAL (@p ttl outside 1..255), NAT_ECLOSING,
 *         NAT_EBADFAMILY, NAT_EBADADDR, NAT_EAGAIN (the socket would block,
 *         or earlier datagrams are still queued), or a UV_E* code from the
 *         socket options or the send. */
NAT_EXTERN int nat_udp_send_ttl(nat_udp *u, const nat_addr *dst,
                                const uint8_t *buf, size_t len, int ttl);

/** ECN codepoints (RFC 3168 section 5): the two low bits of the IPv4 TOS
 * byte or the IPv6 traffic class. */
#define NAT_ECN_NOT_ECT 0x0
#define NAT_ECN_ECT1    0x1
#define NAT_ECN_ECT0    0x2
#define NAT_ECN_CE      0x3

/** Send a raw datagram (copied) marked with the ECN codepoint @p ecn (the
 * other bits of the TOS / traffic class byte are 0), as QUIC does once
 * its ECN validation (RFC 9000 section 13.4) asks for ECT(0). Only this
 * datagram is marked: the socket's other sends stay Not-ECT. A datagram
 * that must wait behind queued ones (the socket would block) is queued
 * like nat_udp_send()'s and leaves unmarked (libuv's queued send takes no
 * control data): QUIC's validation then sees the mark lost and stops
 * marking, as for a path that clears it.
 * @return 0, NAT_EINVAL (@p ecn above 3), NAT_ECLOSING, NAT_ENOMEM,
 *         NAT_EBADFAMILY. */
NAT_EXTERN int nat_udp_send_ecn(nat_udp *u, const nat_addr *dst,
                                const uint8_t *buf, size_t len, unsigned ecn);

/** The ECN codepoint (NAT_ECN_*) the datagram being delivered to the
 * receive callback arrived with (IP_RECVTOS / IPV6_RECVTCLASS); valid
 * during the receive callback only, NAT_ECN_NOT_ECT outside it. */
NAT_EXTERN unsigned nat_udp_recv_ecn(const nat_udp *u);

/** Set the callback for datagrams that are not for this socket's
 * transactions (non-STUN, requests, indications, unmatched responses).
 * NULL drops them. */
NAT_EXTERN void nat_udp_set_recv_cb(nat_udp *u, nat_udp_recv_cb cb, void *arg);

/** Feed an RTT measured elsewhere to the RTO estimator. */
NAT_EXTERN void nat_udp_seed_rtt(nat_udp *u, nat_tstamp rtt);

NAT_EXTERN void nat_udp_stats_get(const nat_udp *u, nat_udp_stats *out);

/** The loop's clock in nanoseconds (uv_hrtime()). */
NAT_EXTERN nat_tstamp nat_udp_now(void);

/** Close: live transactions end with NAT_ECANCELED (their callbacks run
 * first), then the socket and timer close; @p cb runs after the last handle
 * has closed, and @p u is freed after it returns. */
NAT_EXTERN void nat_udp_close(nat_udp *u, nat_udp_close_cb cb, void *arg);

#ifdef __cplusplus
}
#endif
#endif
