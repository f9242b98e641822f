/* libnat -- port mapping: asking the gateway to forward a UDP port, by PCP
 * (RFC 6887), NAT-PMP (RFC 6886, through libnatpmp) and UPnP IGD
 * (through miniupnpc), and what the answers say about the gateway.
 *
 * Two layers, as elsewhere in libnat:
 *   - the PCP codec and the epoch rule (pure: bytes and a clock value in,
 *     values out), usable alone and fuzzed;
 *   - nat_portmap, the libuv driver: one probe of all three protocols at
 *     once towards the gateway (PCP ANNOUNCE and a NAT-PMP external
 *     address request to GATEWAY:5351, an SSDP M-SEARCH to GATEWAY:1900
 *     and 239.255.255.250:1900 then GetExternalIPAddress for UPnP), then, when
 * asked, one mapping of a UDP port by the best protocol that answered (PCP,
 * then NAT-PMP, then UPnP), refreshed before its lease ends and deleted at
 * close.
 *
 * Nothing blocks the loop: PCP is sent and read on a libuv socket,
 * libnatpmp's non-blocking socket is watched with uv_poll and its timer,
 * SSDP is sent and read on a libuv socket (miniupnpc's upnpDiscover()
 * waits at least 1 s, four probe budgets), and miniupnpc's blocking calls
 * (the description, the SOAP requests) run on the loop's thread pool
 * (uv_queue_work), never on the loop thread.
 *
 * A gateway is refused (not asked) unless it holds a private address
 * (RFC 1918, RFC 6598 shared space, fc00::/7, link-local) or the caller
 * names it: a "gateway" on a public address is a network where port
 * mapping is not the home router's, and asking it would be a request to
 * a stranger (Tailscale refuses it too).
 *
 * Answers are checked before they count: from the gateway's address and
 * port, the right version and opcode, the R bit, our nonce (PCP MAP),
 * a length the opcode allows. Anything else is counted in
 * nat_portmap_stats and ignored.
 *
 * In the tree: libnat/src/portmap/ (this header is its main one):
 * pcp.c (the codec and the epoch rule, pure), portmap.c (the driver: the
 * probe, the mapping's life), portmap_natpmp.c (libnatpmp on the loop),
 * portmap_upnp.c (miniupnpc on the thread pool), gateway.c (the default
 * route's gateway and the local address towards it). Uses base/, io/.
 *
 * Callback rule: when a call that takes a callback fails at once, the
 * callback is never called. */
#ifndef NAT_PORTMAP_H
#define NAT_PORTMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <uv.h>

#include "nat/addr.h"
#include "nat/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------ PCP codec */

#define NAT_PCP_SERVER_PORT 5351 /**< PCP and NAT-PMP servers (RFC 6887 19) */
#define NAT_PCP_CLIENT_PORT 5350 /**< where clients hear multicast ANNOUNCE */
#define NAT_PCP_VERSION     2
#define NAT_PCP_NONCE_LEN   12
#define NAT_PCP_HEADER_LEN  24   /**< request and response header (7.1, 7.2) */
#define NAT_PCP_MAP_LEN     36   /**< the MAP opcode's body (11.1) */
#define NAT_PCP_MAX_LEN     1100 /**< longest PCP message (7) */
#define NAT_PCP_PROTO_UDP   17

/** PCP opcodes (RFC 6887 19.2). */
typedef enum nat_pcp_opcode {
  NAT_PCP_OP_ANNOUNCE = 0,
  NAT_PCP_OP_MAP = 1,
  NAT_PCP_OP_PEER = 2
} nat_pcp_opcode;

/** PCP result codes (RFC 6887 7.4). */
typedef enum nat_pcp_result {
  NAT_PCP_SUCCESS = 0,
  NAT_PCP_UNSUPP_VERSION = 1,
  NAT_PCP_NOT_AUTHORIZED = 2,
  NAT_PCP_MALFORMED_REQUEST = 3,
  NAT_PCP_UNSUPP_OPCODE = 4,
  NAT_PCP_UNSUPP_OPTION = 5,
  NAT_PCP_MALFORMED_OPTION = 6,
  NAT_PCP_NETWORK_FAILURE = 7,
  NAT_PCP_NO_RESOURCES = 8,
  NAT_PCP_UNSUPP_PROTOCOL = 9,
  NAT_PCP_USER_EX_QUOTA = 10,
  NAT_PCP_CANNOT_PROVIDE_EXTERNAL = 11,
  NAT_PCP_ADDRESS_MISMATCH = 12,
  NAT_PCP_EXCESSIVE_REMOTE_PEERS = 13
} nat_pcp_result;

/** "SUCCESS", "NOT_AUTHORIZED", ... as RFC 6887 names them; "unknown" for
 * other values. Never NULL. */
NAT_EXTERN const char *nat_pcp_result_name(unsigned result);

