/* libnat -- STUN client transactions, sans I/O.
 *
 * RFC 8489 section 6.2.1 (retransmission over UDP) and 6.3 (receiving a
 * response). The manager neither sends nor reads a clock: the caller passes
 * `now` in, asks for datagrams to send with nat_txn_mgr_next_send(), feeds
 * received datagrams to nat_txn_mgr_recv(), and calls
 * nat_txn_mgr_handle_expiry() when nat_txn_mgr_get_expiry() is reached.
 * Results come out through the callback given at nat_txn_mgr_new(), called
 * synchronously from nat_txn_mgr_recv(), nat_txn_mgr_handle_expiry() or
 * nat_txn_mgr_cancel().
 *
 * Retransmission: the request is sent at t0, then after RTO, 2*RTO, 4*RTO,
 * ... (doubling, capped at rto_max) for Rc transmissions in all; after the
 * last one the transaction fails with NAT_ETIMEDOUT Rm*RTO later. With the
 * RFC's defaults (RTO 500 ms, Rc 7, Rm 16) sends go at 0, 0.5, 1.5, 3.5, 7.5,
 * 15.5, 31.5 s and the timeout at 39.5 s.
 *
 * RTO adapts: each response to a transaction that was sent once gives an RTT
 * sample (Karn's rule), feeding SRTT/RTTVAR as in RFC 6298; the RTO of new
 * transactions is then SRTT + 4*RTTVAR, clamped to [rto_min, rto_max].
 * nat_txn_mgr_seed_rtt() seeds it from an RTT measured elsewhere.
 *
 * In the tree: libnat/src/txn/ (this header is its main one): client
 * transactions over the stun/ codec: requests out (retransmitted), decoded
 * responses in, results to the caller. Uses stun/ and base/; io/'s nat_udp
 * and probe/ drive it.
 */
#ifndef NAT_TXN_H
#define NAT_TXN_H

#include <stdbool.h>

#include "nat/addr.h"
#include "nat/common.h"
#include "nat/stun.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct nat_txn_mgr nat_txn_mgr;

/** Configuration, copied by nat_txn_mgr_new(). Zero fields take defaults. */
typedef struct nat_txn_config {
  nat_tstamp rto;     /**< initial RTO; default 500 ms */
  nat_tstamp rto_min; /**< lower bound of the adaptive RTO; default 50 ms */
  nat_tstamp rto_max; /**< upper bound of one retransmission interval and
                           of the adaptive RTO; default 60 s (RFC 6298's
                           maximum), so the defaults give RFC 8489's
                           schedule */
  unsigned rc;        /**< transmissions in all; default 7 */
  unsigned rm;        /**< final wait in RTOs; default 16 */
  size_t max_txns;    /**< concurrent transactions; default 1024 */
} nat_txn_config;

/** How a transaction ended. */
typedef struct nat_txn_result {
  void *user;                   /**< as given to nat_txn_start() */
  int status;                   /**< 0: a success or error response arrived;
                                     NAT_ETIMEDOUT; NAT_ECANCELED */
  const nat_stun_msg *response; /**< valid during the callback only; NULL
                                     unless status == 0 */
  nat_addr from;                /**< source of the response */
  nat_addr dst;                 /**< where the request went */
  uint8_t tid[NAT_STUN_TID_LEN];
  nat_tstamp rtt;         /**< now - time of the first transmission */
  nat_tstamp rtt_last;    /**< now - time of the last transmission */
  unsigned transmissions; /**< how many times the request was sent */
} nat_txn_result;

/** Called once per transaction when it ends. The manager may be used from
 * inside the callback (start, cancel), but not freed. */
typedef void (*nat_txn_cb)(void *cb_arg, const nat_txn_result *result);

/** Counters of what nat_txn_mgr_recv() refused. */
typedef struct nat_txn_stats {
  uint64_t sent; /**< datagrams handed out (first + retransmissions) */
  uint64_t retransmits;
  uint64_t responses; /**< responses matched to a live transaction */
  uint64_t timeouts;
  uint64_t malformed;    /**< failed nat_stun_decode() */
  uint64_t not_response; /**< requests/indications (not for the client) */
  uint64_t unmatched;    /**< no transaction with that ID */
  uint64_t duplicates;   /**< ID of a transaction that already ended */
  uint64_t spoofed;      /**< right ID, wrong source address */
} nat_txn_stats;

/** Options of one transaction. */
typedef struct nat_txn_opts {
  /** Accept the response only from this address (RFC 5780 CHANGE-REQUEST
   * tests expect it from the server's other address). NULL: from @p dst. */
  const nat_addr *expect_from;
  /** Accept the response from any source (still reported in result.from). */
  bool any_source;
  /** Override the RTO for this transaction (0: the manager's current). */
  nat_tstamp rto;
  /** Override Rc for this transaction (0: the manager's). */
  unsigned rc;
} nat_txn_opts;

