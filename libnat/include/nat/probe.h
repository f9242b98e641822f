/* libnat -- the behaviour-discovery probe plan, sans I/O.
 *
 * RFC 5780 section 4 (behaviour discovery: 4.3 mapping, 4.4 filtering,
 * 4.5 hairpinning, 4.6 binding lifetime), RFC 4787 (terms), RFC 8489
 * section 6.2.1 (retransmission). The plan decides which sockets to open and
 * which Binding requests to send, runs every transaction itself (one
 * nat_txn_mgr per transaction, so each gets its own retransmission
 * schedule), answers Binding requests on the hairpinning target socket
 * (nat/stunsrv.h), and records every transaction in an observation log in
 * the shapes nat/verdict.h expects. It does no I/O and reads no clock: the
 * driver (netcheck, or a test with a simulated network) runs this loop
 * (the ngtcp2 model):
 *
 *     nat_probe_new(&p, &cfg, now);
 *     while (!nat_probe_done(p)) {
 *       while (nat_probe_next_action(p, now, &a) > 0)
 *         OPEN: bind a UDP socket of a.family to any:0, then
 *               nat_probe_socket_opened(p, now, a.sock, status, &local);
 *         SEND: send a.data (a.len bytes) from socket a.sock to a.dst;
 *       wait until nat_probe_get_expiry(p) or a datagram arrives:
 *         nat_probe_recv(p, now, sock, &from, buf, len);
 *         nat_probe_handle_expiry(p, now);
 *     }
 *     nat_verdict_compute(&v, nat_probe_log(p));
 *
 * Sockets stay open until the plan is done; the driver then closes them.
 *
 * Sequencing, per address family and both families concurrently:
 *  - at once: a Binding request from socket S0 to every server (basic, which
 *    also learns OTHER-ADDRESS and the RTT); a new socket SF sends the
 *    filtering test's opening request to the primary server (the forced
 *    RFC 5780 server if any, else the first of the family) and, in the same
 *    instant, CHANGE-REQUEST change-IP-and-port and change-port to it,
 *    accepting the response from any source so that a server that ignores
 *    CHANGE-REQUEST is recorded (nat_obs.from); the opening request leaves
 *    first and makes the mapping before any answer can come back. The
 *    allocation test's fresh sockets each send one request to the primary
 *    server, one after another in the same instant. A primary server that
 *    turns out not to do RFC 5780 only makes the change requests unusable:
 *    it refuses them (error), answers from its own address (ignored) or
 *    drops them without advertising OTHER-ADDRESS, and nat/verdict.h reads
 *    each of these as "unknown", never as a filtering type.
 *  - when a server answers with OTHER-ADDRESS (the "RFC 5780 server"): S0
 *    sends the mapping test to IP1:P1, IP2:P1 and IP2:P2; if that server is
 *    not the one SF asked at t0, a new SF sends the opening and change
 *    requests to it;
 *  - when S0 learns its mapped address and it differs from the local one,
 *    and socket B (the first allocation socket) has its own mapping, at
 *    about 1 RTT: S0 sends B's mapped address a Binding indication (as a
 *    hole punch would), B sends a Binding request to S0's mapped address,
 *    and S0 answers it (hairpinning);
 *  - when the last allocation socket is answered: it also sends to the
 *    server's other addresses and to the other servers (one socket, several
 *    destinations);
 *  - without any RFC 5780 server: when every basic request has ended, S0
 *    sends the mapping test to each server that answered (the analyzer
 *    compares them); filtering is not measured (the change requests sent
 *    at t0 are not used).
 *  - lifetime (opt-in), RFC 5780 section 4.6 with RESPONSE-PORT: a socket
 *    X_k makes a mapping with a request to IP1:P1; after X_k has been idle
 *    T_k, socket Y asks IP1:P1 with RESPONSE-PORT = X_k's mapped port: the
 *    response reaches X_k only while X_k's mapping lives. All ladder probes
 *    run concurrently with T_k = lifetime_max / 1.5^(K-1-k), k = 0..K-1
 *    (K = 8), after a control probe with T = 0 that proves the server
 *    honours RESPONSE-PORT; the test takes lifetime_max plus a few RTTs and
 *    brackets the lifetime within a factor 1.5. nat_obs.idle records the
 *    idle time the probe really had, not T_k: from X_k's last outbound
 *    datagram (the last transmission of its answered mapping request) to
 *    the probe's FIRST transmission, as handed out by next_action (a
 *    driver that runs late makes it longer). An answer proves the mapping
 *    outlived that idle time (whichever transmission it answers was sent
 *    no earlier); no answer to any transmission proves it gone by then
 *    (Y's retransmissions do not refresh X_k's mapping). Both are exact to
 *    within the datagrams' transit time.
 *
 * Timeouts of a request that should be answered (basic, mapping,
 * allocation, the filtering test's opening request, lifetime): until a
 * server has answered, rto (default 100 ms) doubling up to 4 * rto, 7
 * transmissions, final wait 4 * rto. Once the RTT to a server is known,
 * requests to it are sent at a fixed interval R = max(1.5 * RTT, rto_min)
 * (default rto_min 20 ms), rc times in all (default 10), and fail 2 R after
 * the last one (RTT: the smallest clean sample to that server, as queueing
 * only inflates samples). A request still unanswered when the RTT becomes
 * known moves to that schedule (its next transmission R after its last
 * one, rc in all, the same transaction ID so that an answer to an earlier
 * copy counts; Karn: no RTT sample from it). Never a fixed multi-second
 * wait. When loss leaves only retransmitted exchanges (Karn's rule gives
 * no sample), the RTT is their upper bound: the time from the first
 * transmission to the answer (never a lower bound, which can be far below
 * the RTT and would cut a silence short).
 *
 * Silence as a result: the filtering test's change requests and the
 * hairpin request, whose missing answer means "filtered" or "no
 * hairpinning", send rc copies (default 10) spread over RTT / 2 (over
 * rto / 2 while the RTT is unknown; at least 1 ms apart), and conclude "no
 * answer" (NAT_ETIMEDOUT) when RTT + max(RTT / 2, rto_min) has passed
 * since the last copy (while nothing has been answered, the RTT may be
 * long: 2.3 s, as long as a request sent before the RTT is known lives;
 * the wait follows the RTT as soon as one is known). Each copy is a round trip
 * of its own, answered if the path lets answers in: with loss q each way a
 * round trip is lost with p = 1 - (1 - q)^2 (q = 10 %: p = 0.19; q = 20 %:
 * p = 0.36), and a wrong "filtered" needs all copies lost: p^rc. For it to
 * be below 1e-4 at 20 % loss, rc >= log(1e-4) / log(0.36) = 9.02, so
 * rc = 10: 0.36^10 = 3.7e-5 (0.19^10 = 6e-8 at 10 % loss; 6 copies, as
 * before, gave 0.36^6 = 2.2e-3 at 20 %). This assumes independent losses:
 * copies spread over half an RTT rather than sent back to back still
 * guard against short bursts, not against an outage longer than that. At
 * 40 ms RTT without loss a report (every test but lifetime) ends by 3 RTT:
 * the mapping and hairpin tests start at 1 RTT, and a hairpin request that
 * nothing answers ends 2 RTT later (RTT / 2 of copies, 1.5 RTT of
 * silence); the change requests, started at t0, end at about 110 ms.
 *
 * A request whose schedule would outlive the deadline is shrunk to end
 * 20 ms before it (intervals down to RTT / 2, then fewer transmissions; a
 * silence request concludes 20 ms before it), so that "no answer" is
 * concluded rather than cut off as "not made".
 *
 * In the tree: libnat/src/probe/ (this header is its main one): the plan
 * (probe_plan.c: which tests, sockets and requests) and its mechanism
 * (probe.c: transactions, deadlines, observations), which call each other as
 * policy and mechanism; the hop probe (hops.c, nat/hops.h) beside them.
 * Uses txn/, stun/; its observations go to analyze/. Pure; io/netcheck.c
 * drives it.
 */