/** A PCP request: ANNOUNCE (header only) or MAP. */
typedef struct nat_pcp_request {
  uint8_t opcode;    /**< NAT_PCP_OP_ANNOUNCE or NAT_PCP_OP_MAP */
  uint32_t lifetime; /**< seconds; MAP: 0 deletes (RFC 6887 15) */
  nat_addr client;   /**< our address as the gateway sees it (IP only;
                          IPv4 goes as IPv4-mapped IPv6) */
  /* MAP only: */
  uint8_t nonce[NAT_PCP_NONCE_LEN];
  uint8_t protocol;       /**< NAT_PCP_PROTO_UDP; 0 = all (delete only) */
  uint16_t internal_port; /**< our socket's port, not 0 */
  nat_addr suggested;     /**< suggested external IP and port;
                               NAT_AF_NONE: none (the zero address of the
                               client's family, port 0) */
} nat_pcp_request;

/** Encode @p rq into @p buf.
 * @return bytes written (24 for ANNOUNCE, 60 for MAP); NAT_EINVAL (NULL,
 *         an opcode other than ANNOUNCE or MAP, a client or suggested
 *         address of no family it can carry, a MAP with internal port 0,
 *         lifetime not 0 with protocol 0); NAT_ENOBUFS (@p cap too small). */
NAT_EXTERN ssize_t nat_pcp_encode(const nat_pcp_request *rq, uint8_t *buf,
                                  size_t cap);

/** A PCP response, as nat_pcp_decode() read it. */
typedef struct nat_pcp_response {
  uint8_t version;   /**< 2; 0 means the server speaks NAT-PMP only (its
                          UNSUPP_VERSION answer in NAT-PMP's format: RFC 6887
                          9; then only @p result is set) */
  uint8_t opcode;    /**< without the R bit */
  uint8_t result;    /**< nat_pcp_result */
  uint32_t lifetime; /**< seconds granted (or, on an error, how long the
                          error holds) */
  uint32_t epoch;    /**< the server's epoch time, seconds */
  bool has_map;      /**< MAP: the fields below are set */
  uint8_t nonce[NAT_PCP_NONCE_LEN];
  uint8_t protocol;
  uint16_t internal_port;
  nat_addr external; /**< assigned external IP (IPv4 when IPv4-mapped) and
                          port */
} nat_pcp_response;

/** Decode a datagram that claims to be a PCP response. Options after the
 * opcode body are skipped when well formed (each option's length checked),
 * never read for meaning.
 * @return 0; NAT_EINVAL (NULL); NAT_EPMPARSE (shorter than a header, not a
 *         response (no R bit), a version other than 2 or NAT-PMP's 0, an
 *         opcode body truncated, a length not a multiple of 4, longer than
 *         NAT_PCP_MAX_LEN, an option running past the end). */
NAT_EXTERN int nat_pcp_decode(const uint8_t *buf, size_t len,
                              nat_pcp_response *out);

/** RFC 6887 8.5: whether a server's epoch @p epoch, received at our time
 * @p now, says the server lost its state since the previous answer (epoch
 * @p prev_epoch at @p prev_now): the epoch went back by more than one
 * second, or it moved too differently from our clock (both deltas with
 * the RFC's 2 s + 1/16 tolerance). NAT-PMP's seconds-since-start-of-epoch
 * follow the same rule (RFC 6886 3.6). Times in nat_tstamp units. */
NAT_EXTERN bool nat_pm_epoch_lost(uint32_t prev_epoch, nat_tstamp prev_now,
                                  uint32_t epoch, nat_tstamp now);

/* --------------------------------------------------------------- driver */

/** The three protocols, in the order a mapping prefers them. */
typedef enum nat_pm_proto {
  NAT_PM_PCP = 0,
  NAT_PM_NATPMP = 1,
  NAT_PM_UPNP = 2
} nat_pm_proto;
#define NAT_PM_PROTOS 3
/** Bits of nat_portmap_config.protos. */
#define NAT_PM_BIT(p) (1u << (p))
#define NAT_PM_ALL    0x7u

/** "pcp", "nat-pmp", "upnp"; "?" for other values. */
NAT_EXTERN const char *nat_pm_proto_name(nat_pm_proto p);

/** The probe's time budget when none is given: it ends sooner when every
 * protocol has answered or failed. UPnP's SSDP discovery gets this much
 * too; when the gateway answered SSDP in time, its description and SOAP
 * requests get NAT_PORTMAP_UPNP_SOAP_MS more. */
#define NAT_PORTMAP_DEFAULT_TIMEOUT (250 * NAT_MILLISECONDS)
#define NAT_PORTMAP_UPNP_SOAP_MS    1000
/** The lease asked for when none is given, seconds (refreshed at half). */
#define NAT_PORTMAP_DEFAULT_LEASE 120
/** How long close waits for the gateway to confirm a delete. */
#define NAT_PORTMAP_DELETE_WAIT (500 * NAT_MILLISECONDS)

