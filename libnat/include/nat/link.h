/* libnat -- a one-direction link impairment model, sans I/O.
 *
 * The model behind natbox's delay line (natlab has no netem qdisc): packets
 * and a `now` go in, and come out again at their release time, delayed,
 * jittered, lost, duplicated or reordered as configured. One nat_link is one
 * direction; a bidirectional link is two of them. The model does no I/O and
 * reads no clock; all randomness comes from the seed, so a run repeats
 * exactly (the same seed and the same calls give the same packets at the
 * same times).
 *
 * The model, per submitted packet (four random draws are made for every
 * packet, whatever the configuration, so that enabling one impairment does
 * not change the pattern of another for the same seed):
 *
 * - loss: dropped with probability `loss`, independently (Bernoulli; no
 *   burst model).
 * - delay and jitter: release = now + delay + U, U uniform in
 *   [-jitter, +jitter] (never before `now`). Jitter does not reorder: a
 *   packet is never released before the previous (not reordered) packet,
 *   so its release time is max(that, previous release). This only ever
 *   shortens the spread, never leaves [delay - jitter, delay + jitter].
 * - rate (optional): the link serialises packets at `rate_bps` bits/s; a
 *   packet's release is also no earlier than the moment its last bit has
 *   been sent after the previous packet (a token-free FIFO bottleneck with
 *   the queue bound below as its buffer).
 * - reorder: with probability `reorder` a packet is "held back": it gets
 *   `reorder_gap` (default: 1 ms) on top of the release time it would have
 *   had in order, and it does not hold back later packets, so packets
 *   submitted less than about reorder_gap after it overtake it (and it can
 *   never overtake an earlier packet). A packet with no later packet in that
 * window is still counted as reordered (the model marks, the traffic decides).
 * - duplicate: with probability `duplicate` a second copy is queued with the
 *   same release time, right after the first.
 *
 * Packets due at the same time leave in submission order (FIFO).
 * The queue is bounded (`max_queue` packets); a packet that does not fit is
 * dropped and counted as an overflow.
 */
#ifndef NAT_LINK_H
#define NAT_LINK_H

#include <stdbool.h>

#include "nat/common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct nat_link nat_link;

typedef struct nat_link_config {
  nat_tstamp delay;       /**< one-way base delay, ns */
  nat_tstamp jitter;      /**< uniform +-jitter, ns (0: none) */
  double loss;            /**< drop probability, 0..1 */
  double reorder;         /**< hold-back probability, 0..1 */
  nat_tstamp reorder_gap; /**< extra delay of a held-back packet; 0 gives
                               1 ms */
  double duplicate;       /**< duplication probability, 0..1 */
  uint64_t rate_bps;      /**< bottleneck rate in bits/s; 0: unlimited */
  size_t max_queue;       /**< queued packets at most; 0 gives 4096 */
  size_t max_packet;      /**< largest packet accepted; 0 gives 65535 */
  uint64_t seed;          /**< seed of the model's random stream */
} nat_link_config;

typedef struct nat_link_stats {
  uint64_t submitted;  /**< packets given to nat_link_submit() */
  uint64_t delivered;  /**< packets taken out by nat_link_pop() */
  uint64_t lost;       /**< dropped by the loss model */
  uint64_t duplicated; /**< extra copies queued */
  uint64_t reordered;  /**< packets held back by the reorder model */
  uint64_t overflow;   /**< dropped because the queue was full */
  uint64_t queue_len;  /**< packets queued now */
  uint64_t queue_max;  /**< most packets ever queued at once */
} nat_link_stats;

/** Create a link. @p cfg is copied; zero fields take the defaults above.
 * @return 0, NAT_EINVAL (NULL argument, a probability outside 0..1 or not
 *         a number, a jitter larger than 1 hour), NAT_ENOMEM. */
NAT_EXTERN int nat_link_new(nat_link **out, const nat_link_config *cfg);

/** Free @p l and every packet still queued. NULL is a no-op. */
NAT_EXTERN void nat_link_free(nat_link *l);

/** Offer a packet at time @p now (ns). The bytes are copied.
 * @return the number of copies queued: 0 (lost, or dropped on overflow:
 *         see the stats), 1, or 2 (duplicated); or NAT_EINVAL (NULL
 *         argument, len 0 or above max_packet), NAT_ENOMEM. */
NAT_EXTERN int nat_link_submit(nat_link *l, nat_tstamp now, const uint8_t *pkt,
                               size_t len);

/** The release time of the next packet, or NAT_TSTAMP_MAX when the queue
 * is empty. A packet is due when its release time is <= now. */
NAT_EXTERN nat_tstamp nat_link_get_expiry(const nat_link *l);

/** Look at the next packet due at @p now without taking it: @p *pkt points
 * into the link and stays valid until the next call that changes @p l.
 * @return its length, or NAT_EAGAIN if none is due (NAT_EINVAL on NULL). */
NAT_EXTERN ssize_t nat_link_peek(const nat_link *l, nat_tstamp now,
                                 const uint8_t **pkt);

/** Take the next packet due at @p now (release-time order, FIFO among equal
 * times) and copy it into @p buf. With @p buf NULL the packet is taken and
 * discarded (after nat_link_peek(), to avoid a copy).
 * @return its length; NAT_EAGAIN if none is due; NAT_ENOBUFS if @p cap is
 *         too small (the packet stays queued); NAT_EINVAL if @p l is NULL. */
NAT_EXTERN ssize_t nat_link_pop(nat_link *l, nat_tstamp now, uint8_t *buf,
                                size_t cap);

/** Copy the counters into @p out. */
NAT_EXTERN void nat_link_stats_get(const nat_link *l, nat_link_stats *out);

#ifdef __cplusplus
}
#endif
#endif