#ifndef NAT_PROBE_H
#define NAT_PROBE_H

#include <stdbool.h>

#include "nat/addr.h"
#include "nat/common.h"
#include "nat/obs.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Tests (bits of nat_probe_config.tests). The basic test always runs. */
#define NAT_PROBE_MAPPING    0x01u /**< RFC 5780 section 4.3 */
#define NAT_PROBE_FILTERING  0x02u /**< RFC 5780 section 4.4 */
#define NAT_PROBE_HAIRPIN    0x04u /**< RFC 5780 section 4.5 */
#define NAT_PROBE_ALLOCATION 0x08u /**< port allocation samples */
#define NAT_PROBE_LIFETIME   0x10u /**< RFC 5780 section 4.6 (opt-in) */
/** The basic test: always runs; give it alone for no behaviour tests
 * (tests == 0 means NAT_PROBE_DEFAULT). */
#define NAT_PROBE_BASIC 0x20u
#define NAT_PROBE_DEFAULT                                                      \
  (NAT_PROBE_MAPPING | NAT_PROBE_FILTERING | NAT_PROBE_HAIRPIN |               \
   NAT_PROBE_ALLOCATION)

/** Servers the plan accepts. */
#define NAT_PROBE_MAX_SERVERS 32
/** Sockets the plan may ask for in one run. */
#define NAT_PROBE_MAX_SOCKETS 128
/** Default and largest number of fresh allocation sockets per family. */
#define NAT_PROBE_ALLOC_DEFAULT 16
#define NAT_PROBE_ALLOC_MAX     32
/** Probes of the lifetime ladder (the control probe not counted). */
#define NAT_PROBE_LIFETIME_STEPS 8

