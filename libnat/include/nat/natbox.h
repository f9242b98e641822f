/* libnat -- a NAT's behaviour as a pure function, sans I/O.
 *
 * The model behind natlab's userspace NAT (the natbox program) and the
 * birthday-attack simulation: IPv4 UDP packets and a `now` go in; a
 * rewritten packet, or the reason it was dropped, comes out. RFC 4787 terms:
 * mapping and filtering are each endpoint-independent, address-dependent or
 * address-and-port-dependent; allocation preserves the port, steps
 * sequentially by a delta (globally or per internal host, optionally with
 * allocations by simulated other hosts interleaved so the visible delta
 * jitters), or picks at random in a range, optionally inside a per-host
 * port block (carrier-grade NAT). Port overloading (several
 * internal endpoints on one external port), hairpinning (RFC 4787 section
 * 6) and a mapping timeout refreshed by outbound traffic (section 4.3) are
 * modelled. All randomness comes from the seed, so a run repeats exactly.
 *
 * Packets are raw IPv4 datagrams as a TUN device (IFF_TUN | IFF_NO_PI)
 * delivers them. Only UDP is translated; IP and UDP checksums are updated.
 * Inbound ICMP errors (destination unreachable, time exceeded) about a
 * datagram a mapping sent go to its internal endpoint, the quoted datagram
 * translated back (RFC 5508 section 7: a hop probe behind the NAT sees
 * the routers beyond it); any other ICMP is dropped.
 *
 * In the tree: libnat/src/natbox/ (this header is its main one, with
 * link.h): a NAT (natbox.c; natbox_alloc.c over natbox_map.c over
 * natbox_rand.c) and a link (link.c) as pure functions; natlab's natbox
 * program and simulations drive them. Uses base/ only.
 */
#ifndef NAT_NATBOX_H
#define NAT_NATBOX_H

#include <stdbool.h>

#include "nat/addr.h"
#include "nat/common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct nat_box nat_box;

/** How external ports are chosen for new mappings. */
typedef enum nat_alloc {
  NAT_ALLOC_PRESERVE = 0,   /**< the internal port if free, else the next
                                 free one upwards in the range */
  NAT_ALLOC_SEQUENTIAL = 1, /**< previous allocation + delta (wrapping in
                                 the range, skipping ports in use) */
  NAT_ALLOC_RANDOM = 2      /**< uniform in the range, skipping ports in use */
} nat_alloc;

#define NAT_BOX_MAX_PUBLIC 4

typedef struct nat_box_config {
  /** The NAT's external IPv4 addresses, host order; public_ip[0] is
   * required. With more than one (RFC 4787 section 4.1 address pooling),
   * "paired" pooling gives every mapping of one internal IP the same
   * external IP; "arbitrary" pooling picks one at random per mapping. */
  uint32_t public_ip[NAT_BOX_MAX_PUBLIC];
  unsigned npublic; /**< 0 is taken as 1 */
  bool pooling_arbitrary;
  uint8_t mapping;   /**< nat_beh (nat/common.h); default (0) EI */
  uint8_t filtering; /**< nat_beh; default (0) EI */
  uint8_t alloc;     /**< nat_alloc */
  int32_t delta;     /**< step for NAT_ALLOC_SEQUENTIAL (default 1;
                          may be negative) */
  bool per_host;     /**< sequential counter per internal IP */
  /** Probability (0..1) that, before each allocation, simulated other hosts
   * take 1..interleave_max ports (the visible delta jitters). */
  double interleave;
  unsigned interleave_max;     /**< default 3 */
  uint16_t port_min, port_max; /**< allocation range; default 1024-65535 */
  /** Carrier-grade NAT port blocks (0: none): each internal IP gets one
   * block of block_size consecutive ports, aligned on block_size from
   * port_min, chosen at random among the free blocks inside
   * port_min..port_max on its first mapping (and given back when its last
   * mapping expires); preserve, sequential and random allocation then
   * stay inside the block (the sequential counter is the host's own). A
   * full block, or no free block, drops with NAT_BOX_DROP_PORTS_EXHAUSTED.
   * With arbitrary pooling a block is held on every public IP. */
  uint32_t block_size;
  /** Reuse an external port for another internal endpoint when the
   * destinations differ (APD mapping only). */
  bool overload;
  bool hairpin; /**< translate LAN->own public address back into the LAN */
  nat_tstamp timeout;   /**< idle mapping lifetime; default 30 s (RFC 4787
                             REQ-5 asks at least 2 min; labs use less) */
  bool inbound_refresh; /**< inbound packets refresh the timer too */
  uint64_t seed;
  size_t max_mappings; /**< default 65536 */
} nat_box_config;

