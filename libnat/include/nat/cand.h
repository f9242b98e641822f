/* libnat -- connectivity candidates: types, priorities, foundations,
 * validation of a peer's candidates and selection of our host candidates.
 *
 * RFC 8445 section 5.1 (candidate types, priority formula 5.1.2,
 * foundation 5.1.1.3), RFC 8421 (IPv6 before IPv4 among host candidates).
 *
 * A candidate is a transport address the peer may reach us at: a host
 * address of an interface, the server-reflexive address a STUN server saw
 * (our NAT's mapping), a predicted address (our NAT's public IP with a port
 * nat_alloc_predict() expects the next mapping to get), a peer-reflexive
 * address learned from a connectivity check, or (reserved, not supported
 * yet) a relayed one. In punch every local candidate shares ONE UDP
 * socket; its local address is the candidates' base.
 *
 * Everything here is pure. The driver that enumerates interfaces
 * (nat_cand_gather_host) lives in cand_gather.c and is the only function
 * of this header that touches libuv.
 */
#ifndef NAT_CAND_H
#define NAT_CAND_H

#include <stdbool.h>

#include "nat/addr.h"
#include "nat/common.h"
#include "nat/verdict.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Candidate types. The values are the ticket's wire values. */
typedef enum nat_cand_type {
  NAT_CAND_HOST = 0,      /**< an interface address */
  NAT_CAND_SRFLX = 1,     /**< server reflexive: the mapping STUN saw */
  NAT_CAND_PRFLX = 2,     /**< peer reflexive: learned from a check */
  NAT_CAND_PREDICTED = 3, /**< public IP + a port the NAT should allocate */
  NAT_CAND_RELAY = 4,     /**< relayed (reserved: not supported yet) */
  NAT_CAND_MAPPED = 5     /**< an external address the gateway's port
                               mapping forwards to the base (PCP,
                               NAT-PMP, UPnP: nat/portmap.h) */
} nat_cand_type;
#define NAT_CAND_TYPES 6

/** Type preferences (RFC 8445 section 5.1.2.2's recommended values;
 * predicted candidates are guesses, so they rank below srflx). */
#define NAT_CAND_PREF_HOST      126
#define NAT_CAND_PREF_PRFLX     110
#define NAT_CAND_PREF_MAPPED    105
#define NAT_CAND_PREF_SRFLX     100
#define NAT_CAND_PREF_PREDICTED 90
#define NAT_CAND_PREF_RELAY     0

/** Longest foundation string with its NUL (8 hex digits + NUL). */
#define NAT_CAND_FOUNDATION_LEN 9

/** One candidate. A plain value. */
typedef struct nat_cand {
  uint8_t type;      /**< nat_cand_type */
  nat_addr addr;     /**< the transport address */
  nat_addr base;     /**< local candidates: the socket's local address
                          (== addr for host); remote ones: family only */
  uint32_t priority; /**< RFC 8445 section 5.1.2.1 */
  char foundation[NAT_CAND_FOUNDATION_LEN];
} nat_cand;

/** RFC 8445 section 5.1.2.1: (2^24)*type_pref + (2^8)*local_pref +
 * (256 - component). @p type_pref 0..126, @p component 1..256; values
 * out of range are clamped. punch uses component 1. */
NAT_EXTERN uint32_t nat_cand_priority(unsigned type_pref, uint16_t local_pref,
                                      unsigned component);

/** The type preference of @p type (NAT_CAND_PREF_*; 0 for unknown). */
NAT_EXTERN unsigned nat_cand_type_pref(uint8_t type);

/** Name of a type: "host", "srflx", "prflx", "predicted", "relay", "mapped", or
 * "unknown". */
NAT_EXTERN const char *nat_cand_type_name(uint8_t type);