/** One resolved server. */
typedef struct nat_probe_server {
  nat_addr addr;       /**< where its primary address is (IP1:P1) */
  uint16_t server_idx; /**< the caller's index, copied into nat_obs */
  /** The user named this as the RFC 5780 server (--rfc5780-server): the
   * behaviour tests of its family use it and no other. */
  bool rfc5780;
} nat_probe_server;

/** Configuration, copied by nat_probe_new(). Zero fields take defaults. */
typedef struct nat_probe_config {
  const nat_probe_server *servers; /**< 1..NAT_PROBE_MAX_SERVERS */
  size_t nservers;
  unsigned tests;          /**< NAT_PROBE_* bits; 0: NAT_PROBE_DEFAULT */
  unsigned alloc_samples;  /**< fresh sockets; default 16, at most 32 */
  nat_tstamp rto;          /**< before the RTT is known; default 100 ms */
  nat_tstamp rto_min;      /**< floor of the RTT-based interval; 20 ms */
  unsigned rc;             /**< transmissions once the RTT is known, and
                                copies of a request whose silence is a
                                result (see the top); default 10 */
  nat_tstamp deadline;     /**< overall bound from nat_probe_new()'s now;
                                when reached, transactions still under way
                                end with NAT_ECANCELED; 0: none */
  nat_tstamp lifetime_max; /**< longest idle time tried; default 60 s */
  const char *software;    /**< SOFTWARE in requests, copied; NULL none */
  nat_rand_fn rand;        /**< required: transaction IDs */
  void *rand_ctx;
} nat_probe_config;

/** What the plan asks the driver to do. */
typedef enum nat_probe_action_kind {
  NAT_PROBE_ACT_NONE = 0,
  NAT_PROBE_ACT_OPEN = 1, /**< open socket `sock` of `family` on any:0 */
  NAT_PROBE_ACT_SEND = 2  /**< send `data` from socket `sock` to `dst` */
} nat_probe_action_kind;

typedef struct nat_probe_action {
  uint8_t kind;        /**< nat_probe_action_kind */
  unsigned sock;       /**< socket number, 0..NAT_PROBE_MAX_SOCKETS-1 */
  uint8_t family;      /**< OPEN: NAT_AF_INET or NAT_AF_INET6 */
  nat_addr dst;        /**< SEND: destination */
  const uint8_t *data; /**< SEND: valid until the next call on the plan */
  size_t len;
} nat_probe_action;

/** Counters of what the plan received and refused. Refused datagrams are
 * counted and never trusted. */
typedef struct nat_probe_stats {
  uint64_t sent;         /**< datagrams handed out (requests, retransmits,
                              answers) */
  uint64_t retransmits;  /**< of which retransmissions */
  uint64_t received;     /**< datagrams fed to nat_probe_recv() */
  uint64_t responses;    /**< matched to a live transaction */
  uint64_t served;       /**< Binding requests answered (hairpin target) */
  uint64_t malformed;    /**< not decodable as STUN */
  uint64_t spoofed;      /**< right transaction ID, wrong source */
  uint64_t unmatched;    /**< unknown transaction ID (or arrived on a socket
                              it was not meant for) */
  uint64_t duplicates;   /**< ID of a transaction that already ended */
  uint64_t not_response; /**< requests/indications on a socket that does
                              not answer them */
} nat_probe_stats;

