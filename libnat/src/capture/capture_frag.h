/* IP fragment reassembly for the capture reader (private to capture/).
 * Pure: no I/O, no clock (capture time comes in with each fragment).
 *
 * nat__capture_decode_frag() is nat_capture_decode() that also describes
 * the fragment it refuses (IPv4 MF/offset of a UDP packet, or an IPv6
 * Fragment header); nat__frag_add() keeps fragments in a small fixed
 * table and gives back the whole datagram once its last missing fragment
 * arrives; nat__capture_decode_l4() then reads the UDP datagram (and, for
 * IPv6, the extension headers of the fragmentable part) out of it.
 *
 * Bounds: at most NAT__FRAG_SLOTS datagrams in reassembly (the oldest
 * evicted, counted), each at most NAT__FRAG_MAX bytes of data in at most
 * NAT__FRAG_PIECES fragments, a slot's buffer allocated at its first use
 * and kept: memory never exceeds NAT__FRAG_SLOTS * NAT__FRAG_MAX bytes
 * (4 MiB) plus the fixed table, whatever the capture. A partial datagram
 * older than NAT__FRAG_TIMEOUT of capture time (counted from its first
 * fragment, as Linux's ipfrag_time) is dropped, counted.
 *
 * Rules (every fragment is counted somewhere, nothing aborts):
 * - an identical copy of a fragment already held (same offset, length,
 *   more-fragments flag and bytes) is ignored: `duplicate`;
 * - a fragment that overlaps one held without being identical (RFC 5722
 *   for IPv6; IPv4 treated the same), a second last fragment with another
 *   end, a fragment beyond the known end, a non-last fragment whose length
 *   is not a multiple of 8 or is zero, data ending beyond NAT__FRAG_MAX
 *   bytes, more than NAT__FRAG_PIECES fragments: the whole datagram is
 *   dropped (`bad`), and later fragments of it are dropped too until its
 *   slot times out or is evicted;
 * - an IPv6 atomic fragment (offset 0, M clear: RFC 6946) is a whole
 *   datagram by itself and never touches the table. */
#ifndef NAT_CAPTURE_FRAG_H
#define NAT_CAPTURE_FRAG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nat/capture.h"

#define NAT__FRAG_SLOTS   64
#define NAT__FRAG_MAX     65535u
#define NAT__FRAG_PIECES  64
#define NAT__FRAG_TIMEOUT (30 * NAT_SECONDS)

/** One fragment, as the decoder found it. */
typedef struct nat__frag_in {
  uint8_t version;     /**< 4 or 6; 0: no fragment described */
  uint8_t proto;       /**< IPv4 protocol (17); IPv6: the Fragment
                            header's next header */
  uint8_t ttl, dir;    /**< as nat_capture_frame */
  uint32_t id;         /**< IPv4 identification (16 bits), IPv6 (32) */
  nat_addr src, dst;   /**< IP addresses (port 0) */
  uint32_t offset;     /**< of this fragment's data, in bytes */
  bool more;           /**< more fragments follow (IPv4 MF, IPv6 M) */
  const uint8_t *data; /**< the fragment's data (into the frame) */
  size_t len;
} nat__frag_in;

/** A reassembled datagram: valid until the next call on the table. */
typedef struct nat__frag_out {
  uint8_t version, proto;
  uint8_t ttl, dir; /**< the first fragment's (offset 0) */
  nat_addr src, dst;
  const uint8_t *data; /**< the IP payload: UDP header first (IPv6: the
                            fragmentable part, extension headers first) */
  size_t len;
} nat__frag_out;

typedef struct nat__frag_stats {
  uint64_t reassembled; /**< whole datagrams rebuilt */
  uint64_t used;        /**< fragments that went into them */
  uint64_t dropped;     /**< partial datagrams given up, for any reason:
                             timeout + evicted + bad + nomem + flushed */
  uint64_t timeout;     /**< of which: older than NAT__FRAG_TIMEOUT */
  uint64_t evicted;     /**< of which: the oldest, for a new one */
  uint64_t bad;         /**< of which: overlap, inconsistent, oversize */
  uint64_t duplicate;   /**< identical copies ignored (fragments) */
  uint64_t orphans;     /**< fragments part of no whole datagram: those
                             of dropped datagrams, those refused, and
                             duplicates */
} nat__frag_stats;

typedef struct nat__frag_table nat__frag_table;

/** A new, empty table (no slot buffer allocated yet).
 * @return 0, NAT_ENOMEM, NAT_EINVAL. */
int nat__frag_new(nat__frag_table **out);

/** Free @p t and its buffers (NULL is fine). */
void nat__frag_free(nat__frag_table *t);

/** Empty @p t (NULL is fine): every slot free, counters zero, as
 * nat__frag_new() gives it, but the slot buffers already allocated are
 * kept for reuse (a fuzz target resets one table per input instead of
 * allocating up to NAT__FRAG_SLOTS buffers of NAT__FRAG_MAX bytes). */
void nat__frag_reset(nat__frag_table *t);

/** Take fragment @p in captured at @p now (ns). Expires first.
 * @return 1: @p out holds a whole datagram (its data valid until the next
 *         call on @p t); 0: held, ignored or dropped (counted). */
int nat__frag_add(nat__frag_table *t, const nat__frag_in *in, nat_tstamp now,
                  nat__frag_out *out);

/** Drop the partial datagrams older than NAT__FRAG_TIMEOUT at @p now. */
void nat__frag_expire(nat__frag_table *t, nat_tstamp now);

/** How many datagrams are in reassembly (dead ones included). */
unsigned nat__frag_pending(const nat__frag_table *t);

/** Drop every partial datagram (the end of the capture), counted. */
void nat__frag_flush(nat__frag_table *t);

/** The table's counters (all zero for NULL). */
void nat__frag_get_stats(const nat__frag_table *t, nat__frag_stats *out);

/** nat_capture_decode(), and when the frame is refused as a fragment
 * (reason NAT_CAPR_FRAGMENT) whose bytes were all captured, @p frag
 * describes it (else frag->version is 0). @p frag may be NULL. */
int nat__capture_decode_frag(uint32_t linktype, const uint8_t *frame,
                             size_t caplen, nat_capture_frame *out,
                             nat__frag_in *frag);

/** The UDP datagram inside a reassembled IP payload @p d (@p d->proto:
 * UDP, or for IPv6 a hop-by-hop/routing/destination-options header first):
 * fills @p out like nat_capture_decode() (addresses, ttl and dir from
 * @p d; payload into d->data).
 * @return 0 or NAT_EFRAME (out->reason: NOT_UDP, BAD_EXTHDR, BAD_UDP). */
int nat__capture_decode_l4(const nat__frag_out *d, nat_capture_frame *out);

#endif
