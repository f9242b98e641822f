/* libnat -- private to the netcheck driver (netcheck.c: lookups, the
 * plan, sockets, the verdict; netcheck_hops.c: the hop probe on the
 * plan's first socket). */
#ifndef NAT_IO_NETCHECK_INTERNAL_H
#define NAT_IO_NETCHECK_INTERNAL_H

#include <stdbool.h>

#include "nat/hops.h"
#include "nat/netcheck.h"

/* The socket the hop probe uses: the plan's first. */
#define NC_HOP_SOCK 0u

typedef struct nc_lookup {
  nat_netcheck *nc;
  uint16_t server_idx;
} nc_lookup;

typedef struct nc_sock {
  nat_netcheck *nc;
  unsigned idx;
  bool open;
  nat_addr local; /* bound port, with the concrete local IP */
  uv_udp_t h;
} nc_sock;

typedef struct nc_send {
  uv_udp_send_t req;
  uint8_t buf[];
} nc_send;

struct nat_netcheck {
  uv_loop_t *loop;
  nat_netcheck_config cfg;
  nat_netcheck_server servers[NAT_NETCHECK_MAX_SERVERS]; /* names copied */
  char *software;
  nat_netcheck_result res;
  uv_timer_t deadline, tick;
  nc_lookup lookups[NAT_NETCHECK_MAX_SERVERS];
  nc_sock socks[NAT_PROBE_MAX_SOCKETS];
  nat_probe *probe;
  nat_hops *hops;      /* the hop probe, on socket 0 (netcheck_hops.c) */
  nat_tstamp plan_end; /* the plan's deadline, absolute */
  bool hop_recverr;    /* IP_RECVERR is set on socket NC_HOP_SOCK */
  nat_portmap *pm;     /* the port-mapping probe (netcheck_portmap.c) */
  bool pm_probed, pm_stopping, pm_in_stop, pm_mapping, pm_unmapping;
  bool pm_waiting;      /* the tick timer bounds the wait for it */
  uint16_t pm_port;     /* socket NC_HOP_SOCK's port, once open */
  bool socks_closed;    /* the plan's sockets and the deadline closed */
  nat_obslog failures;  /* requests that could not be made */
  nat_addr local_ip[2]; /* per family: the IP routes to the servers use */
  bool have_local[2];
  bool resolving[NAT_NETCHECK_MAX_SERVERS];
  size_t nresolving; /* lookups under way */
  size_t closing;    /* sockets and the deadline timer not yet closed */
  bool finishing, done_called, cancelled, close_called, tick_closing;
  bool tick_closed;
  int fatal;
  nat_tstamp start;
  nat_netcheck_close_cb close_cb;
  void *close_arg;
  uint8_t rbuf[65536];
};

/* The hop probe (netcheck_hops.c). Each does nothing without one. */
/* Socket @p k (NC_HOP_SOCK) is open: start the probe on it. */
void nat__nc_hops_start(nat_netcheck *nc, nc_sock *k, nat_tstamp now);
/* Send what is due and run its timers; its next expiry. */
nat_tstamp nat__nc_hops_pump(nat_netcheck *nc, nat_tstamp now);
/* A datagram of the plan from socket @p k with IP_RECVERR on: sent now
 * (the error queue drained first; a send failed by an ICMP error that
 * came meanwhile is tried once more): 0, UV_EAGAIN (queue it: also when
 * @p k is not the probe's), or the send error. */
int nat__nc_hops_try_send(nat_netcheck *nc, nc_sock *k,
                          const struct sockaddr *sa, const uint8_t *buf,
                          size_t len);
/* A datagram on socket @p k: true if it was the probe's (consumed). */
bool nat__nc_hops_recv(nat_netcheck *nc, nc_sock *k, const nat_addr *from,
                       const uint8_t *buf, size_t len);
/* Read socket @p k's error queue empty (ICMP reports to the probe):
 * how many were read. */
unsigned nat__nc_hops_drain(nat_netcheck *nc, nc_sock *k);
/* The plan ended: stop, keep the list in the result, free. */
void nat__nc_hops_end(nat_netcheck *nc);

/* The port-mapping probe (netcheck_portmap.c). */
/* Start it (unless no_portmap); a failure is kept in res.portmap. */
void nat__nc_pm_start(nat_netcheck *nc);
/* Socket @p k is open: the test maps socket NC_HOP_SOCK's port. */
void nat__nc_pm_sock_open(nat_netcheck *nc, const nc_sock *k);
/* The plan's sockets are closed: a test still waiting for one fails. */
void nat__nc_pm_plan_over(nat_netcheck *nc);
/* Keep what it found and close it; @p status (not 0) and @p why (may be
 * NULL) fail a test under way. The CLOSED event follows (never inside
 * this call: then nc->pm is NULL on return and nat__nc_pm_closed() is not
 * called). */
void nat__nc_pm_stop(nat_netcheck *nc, int status, const char *why);
/* The gateways' external addresses into @p out (NAT_PM_PROTOS room). */
size_t nat__nc_pm_gateways(const nat_netcheck *nc, nat_gateway_addr *out);
/* netcheck.c: the port-mapping handle has closed. */
void nat__nc_pm_closed(nat_netcheck *nc);

#endif
