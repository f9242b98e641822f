/* libnat -- private parts of the port-mapping driver (nat/portmap.h):
 * the handle, shared by portmap.c (the probe and the mapping's life, PCP
 * on a libuv socket), portmap_natpmp.c (libnatpmp on the loop) and
 * portmap_upnp.c (miniupnpc on the thread pool); the sans-I/O answer
 * check (pcp.c) and the gateway lookup (gateway.c). Only the driver files
 * include <uv.h>; pcp.c and gateway.c use none of the handle. */
#ifndef NAT_PORTMAP_INTERNAL_H
#define NAT_PORTMAP_INTERNAL_H

#include "nat/portmap.h"

/* --------------------------------------------------- pcp.c (pure) */

/** What we sent, to judge what comes back. */
typedef struct nat__pcp_sent {
  nat_addr server; /* the gateway's address and port */
  uint8_t opcode;
  uint8_t nonce[NAT_PCP_NONCE_LEN]; /* MAP */
  uint8_t protocol;                 /* MAP */
  uint16_t internal_port;           /* MAP */
} nat__pcp_sent;

enum {
  NAT__PCP_OK = 0,
  NAT__PCP_WRONG_SOURCE = 1,
  NAT__PCP_WRONG_NONCE = 2,
  NAT__PCP_UNEXPECTED = 3 /* another opcode, port or protocol */
};

/** Whether the decoded answer @p rs from @p from answers @p sent: one of
 * the NAT__PCP_* values above. A NAT-PMP-only server's version-0 answer
 * (UNSUPP_VERSION) counts as an answer. */
int nat__pcp_check(const nat__pcp_sent *sent, const nat_addr *from,
                   const nat_pcp_response *rs);

/* ----------------------------------------------------------- ssdp.c */

/** The LOCATION of an SSDP answer (@p buf, @p len bytes: "HTTP/1.1 200"
 * and headers) into @p out, only when it is http://HOST[:PORT][/...] with
 * @p host the gateway's IP as text. @return 0, or -1 (not such an answer,
 * no LOCATION, another host, too long for @p cap, a NUL inside). */
int nat__ssdp_location(const char *buf, size_t len, const char *host, char *out,
                       size_t cap);

/* -------------------------------------------------------- gateway.c */

/** The default IPv4 route's gateway from a /proc/net/route-format file
 * (@p path; NULL: /proc/net/route), the lowest metric first.
 * @return 0; NAT_ENOTFOUND (no default route with a gateway); a negative
 *         errno (the file unreadable). */
int nat__gateway_default(const char *path, nat_addr *gw);

/** Our source address towards @p gw (a UDP socket connected, then
 * getsockname; nothing is sent). @return 0 or a negative errno. */
int nat__gateway_local(const nat_addr *gw, nat_addr *local);

/** Private, shared (RFC 6598), unique-local or link-local. */
bool nat__gateway_is_private(const nat_addr *gw);

/* ---------------------------------------------------------- driver */

/** Test hooks: a clock (default nat_udp_now), how many milliseconds of
 * timer a second of lease lasts (default 1000), so that a unit test runs
 * a refresh at half a 60 s lease in 30 ms, and the first PCP
 * retransmission's wait (default 50 ms), which a test under valgrind
 * lengthens so that its slowed fake gateway answers first. */
typedef struct nat__portmap_hooks {
  nat_clock_fn now;
  void *now_ctx;
  uint64_t ms_per_second;
  uint64_t pcp_first_rto_ms;
} nat__portmap_hooks;

int nat__portmap_new_hooked(nat_portmap **out, uv_loop_t *loop,
                            const nat_portmap_config *cfg,
                            const nat__portmap_hooks *hooks);

/** An answer from NAT-PMP or UPnP, handed to the driver on the loop. */
typedef struct nat__pm_answer {
  bool is_map;       /* a mapping (or delete) answer, else the address */
  int status;        /* 0, NAT_EPMREFUSED, NAT_ETIMEDOUT, ... */
  unsigned result;   /* the protocol's result code */
  nat_addr external; /* address answer: the IP; mapping: IP and port */
  uint32_t lifetime; /* mapping: seconds granted */
  bool has_epoch;
  uint32_t epoch;
  char detail[64]; /* UPnP: the IGD's state */
} nat__pm_answer;

typedef struct nat__natpmp nat__natpmp;
typedef struct nat__upnp nat__upnp;

/* What a PCP request in flight is for. */
typedef enum nat__pm_req {
  NAT__REQ_NONE = 0,
  NAT__REQ_PROBE, /* ANNOUNCE / the address request / discovery */
  NAT__REQ_MAP,   /* first grant, refresh, or again after a restart */
  NAT__REQ_DELETE /* lifetime 0 */
} nat__pm_req;

