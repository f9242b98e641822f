/* libnat -- netcheck as a library call: the libuv driver of the probe plan
 * (nat/probe.h). It resolves the servers, runs the plan on a loop (opens
 * the sockets the plan asks for, sends its datagrams, feeds it what
 * arrives, runs its timers) under one overall deadline, and computes the
 * verdict (nat/verdict.h) from the observations: what `netcheck` reports
 * (RFC 5780 section 4 behaviour discovery, RFC 4787 terms, RFC 8489
 * Binding requests; the tests and their timeouts are nat/probe.h's).
 *
 *     nat_netcheck_server srv = {"stun.example.org:3478", true};
 *     nat_netcheck_config cfg = {.servers = &srv, .nservers = 1,
 *                                .done = on_done};
 *     nat_netcheck_new(&nc, loop, &cfg);
 *     uv_run(loop, UV_RUN_DEFAULT);
 *     // on_done(nc, arg, res, status): read res->verdict, then
 *     // nat_netcheck_close(nc, on_closed, arg);
 *
 * Every socket binds to one concrete local IP per family: the config's
 * bind address, else the source address the kernel's route to the server
 * marked rfc5780 (else to the first server of that family) uses. A
 * socket bound to the unspecified address would leave from whatever IP
 * the kernel picks per destination (a host with several addresses or
 * IPv6 prefixes): a request to the server's second IP could leave from
 * another IP than the first, and one socket would look like a NAT whose
 * mapping depends on the destination. Bound, every datagram of the run
 * leaves from the IP recorded as the observations' local address.
 *
 * Nothing here sleeps: the deadline is a timer, and the plan's own
 * timeouts adapt to the RTT it measures (nat/probe.h).
 *
 * The hop probe (nat/hops.h; on unless no_hops) runs beside the plan on
 * the plan's first socket, towards the primary server of that socket's
 * family (the rfc5780 server if one is named, else the first that
 * resolved): IP_RECVERR (IPV6_RECVERR) is set on that socket, each TTL's
 * request leaves with IP_TTL (IPV6_UNICAST_HOPS) set for that one send,
 * and the socket's error queue is drained (recvmsg MSG_ERRQUEUE) whenever
 * libuv reports an error or nothing on it, and before each send from it
 * (a pending ICMP error would fail the send). Its answers are taken out
 * before the plan sees a datagram, so the plan's counters and log do not
 * change; they are not passed to on_datagram either (a replay of a
 * recording would read the TTL-limited requests as unanswered ones). It
 * ends when the plan ends, or before: it never makes a run longer. The
 * verdict's double_nat then comes from nat_verdict_double_nat() with the
 * hop list and the gateway's external addresses (nat/verdict.h, "Double
 * NAT").
 *
 * The port-mapping probe (nat/portmap.h; on unless no_portmap) starts
 * with the lookups and runs beside them and the plan: PCP, NAT-PMP and
 * UPnP IGD towards the default route's gateway (or portmap_gateway), no
 * mapping made. Its external addresses feed the double-NAT verdict. With
 * portmap_test, once the probe has ended and the first socket is open, a
 * mapping of that socket's port is asked for a 30 s lease, read back
 * (nat_portmap_get()) and deleted. The done callback waits for the
 * port-mapping handle to close (the probe's budget is
 * NAT_PORTMAP_DEFAULT_TIMEOUT, UPnP's SOAP request may add
 * NAT_PORTMAP_UPNP_SOAP_MS), at most until the run's deadline: then it
 * is closed (a mapping held is deleted) and the report keeps what it had.
 *
 * Callback rule: when a call that takes a callback fails at once, the
 * callback is never called. */
#ifndef NAT_NETCHECK_H
#define NAT_NETCHECK_H

#include <stdbool.h>
#include <uv.h>