/** Fill @p c: type, address, base, priority from the type preference and
 * @p local_pref (component 1), and the foundation (RFC 8445 5.1.1.3: the
 * same for candidates of one type, one base IP and one STUN server IP --
 * @p server may be NULL): 8 hex digits of a CRC-32 over those.
 * @return 0, NAT_EINVAL (NULL @p c or @p addr, unknown type). */
NAT_EXTERN int nat_cand_make(nat_cand *c, uint8_t type, const nat_addr *addr,
                             const nat_addr *base, const nat_addr *server,
                             uint16_t local_pref);

/** Write "srflx 198.51.100.1:4000" into @p buf. @return @p buf. */
NAT_EXTERN char *nat_cand_format(const nat_cand *c, char *buf, size_t len);

/* ---------------------------------------------- remote validation */

/** Why a remote candidate address is refused (0: accepted). */
typedef enum nat_cand_reject {
  NAT_CAND_OK = 0,
  NAT_CAND_REJECT_FAMILY,           /**< neither IPv4 nor IPv6 */
  NAT_CAND_REJECT_UNSPECIFIED,      /**< 0.0.0.0, 0/8, :: */
  NAT_CAND_REJECT_PORT_ZERO,        /**< port 0 */
  NAT_CAND_REJECT_LOOPBACK,         /**< 127/8, ::1 (unless allowed) */
  NAT_CAND_REJECT_LINK_LOCAL,       /**< 169.254/16, fe80::/10 (unless
                                         allowed) */
  NAT_CAND_REJECT_MULTICAST,        /**< 224/4, ff00::/8 */
  NAT_CAND_REJECT_BROADCAST,        /**< 255.255.255.255 */
  NAT_CAND_REJECT_SUBNET_BROADCAST, /**< a known subnet's broadcast */
  NAT_CAND_REJECT_TYPE              /**< prflx/relay/unknown where a
                                         signalled candidate is expected */
} nat_cand_reject;

/** An interface address with its prefix (as uv_interface_addresses()
 * reports it). */
typedef struct nat_iface {
  char name[32];
  nat_addr addr;  /**< port 0 */
  uint8_t prefix; /**< netmask length in bits */
  bool internal;  /**< the OS flags it as loopback */
} nat_iface;

/** What nat_cand_validate_remote() accepts. */
typedef struct nat_cand_policy {
  /** Accept loopback and link-local addresses (tests, one machine). */
  bool allow_loopback;
  /** Known IPv4 subnets (our interfaces): their broadcast addresses are
   * refused. May be NULL. Subnets of /31 and /32 have no broadcast. */
  const nat_iface *subnets;
  size_t nsubnets;
} nat_cand_policy;

/** Check a peer's candidate address. IPv4-mapped IPv6 addresses
 * (::ffff:a.b.c.d) are judged by their IPv4 address. @p pol may be NULL
 * (nothing allowed, no subnets known).
 * @return NAT_CAND_OK or a nat_cand_reject reason. */
NAT_EXTERN int nat_cand_validate_remote(const nat_addr *a,
                                        const nat_cand_policy *pol);

/** A one-line reason for a nat_cand_reject value ("loopback address
 * (allowed only for tests)"). Never NULL. */
NAT_EXTERN const char *nat_cand_reject_strerror(int reason);

/* ------------------------------------------------- local candidates */

/** Choose host candidates among interface addresses @p ifs, all on the
 * one socket's @p port. Kept: private (RFC 1918), shared (100.64.0.0/10),
 * public IPv4 unicast, IPv6 global unicast (2000::/3) and unique-local
 * (fc00::/7); loopback and link-local only with @p allow_loopback;
 * never unspecified, multicast or broadcast addresses. Duplicates are
 * dropped. Order and local preference (RFC 8421 flavour): public and
 * global addresses first (IPv6 before IPv4), then unique-local/private/
 * shared, then loopback/link-local; ties keep interface order. The i-th
 * candidate (from 0) gets local preference 65535 - i.
 * @param out    room for @p max candidates; @p nout gets how many were
 *               written (extra ones are left out silently).
 * @return 0, NAT_EINVAL (NULL @p out or @p nout, or NULL @p ifs with
 *         @p n > 0). */