/** Create a manager. @p cfg is copied (NULL: defaults).
 * @return 0, NAT_EINVAL (NULL out or cb, rc == 0 after defaults, rto_min >
 *         rto_max), NAT_ENOMEM. */
NAT_EXTERN int nat_txn_mgr_new(nat_txn_mgr **out, const nat_txn_config *cfg,
                               nat_txn_cb cb, void *cb_arg);

/** Free the manager. Live transactions are dropped without callbacks. */
NAT_EXTERN void nat_txn_mgr_free(nat_txn_mgr *m);

/** Start a transaction: @p req (@p len bytes, a request whose transaction ID
 * is the key) is copied; its first transmission is due at @p now.
 * @return 0, NAT_EINVAL (not a decodable STUN request, len too large),
 *         NAT_EEXIST (transaction ID in use), NAT_EBUSY (max_txns reached),
 *         NAT_ENOMEM. On failure the callback is never called. */
NAT_EXTERN int nat_txn_start(nat_txn_mgr *m, nat_tstamp now,
                             const nat_addr *dst, const uint8_t *req,
                             size_t len, const nat_txn_opts *opts, void *user);

/** Cancel the transaction with ID @p tid: its callback runs with
 * NAT_ECANCELED. @return 0 or NAT_ENOTFOUND. */
NAT_EXTERN int nat_txn_cancel(nat_txn_mgr *m, const uint8_t tid[12]);

/** Cancel every live transaction (callbacks run with NAT_ECANCELED). */
NAT_EXTERN void nat_txn_cancel_all(nat_txn_mgr *m);

/** Copy the next datagram due at or before @p now into @p buf and its
 * destination into @p dst; marks it sent (and schedules its retransmission).
 * @return its length, 0 if nothing is due, NAT_ENOBUFS if @p cap is too
 *         small (nothing is consumed). */
NAT_EXTERN ssize_t nat_txn_mgr_next_send(nat_txn_mgr *m, nat_tstamp now,
                                         uint8_t *buf, size_t cap,
                                         nat_addr *dst);

/** Earliest time at which nat_txn_mgr_handle_expiry() or
 * nat_txn_mgr_next_send() has work; NAT_TSTAMP_MAX if none. */
NAT_EXTERN nat_tstamp nat_txn_mgr_get_expiry(const nat_txn_mgr *m);

/** Time out transactions whose final wait ended (callbacks run with
 * NAT_ETIMEDOUT) and make due retransmissions available to next_send. */
NAT_EXTERN void nat_txn_mgr_handle_expiry(nat_txn_mgr *m, nat_tstamp now);

/** Feed a received datagram. A success or error response matching a live
 * transaction from the expected source ends it (callback with status 0).
 * @return 0 if it was consumed as a response, else the reason it was
 *         refused (and counted): a decode error code, NAT_ENOTFOUND
 *         (unmatched, duplicate), NAT_EBADADDR (spoofed source),
 *         NAT_EINVAL (not a response). */
NAT_EXTERN int nat_txn_mgr_recv(nat_txn_mgr *m, nat_tstamp now,
                                const nat_addr *from, const uint8_t *buf,
                                size_t len);

/** nat_txn_mgr_recv() for a datagram the caller has decoded already, so
 * that a receive path that must decode to demultiplex (nat_udp) decodes
 * each datagram once: @p decoded is what nat_stun_decode() returned for it
 * and @p msg the view it filled. A negative @p decoded (STUN by its header,
 * but malformed) is counted as malformed and returned; @p msg is then not
 * read. The view (and the datagram it points into) need only last for the
 * call; the transaction's callback gets the same view.
 * @return as nat_txn_mgr_recv(); NAT_EINVAL for NULL arguments. */
NAT_EXTERN int nat_txn_mgr_recv_msg(nat_txn_mgr *m, nat_tstamp now,
                                    const nat_addr *from,
                                    const nat_stun_msg *msg, ssize_t decoded);

/** Feed the RTO estimator one RTT sample measured elsewhere. */
NAT_EXTERN void nat_txn_mgr_seed_rtt(nat_txn_mgr *m, nat_tstamp rtt);

/** The RTO new transactions will use. */
NAT_EXTERN nat_tstamp nat_txn_mgr_rto(const nat_txn_mgr *m);

/** Number of live transactions. */
NAT_EXTERN size_t nat_txn_mgr_count(const nat_txn_mgr *m);

/** Counters since creation. */
NAT_EXTERN void nat_txn_mgr_stats(const nat_txn_mgr *m, nat_txn_stats *out);

/** Fill @p tid with a random transaction ID from @p rand. */
NAT_EXTERN void nat_txn_new_tid(nat_rand_fn rand, void *rand_ctx,
                                uint8_t tid[NAT_STUN_TID_LEN]);

#ifdef __cplusplus
}
#endif
#endif