/** What happened to one test (over both families). */
typedef struct nat_probe_test_info {
  unsigned transactions; /**< recorded in the log */
  nat_tstamp start;      /**< first request, ns since the plan began */
  nat_tstamp end;        /**< last transaction ended */
  /** Why the test did not run or is incomplete (a static string), NULL if
   * it ran. */
  const char *skipped;
} nat_probe_test_info;

typedef struct nat_probe nat_probe;

/** Create a plan starting at @p now. @p cfg is copied (servers too).
 * @return 0, NAT_EINVAL (NULL argument, no server, more than
 *         NAT_PROBE_MAX_SERVERS, a server without an address family, no
 *         rand, alloc_samples over 32, unknown test bits), NAT_ENOMEM. */
NAT_EXTERN int nat_probe_new(nat_probe **out, const nat_probe_config *cfg,
                             nat_tstamp now);

/** Free the plan (and its log). NULL is fine. */
NAT_EXTERN void nat_probe_free(nat_probe *p);

/** The next thing to do at @p now, into @p a.
 * @return 1 if @p a holds an action, 0 if there is nothing to do now,
 *         NAT_EINVAL. */
NAT_EXTERN int nat_probe_next_action(nat_probe *p, nat_tstamp now,
                                     nat_probe_action *a);

/** The driver opened (status 0) socket @p sock, bound to @p local (a
 * concrete local IP, the one routes to the servers use, and the port the
 * kernel chose), or failed to (status < 0: every request of that socket is
 * recorded with that status).
 * @return 0, NAT_EINVAL (unknown socket, not waiting to be opened). */
NAT_EXTERN int nat_probe_socket_opened(nat_probe *p, nat_tstamp now,
                                       unsigned sock, int status,
                                       const nat_addr *local);

/** A datagram arrived on socket @p sock from @p from.
 * @return 0 if it was consumed (a response, or a request answered),
 *         else why it was refused (and counted): NAT_EINVAL (a request or
 *         indication not served here), NAT_ENOTFOUND (unmatched or
 *         duplicate), NAT_EBADADDR (spoofed), a decode error. */
NAT_EXTERN int nat_probe_recv(nat_probe *p, nat_tstamp now, unsigned sock,
                              const nat_addr *from, const uint8_t *buf,
                              size_t len);

/** When nat_probe_handle_expiry() (or next_action) has work next;
 * NAT_TSTAMP_MAX if none. */
NAT_EXTERN nat_tstamp nat_probe_get_expiry(const nat_probe *p);

/** Run timers due at @p now: retransmissions, transaction timeouts,
 * lifetime probes, the overall deadline. */
NAT_EXTERN void nat_probe_handle_expiry(nat_probe *p, nat_tstamp now);

/** Stop: transactions under way end with NAT_ECANCELED (and are recorded),
 * nothing new starts. */
NAT_EXTERN void nat_probe_cancel(nat_probe *p, nat_tstamp now);

/** True when no transaction is under way or planned. */
NAT_EXTERN bool nat_probe_done(const nat_probe *p);

/** The observations so far (valid until the plan is freed). */
NAT_EXTERN const nat_obslog *nat_probe_log(const nat_probe *p);

/** Counters since creation. */
NAT_EXTERN void nat_probe_stats_get(const nat_probe *p, nat_probe_stats *out);

/** What happened to test @p test (a nat_obs_test).
 * @return 0, NAT_EINVAL. */
NAT_EXTERN int nat_probe_test_info_get(const nat_probe *p, uint8_t test,
                                       nat_probe_test_info *out);

/** The RTT of @p family: per server the smallest first-transmission
 * sample, the largest of those over the family's servers (0: none yet). */
NAT_EXTERN nat_tstamp nat_probe_rtt(const nat_probe *p, uint8_t family);

#ifdef __cplusplus
}
#endif
#endif