/** What happened to a packet. */
typedef enum nat_box_verdict {
  NAT_BOX_TO_WAN = 0,           /**< rewritten; send out of the external side */
  NAT_BOX_TO_LAN = 1,           /**< rewritten; send into the internal side
                                     (inbound, or hairpinned outbound) */
  NAT_BOX_DROP_MALFORMED = -1,  /**< not a well-formed IPv4 packet */
  NAT_BOX_DROP_PROTOCOL = -2,   /**< not UDP (TCP, ICMP other than an
                                     inbound error about a mapping) */
  NAT_BOX_DROP_NO_MAPPING = -3, /**< inbound to a port with no mapping */
  NAT_BOX_DROP_FILTERED = -4,   /**< inbound refused by the filtering rule */
  NAT_BOX_DROP_PORTS_EXHAUSTED = -5, /**< no external port left */
  NAT_BOX_DROP_HAIRPIN = -6,  /**< LAN->own public address, hairpin off */
  NAT_BOX_DROP_NOT_OURS = -7, /**< inbound to an address not ours */
  NAT_BOX_DROP_FRAGMENT = -8  /**< IP fragment (not translated) */
} nat_box_verdict;
#define NAT_BOX_DROP_REASONS 8

typedef struct nat_box_stats {
  uint64_t packets_out, packets_in, hairpinned;
  uint64_t icmp_errors_in; /**< inbound ICMP errors passed to the LAN */
  uint64_t mappings_created, mappings_expired, mappings_live;
  uint64_t drops[NAT_BOX_DROP_REASONS]; /**< indexed by -verdict - 1 */
} nat_box_stats;

/** Create a NAT. @p cfg is copied; zero fields take the defaults above.
 * @return 0, NAT_EINVAL (public_ip[0] 0, npublic > 4, bad enum, port_min >
 * port_max, interleave outside 0..1, block_size larger than the range),
 * NAT_ENOMEM. */
NAT_EXTERN int nat_box_new(nat_box **out, const nat_box_config *cfg);
NAT_EXTERN void nat_box_free(nat_box *b);

/** A packet from the internal side. Rewritten in place (source to the
 * mapping, or for a hairpin also the destination to the internal target).
 * @return a nat_box_verdict. */
NAT_EXTERN int nat_box_outbound(nat_box *b, nat_tstamp now, uint8_t *pkt,
                                size_t len);

/** A packet from the external side. Rewritten in place (destination to the
 * internal endpoint). @return a nat_box_verdict. */
NAT_EXTERN int nat_box_inbound(nat_box *b, nat_tstamp now, uint8_t *pkt,
                               size_t len);

/** Expire idle mappings (also done lazily by the calls above). */
NAT_EXTERN void nat_box_expire(nat_box *b, nat_tstamp now);

NAT_EXTERN void nat_box_stats_get(const nat_box *b, nat_box_stats *out);

/** Name of a drop reason ("filtered") or of a forward ("to-wan"). */
NAT_EXTERN const char *nat_box_verdict_name(int verdict);

#ifdef __cplusplus
}
#endif
#endif