NAT_EXTERN int nat_cand_select_host(const nat_iface *ifs, size_t n,
                                    uint16_t port, bool allow_loopback,
                                    nat_cand *out, size_t max, size_t *nout);

/** Make the server-reflexive candidate from a STUN result: @p mapped (the
 * XOR-MAPPED-ADDRESS), @p base (the socket's local address), @p server
 * (the STUN server, for the foundation; may be NULL).
 * @return 0, NAT_EINVAL (NULL or NAT_AF_NONE @p mapped). */
NAT_EXTERN int nat_cand_make_srflx(nat_cand *out, const nat_addr *mapped,
                                   const nat_addr *base,
                                   const nat_addr *server);

/** Make predicted candidates: the IP of @p mapped with each port of
 * @p pred (in its order, most likely first, local preference 65535 - i),
 * at most @p max. @p nout gets the count.
 * @return 0, NAT_EINVAL (NULL argument). */
NAT_EXTERN int nat_cand_make_predicted(const nat_prediction *pred,
                                       const nat_addr *mapped,
                                       const nat_addr *base, nat_cand *out,
                                       size_t max, size_t *nout);

/* ------------------------------------------- predicted candidates
 *
 * A NAT whose mapping depends on the destination (address-dependent or
 * address-and-port-dependent) gives our checks to a peer a NEW mapping:
 * the server-reflexive address (the mapping towards the server) is not
 * the one the peer sees. If the NAT allocates ports sequentially, that new
 * mapping's port is the last allocated port + delta (or a small multiple
 * when other hosts allocated meanwhile), so the peer is told those ports
 * as predicted candidates. The pieces are pure (cand_predict.c): the
 * caller samples the allocation with Binding requests from fresh sockets
 * (each one allocation), learns the mapping behaviour from one socket's
 * mappings towards two destinations, and feeds both in here. */

/** Predicted candidates made when the caller does not say (punch's K).
 * Each of our own later allocations before the checks' one (a datagram
 * to another new destination) shifts the port by delta: 4 covers a few. */
#define NAT_CAND_PREDICT_DEFAULT 4
/** A mapped port counts as allocated after the samples' last one only
 * within this many deltas of it (farther ones are older, or another
 * range). */
#define NAT_CAND_PREDICT_WINDOW 64

/** The mapping behaviour (a nat_beh) one socket shows from two of its
 * mappings: @p m1 as seen by destination @p d1, @p m2 as seen by @p d2.
 * The same mapped address -> NAT_BEH_EI; different mapped addresses from
 * two ports of one IP -> NAT_BEH_APD; from two IPs -> NAT_BEH_AD (at
 * least: telling AD from APD needs a same-IP pair); NAT_BEH_UNKNOWN when
 * an argument is NULL or has no family, or @p d1 equals @p d2. Pure. */
NAT_EXTERN uint8_t nat_cand_mapping_of(const nat_addr *d1, const nat_addr *m1,
                                       const nat_addr *d2, const nat_addr *m2);

/** Why nat_cand_predict() made candidates or not. */
typedef enum nat_cand_predict_status {
  NAT_CAND_PREDICT_MADE = 0,        /**< candidates made */
  NAT_CAND_PREDICT_MAPPING_EI,      /**< the mapping is endpoint-independent:
                                         the srflx candidate is right */
  NAT_CAND_PREDICT_MAPPING_UNKNOWN, /**< not known whether the mapping
                                         depends on the destination */
  NAT_CAND_PREDICT_NOT_SEQUENTIAL,  /**< allocation preserving, random or
                                         not classified */
  NAT_CAND_PREDICT_NO_ADDRESS       /**< no mapped address (public IP) */
} nat_cand_predict_status;