struct nat_portmap {
  uv_loop_t *loop;
  nat_portmap_config cfg;
  nat__portmap_hooks hooks;
  nat_portmap_probe probe;
  nat_portmap_mapping map;
  nat_portmap_stats stats;
  nat_tstamp start;
  bool closing, close_done;
  int open_handles;             /* uv handles whose close callback is to come */
  int jobs;                     /* thread-pool jobs still to complete */
  bool svc_done[NAT_PM_PROTOS]; /* probe: answered or failed */
  bool prev_epoch_set[NAT_PM_PROTOS];
  uint32_t prev_epoch[NAT_PM_PROTOS];
  nat_tstamp prev_epoch_now[NAT_PM_PROTOS];

  /* the mapping asked for */
  bool map_wanted; /* nat_portmap_map() was called, not unmapped */
  bool map_trying; /* a request of ours is in flight */
  nat__pm_req req[NAT_PM_PROTOS]; /* what each protocol has in flight */
  unsigned tried; /* NAT_PM_BIT()s of protocols tried for this grant */
  bool deleting;
  nat_pm_proto cur_proto; /* the protocol last asked for the mapping */
  int last_status;        /* why the last try failed (FAILED, LOST) */
  unsigned last_result;
  char reason[96];
  int life_mode;       /* what life_timer is armed for (portmap.c) */
  bool probe_extended; /* the budget was extended for UPnP's SOAP */
  bool probe_malformed[NAT_PM_PROTOS];
  int local_error; /* no source address towards the gateway */
  bool udp_open, closed_handles;
  uv_timer_t life_timer; /* refresh, map deadline, delete wait */
  uv_timer_t probe_timer;

  /* PCP */
  uv_udp_t udp;
  uv_timer_t pcp_timer; /* retransmission */
  nat__pcp_sent pcp_sent;
  uint8_t pcp_msg[NAT_PCP_HEADER_LEN + NAT_PCP_MAP_LEN];
  size_t pcp_len;
  uint64_t pcp_rto_ms;
  uint64_t pcp_waited_ms; /* since the request was first sent */
  unsigned pcp_tries;
  nat_tstamp pcp_sent_at;
  uint8_t pcp_nonce[NAT_PCP_NONCE_LEN];

  nat__natpmp *natpmp;
  nat__upnp *upnp;
};

nat_tstamp nat__pm_now(const nat_portmap *pm);
/** An answer from NAT-PMP or UPnP (@p p), on the loop thread. */
void nat__pm_on_answer(nat_portmap *pm, nat_pm_proto p,
                       const nat__pm_answer *a);
/** A handle's close callback or a job's end: frees when nothing is left. */
void nat__pm_release(nat_portmap *pm);
void nat__pm_on_handle_closed(uv_handle_t *h);
/** The receive buffer of the driver's sockets (one, static: the loop's
 * thread reads each datagram at once); one byte is kept free for a NUL. */
void nat__pm_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
/** Open @p u on our local address (any port), reading into @p cb with
 * @p data; counted in open_handles once initialised, so a failure after
 * that still closes it. @return 0 or a UV error. */
int nat__pm_udp_open(nat_portmap *pm, uv_udp_t *u, void *data,
                     uv_udp_recv_cb cb);

/* portmap_natpmp.c: libnatpmp on the loop (uv_poll on its socket, a
 * uv_timer for its retries). */
int nat__natpmp_start(nat_portmap *pm);
int nat__natpmp_map(nat_portmap *pm, uint16_t port, uint16_t ext_port,
                    uint32_t lifetime);
void nat__natpmp_stop(nat_portmap *pm);  /* nothing in flight any more */
void nat__natpmp_close(nat_portmap *pm); /* handles closed, freed */
int nat__natpmp_delete_now(const nat_addr *gw, uint16_t port, nat_tstamp wait);

/* portmap_upnp.c: SSDP on the loop, miniupnpc on the thread pool, one
 * job at a time. */
int nat__upnp_probe(nat_portmap *pm);
int nat__upnp_map(nat_portmap *pm, uint16_t port, uint16_t ext_port,
                  uint32_t lifetime);
bool nat__upnp_discovered(const nat_portmap *pm);
void nat__upnp_stop(nat_portmap *pm);  /* no more SSDP answers read */
void nat__upnp_close(nat_portmap *pm); /* the SSDP socket closed */
void nat__upnp_free(nat_portmap *pm);
int nat__upnp_delete_now(const nat_addr *gw, const nat_addr *local,
                         uint16_t ext_port, nat_tstamp wait);

#endif