/** What one protocol said in the probe. */
typedef struct nat_pm_service {
  bool asked;        /**< it was probed (in protos, and a gateway to ask) */
  bool answered;     /**< a valid answer came (success or an error result) */
  int status;        /**< 0: success; NAT_ETIMEDOUT: no answer in the budget;
                          NAT_EPMREFUSED: an error result (@p result says
                          which); NAT_EPMPARSE: only malformed answers came; a
                          negative errno / UV code: the request could not be
                          sent (e.g. UV_ENETUNREACH) */
  unsigned result;   /**< the protocol's result code (PCP: nat_pcp_result,
                          NAT-PMP: RFC 6886 3.5, UPnP: the UPNPCOMMAND_* or
                          SOAP error code), 0 on success */
  nat_addr external; /**< the external IP it gave (family NONE: none;
                          always for PCP: an ANNOUNCE answer carries no
                          address, only a MAP's does) */
  bool has_epoch;
  uint32_t epoch; /**< PCP / NAT-PMP epoch, seconds */
  nat_tstamp rtt; /**< request to answer (UPnP: discovery + SOAP) */
  /** UPnP: the IGD's state ("connected", "not connected" by its
   * GetStatusInfo; "not an IGD" when the description has no WAN
   * connection service); NAT-PMP: the name of an error result. Empty
   * otherwise. */
  char detail[64];
} nat_pm_service;

/** What the probe found. A value: copy it freely. */
typedef struct nat_portmap_probe {
  bool done;            /**< the probe ended */
  nat_addr gateway;     /**< the gateway asked (family NONE: none found) */
  nat_addr local;       /**< our address towards it (PCP's client address) */
  bool gateway_private; /**< private, shared, unique-local or link-local */
  bool refused;         /**< the gateway is public and was not asked */
  nat_pm_service svc[NAT_PM_PROTOS]; /**< by nat_pm_proto */
  nat_tstamp duration;               /**< from nat_portmap_new() to the end */
} nat_portmap_probe;

/** The mapping nat_portmap_map() asked for, as it stands. */
typedef struct nat_portmap_mapping {
  bool active;        /**< the gateway granted it and it has not
                           ended */
  nat_pm_proto proto; /**< the protocol that holds it */
  uint16_t internal_port;
  nat_addr external;       /**< external IP and port granted */
  uint32_t lifetime_asked; /**< seconds */
  uint32_t lifetime;       /**< seconds granted by the last answer (may be
                                shorter than asked) */
  nat_tstamp granted_at;   /**< when the last grant came (nat_udp_now) */
  unsigned refreshes;      /**< grants after the first */
  unsigned restarts;       /**< gateway restarts seen (epoch went back):
                                the mapping was made again */
  /** PCP: the nonce the mapping was asked with; a delete must carry it
   * (RFC 6887 11.3), so nat_portmap_delete_now() needs it. */
  uint8_t nonce[NAT_PCP_NONCE_LEN];
} nat_portmap_mapping;

/** Counters of what came in. */
typedef struct nat_portmap_stats {
  uint64_t received;     /**< datagrams on the PCP socket */
  uint64_t malformed;    /**< not decodable (nat_pcp_decode, libnatpmp) */
  uint64_t wrong_source; /**< not from the gateway's address and port */
  uint64_t wrong_nonce;  /**< PCP MAP answers whose nonce is not ours */
  uint64_t unexpected;   /**< valid but not answering anything we asked
                              (opcode, port, a duplicate) */
  uint64_t epoch_lost;   /**< answers whose epoch said "restarted" */
} nat_portmap_stats;

typedef struct nat_portmap nat_portmap;

typedef enum nat_portmap_event_type {
  NAT_PM_EV_PROBED,   /**< the probe ended: ev->probe */
  NAT_PM_EV_MAPPED,   /**< a mapping was granted (first, refresh, or again
                           after a restart): ev->mapping */
  NAT_PM_EV_LOST,     /**< the gateway restarted (epoch) or a refresh
                           failed; the driver asks again: ev->mapping,
                           ev->status */
  NAT_PM_EV_FAILED,   /**< the mapping could not be made by any protocol
                           that answered: ev->status, ev->result,
                           ev->reason */
  NAT_PM_EV_UNMAPPED, /**< nat_portmap_unmap() or close: the gateway
                           confirmed the delete (ev->status 0) or did not
                           in NAT_PORTMAP_DELETE_WAIT (NAT_ETIMEDOUT) */
  NAT_PM_EV_CLOSED    /**< last event; the handle is freed after it */
} nat_portmap_event_type;