#include "nat/addr.h"
#include "nat/common.h"
#include "nat/hops.h"
#include "nat/obs.h"
#include "nat/portmap.h"
#include "nat/probe.h"
#include "nat/verdict.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Servers a run takes at most. */
#define NAT_NETCHECK_MAX_SERVERS 64
/** The port of a server named without one (RFC 8489 section 9). */
#define NAT_NETCHECK_DEFAULT_PORT 3478
/** The overall deadline when none is given. */
#define NAT_NETCHECK_DEFAULT_TIMEOUT (3 * NAT_SECONDS)

/** One STUN server to probe. */
typedef struct nat_netcheck_server {
  /** "host", "host:port", "IPv4:port", "[IPv6]:port" (copied). */
  const char *name;
  /** Use this server (and no other of its family) for the RFC 5780
   * behaviour tests; it is also probed like the others. */
  bool rfc5780;
} nat_netcheck_server;

/** What became of one server's name. */
typedef struct nat_netcheck_lookup {
  int status;        /**< 0, or why no address: NAT_ERESOLVE (uv_status
                          says more, or @p late), NAT_EBADADDR,
                          NAT_ENOTFOUND (no address of a family asked
                          for) */
  int uv_status;     /**< the UV_EAI_* code of a failed lookup, or 0 */
  bool late;         /**< the deadline passed before the lookup ended */
  uint8_t no_family; /**< the name has no address of the one family asked
                          for (@p family of the config): that family, else
                          NAT_AF_NONE */
  size_t naddrs;     /**< addresses probed: the first IPv4, the first IPv6
                          (of the families asked for) */
  nat_addr addrs[2];
} nat_netcheck_lookup;

/** The port-mapping probe of a run, and the test (portmap_test). */
typedef struct nat_netcheck_portmap {
  bool probed;             /**< the probe ran (not no_portmap, it started) */
  int status;              /**< why it could not start, else 0 */
  nat_portmap_probe probe; /**< what it found (as far as it went) */
  bool tested;             /**< portmap_test was asked */
  nat_portmap_mapping mapping; /**< the test's mapping as last granted
                                    (internal_port and lifetime_asked
                                    set when asked; active false after
                                    the delete) */
  bool read_back;              /**< nat_portmap_get() held the grant: active,
                                    our port, an external address and port */
  bool deleted;                /**< the gateway confirmed the delete */
  int test_status;             /**< 0, or why the test failed */
  char test_error[128];        /**< the failure in words; "" if none */
} nat_netcheck_portmap;

/** What a run found. The log and the verdict are value objects owned by
 * the handle (freed at close); the done callback may take them: copy the
 * structs out and nat_obslog_init() / nat_verdict_init() the ones here. */
typedef struct nat_netcheck_result {
  nat_obslog log;        /**< every transaction in the order sent, then the
                              requests that could not be made (server_idx
                              names the server, status why) */
  nat_verdict verdict;   /**< nat_verdict_compute() over @p log, then
                              nat_verdict_double_nat() with @p hops */
  nat_probe_stats stats; /**< what the plan received and refused */
  uint64_t send_errors;  /**< datagrams the sockets did not take */
  nat_probe_test_info tests[6]; /**< by nat_obs_test */
  bool probed;                  /**< the plan ran (some server resolved) */
  nat_tstamp duration;          /**< ns, from nat_netcheck_new() to done */
  size_t nservers;              /**< as configured */
  nat_netcheck_lookup lookups[NAT_NETCHECK_MAX_SERVERS]; /**< by server */
  /** The hop probe's list; hops.target.family is NAT_AF_NONE when it did
   * not run (no_hops, no server, the first socket not opened). */
  nat_hop_list hops;
  uint64_t hop_send_errors;     /**< hop requests the socket did not take
                                     (counted apart from send_errors) */
  nat_netcheck_portmap portmap; /**< probed false: not run */
} nat_netcheck_result;

typedef struct nat_netcheck nat_netcheck;

/** The run ended. @p status: 0 (the verdict is computed, whether or not
 * any server answered: see res->verdict.basic.udp_reachable),
 * NAT_ECANCELED (nat_netcheck_close() came first; @p res holds what was
 * gathered), NAT_ENOMEM. @p res is valid until the close callback. Called
 * once, from the loop. */