/** What nat_cand_predict() works from. */
typedef struct nat_cand_predict_in {
  /** Allocation samples: one per fresh socket (its local port and the
   * mapped port a server saw), in the order the requests were sent. */
  const nat_port_sample *samples;
  size_t nsamples;
  /** Mapped addresses of the candidates' own socket (towards each
   * server), in any order; the first gives the public IP. Their ports
   * count as allocations too (see NAT_CAND_PREDICT_WINDOW). */
  const nat_addr *mapped;
  size_t nmapped;
  uint8_t mapping;      /**< nat_beh of that socket's mapping */
  const nat_addr *base; /**< that socket's local address (may be NULL) */
  /** Candidates wanted, 1..NAT_PREDICT_MAX; 0: NAT_CAND_PREDICT_DEFAULT. */
  unsigned count;
} nat_cand_predict_in;

/** What nat_cand_predict() found. A plain value. */
typedef struct nat_cand_predict_out {
  int status;              /**< nat_cand_predict_status */
  nat_alloc_verdict alloc; /**< nat_alloc_classify() of the samples */
  uint16_t last;           /**< the latest allocated port seen, which the
                                prediction counts from (0: none) */
  nat_prediction pred;     /**< the predicted ports, most likely first */
} nat_cand_predict_out;

/** Predicted candidates for a socket behind a NAT: made only if the
 * mapping depends on the destination (NAT_BEH_AD or NAT_BEH_APD; with an
 * endpoint-independent one the srflx candidate already is the mapping the
 * peer reaches) and nat_alloc_classify() calls the samples sequential.
 * The ports are nat_alloc_predict()'s for the samples (last + k * delta,
 * k = 1..count, ordered by the probability of the steps seen), moved to
 * count from the latest allocated port: the samples' last mapped port, or
 * a port of @p in->mapped that lies after it by at most
 * NAT_CAND_PREDICT_WINDOW deltas (a mapping made after the samples).
 * Ports already seen allocated are left out. The IP is that of
 * @p in->mapped[0]; candidates as nat_cand_make_predicted().
 * @param info  may be NULL; gets the status, classification and ports.
 * @param out   room for @p max candidates; @p nout gets the count (0 when
 *              none are made, which is not an error).
 * @return 0, NAT_EINVAL (NULL @p in, @p out or @p nout; samples NULL with
 *         nsamples > 0; mapped NULL with nmapped > 0; count over
 *         NAT_PREDICT_MAX), NAT_ENOMEM. */
NAT_EXTERN int nat_cand_predict(const nat_cand_predict_in *in,
                                nat_cand_predict_out *info, nat_cand *out,
                                size_t max, size_t *nout);

/** A short key for a nat_cand_predict_status: "predicted",
 * "mapping-independent", "mapping-unknown", "not-sequential",
 * "no-address", or "unknown". Never NULL. */
NAT_EXTERN const char *nat_cand_predict_status_name(int status);

/** Why a nat_cand_predict_status made no candidates, as a report says it
 * about our own NAT: "our mapping is endpoint-independent", "not known
 * whether our mapping depends on the destination", "our NAT's ports are
 * not sequential", "no public address"; "predicted candidates made" for
 * NAT_CAND_PREDICT_MADE, "unknown" otherwise. Never NULL. */
NAT_EXTERN const char *nat_cand_predict_status_strerror(int status);

/** DRIVER (libuv): enumerate interfaces with uv_interface_addresses() and
 * pass them to nat_cand_select_host(). @p subnets, if not NULL, receives
 * up to @p max_subnets IPv4 interface subnets for nat_cand_policy
 * (@p nsubnets gets the count).
 * @return 0, NAT_EINVAL, or a libuv error. */
NAT_EXTERN int nat_cand_gather_host(uint16_t port, bool allow_loopback,
                                    nat_cand *out, size_t max, size_t *nout,
                                    nat_iface *subnets, size_t max_subnets,
                                    size_t *nsubnets);

#ifdef __cplusplus
}
#endif
#endif