typedef struct nat_portmap_event {
  nat_portmap_event_type type;
  int status;
  unsigned result;                    /**< the protocol's result code */
  const char *reason;                 /**< FAILED/LOST: one line, or NULL */
  const nat_portmap_probe *probe;     /**< PROBED */
  const nat_portmap_mapping *mapping; /**< MAPPED, LOST, UNMAPPED */
} nat_portmap_event;

typedef void (*nat_portmap_cb)(nat_portmap *pm, void *arg,
                               const nat_portmap_event *ev);

/** Configuration, copied by nat_portmap_new(). Zero fields take the
 * defaults shown. */
typedef struct nat_portmap_config {
  /** The gateway; NAT_AF_NONE: the default route's (IPv4 first). A port
   * other than 0 replaces 5351 for PCP (tests; NAT-PMP's library always
   * uses 5351). Named here, it is asked even on a public address. */
  nat_addr gateway;
  /** Send from this local IP; NAT_AF_NONE: the route's source address
   * towards the gateway. */
  nat_addr local;
  unsigned protos;    /**< NAT_PM_BIT()s; 0: NAT_PM_ALL */
  nat_tstamp timeout; /**< probe budget; 0: NAT_PORTMAP_DEFAULT_TIMEOUT */
  nat_portmap_cb cb;  /**< required */
  void *arg;
} nat_portmap_config;

/** Start the probe on @p loop (it runs at once; NAT_PM_EV_PROBED ends it).
 * @return 0; NAT_EINVAL (NULL, no callback, protos outside NAT_PM_ALL,
 *         a gateway or local address of no family it can use); NAT_ENOMEM;
 *         a UV error opening the socket. No gateway found is not an error:
 *         the probe ends with probe.gateway of family NONE. */
NAT_EXTERN int nat_portmap_new(nat_portmap **out, uv_loop_t *loop,
                               const nat_portmap_config *cfg);

/** Ask for a mapping of UDP @p internal_port (our socket's port) for
 * @p lifetime seconds (0: NAT_PORTMAP_DEFAULT_LEASE), suggesting the same
 * external port. Before the probe has ended the request waits for it;
 * then the best protocol that answered with success is asked (another
 * that answered is tried when it refuses). The grant comes in
 * NAT_PM_EV_MAPPED; it is refreshed at half its lifetime, and asked again
 * when the gateway's epoch says it restarted. One mapping per handle.
 * @return 0; NAT_EINVAL (NULL, port 0); NAT_EALREADY (a mapping is
 *         asked, held or being deleted); NAT_ENOGATEWAY (the probe ended
 *         and nothing answered with success); NAT_ECLOSING (after
 *         nat_portmap_close()). */
NAT_EXTERN int nat_portmap_map(nat_portmap *pm, uint16_t internal_port,
                               uint32_t lifetime);

/** Delete the mapping (lifetime 0 by its protocol); NAT_PM_EV_UNMAPPED
 * follows. @return 0; NAT_EINVAL (NULL); NAT_ENOTFOUND (none asked or
 * held, or its delete already under way). */
NAT_EXTERN int nat_portmap_unmap(nat_portmap *pm);

/** Copy the probe (as far as it went), the mapping and the counters;
 * any out pointer may be NULL. */
NAT_EXTERN void nat_portmap_get(const nat_portmap *pm, nat_portmap_probe *probe,
                                nat_portmap_mapping *mapping,
                                nat_portmap_stats *stats);

/** Delete the mapping if one is held (waiting at most
 * NAT_PORTMAP_DELETE_WAIT for the gateway; a UPnP delete still running
 * on the thread pool is waited for), stop everything, then
 * NAT_PM_EV_CLOSED; the handle is freed after that callback. A second
 * call does nothing. */
NAT_EXTERN void nat_portmap_close(nat_portmap *pm);

/** Delete a mapping of UDP @p internal_port at @p external by @p proto,
 * blocking, for at most @p wait: for a signal handler's last step
 * (after SIGINT the loop may never run again). Not async-signal-safe for
 * UPnP (miniupnpc allocates): call it from the main thread after the
 * loop has stopped. PCP needs the mapping's @p nonce
 * (nat_portmap_mapping.nonce; ignored by the other protocols, may be NULL
 * for them): a PCP server refuses a delete with another nonce (RFC 6887
 * 11.3). @p gateway's port, when not 0, replaces 5351 for PCP.
 * @return 0 (confirmed), NAT_ETIMEDOUT, NAT_EPMREFUSED (an error result),
 *         NAT_EINVAL (NULL, port 0, PCP without a nonce), or a socket
 *         error. */
NAT_EXTERN int nat_portmap_delete_now(const nat_addr *gateway,
                                      const nat_addr *local, nat_pm_proto proto,
                                      uint16_t internal_port,
                                      const nat_addr *external,
                                      const uint8_t *nonce, nat_tstamp wait);

#ifdef __cplusplus
}
#endif
#endif