typedef void (*nat_netcheck_done_cb)(nat_netcheck *nc, void *arg,
                                     nat_netcheck_result *res, int status);

/** Configuration, copied by nat_netcheck_new(). Zero fields take the
 * defaults shown. */
typedef struct nat_netcheck_config {
  const nat_netcheck_server *servers; /**< 1..NAT_NETCHECK_MAX_SERVERS */
  size_t nservers;
  /** NAT_AF_NONE: both families; NAT_AF_INET or NAT_AF_INET6: that one
   * only (with @p bind, it must be the bind address's family or NONE). */
  uint8_t family;
  /** Send from this local IP (and port, if not 0, for the first socket);
   * NAT_AF_NONE: the route's source address (see above). */
  nat_addr bind;
  /** The overall deadline, lookups included: NAT_NETCHECK_DEFAULT_TIMEOUT;
   * the lifetime test adds @p lifetime_max. */
  nat_tstamp timeout;
  unsigned tests;          /**< NAT_PROBE_* bits (BASIC is implied);
                                0: NAT_PROBE_DEFAULT */
  unsigned alloc_samples;  /**< 0: NAT_PROBE_ALLOC_DEFAULT */
  nat_tstamp lifetime_max; /**< with NAT_PROBE_LIFETIME: 60 s */
  const char *software;    /**< SOFTWARE attribute (copied); NULL: none */
  bool no_hops;            /**< do not run the hop probe (it runs by
                                default) */
  unsigned hops_max_ttl;   /**< 0: NAT_HOPS_DEFAULT; at most NAT_HOPS_MAX */
  bool no_portmap;         /**< do not probe port mapping (it runs by
                                default) */
  bool portmap_test;       /**< also map the first socket's port for a
                                short lease, read it back and delete it */
  /** The gateway to probe; NAT_AF_NONE: the default route's. */
  nat_addr portmap_gateway;
  /** Optional: every datagram sent (@p src is the socket's bound
   * address) or received (@p dst is), as it goes, e.g. to record the run
   * (netcheck --record). */
  void (*on_datagram)(void *arg, const nat_addr *src, const nat_addr *dst,
                      const uint8_t *buf, size_t len);
  /** Optional: a socket the plan asked for could not be opened (its
   * requests are recorded with @p status). */
  void (*on_socket_error)(void *arg, uint8_t family, int status);
  nat_netcheck_done_cb done; /**< required */
  void *arg;
} nat_netcheck_config;

/** Start a run on @p loop: lookups first, then the probe plan. With a
 * bind address, it is tried at once, so that an address the host does
 * not have fails here rather than as a run where nothing was sent.
 * @return 0; NAT_EINVAL (NULL, no done callback, no server or more than
 *         NAT_NETCHECK_MAX_SERVERS, a NULL name, a family or bind address
 *         that contradict each other, alloc_samples over
 *         NAT_PROBE_ALLOC_MAX, hops_max_ttl over NAT_HOPS_MAX); NAT_ENOMEM; the
 * bind error as a negative errno (UV_EADDRNOTAVAIL, UV_EACCES, ...). */
NAT_EXTERN int nat_netcheck_new(nat_netcheck **out, uv_loop_t *loop,
                                const nat_netcheck_config *cfg);

typedef void (*nat_netcheck_close_cb)(nat_netcheck *nc, void *arg);

/** End the run (done(NAT_ECANCELED) first if it had not ended), close
 * every handle, then @p cb (may be NULL); @p nc and its result are freed
 * after it returns. A lookup cannot be cancelled: the handle waits for
 * the lookups still under way (the loop stays alive until they end; a
 * program about to exit may stop its loop instead). A second call does
 * nothing. */
NAT_EXTERN void nat_netcheck_close(nat_netcheck *nc, nat_netcheck_close_cb cb,
                                   void *arg);

#ifdef __cplusplus
}
#endif
#endif
