/* UPnP IGD: SSDP discovery on the loop, miniupnpc on the thread pool.
 *
 * Discovery is ours: an M-SEARCH for an InternetGatewayDevice sent from a
 * uv_udp socket to GATEWAY:1900 and to 239.255.255.250:1900 (as Tailscale
 * does); the first answer from the gateway's address with a LOCATION
 * header names the description URL. miniupnpc's upnpDiscover() cannot fit
 * a 250 ms probe: with a delay under 1000 ms it sets MX to 1 and waits
 * 1000 ms anyway (measured in the lab: no IGD found with budgets of 500
 * and 1000 ms, found with 1500; miniupnpd itself answers an M-SEARCH in
 * about 55 ms). Then miniupnpc's blocking calls (UPNP_GetIGDFromUrl, the
 * SOAP requests) run on the loop's thread pool (uv_queue_work), one job at
 * a time: a request made while a job runs waits for it. The worker
 * touches only this file's struct; the answer is handed to
 * nat__pm_on_answer() on the loop thread. A job still running at close is
 * waited for (pm->jobs), its result dropped.
 *
 * nat__upnp_delete_now() falls back to upnpDiscover() + UPNP_GetValidIGD()
 * when its own M-SEARCH goes unanswered. miniupnpc 2.2.4 (Debian 12) is
 * API 17: UPNP_GetValidIGD() takes five arguments and returns 1 connected,
 * 2 not connected, 3 not an IGD; from API 18 (2.2.8) it takes the WAN
 * address too and returns 1 connected, 2 private external address, 3 not
 * connected, 4 not an IGD. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <miniupnpc/miniupnpc.h>
#include <miniupnpc/upnpcommands.h>
#include <miniupnpc/upnperrors.h>

#include "nat/error.h"
#include "portmap/portmap_internal.h"

enum { JOB_PROBE, JOB_MAP };

#define SSDP_PORT 1900
#define SSDP_MSEARCH                                                           \
  "M-SEARCH * HTTP/1.1\r\n"                                                    \
  "HOST: 239.255.255.250:1900\r\n"                                             \
  "ST: urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\n"                \
  "MAN: \"ssdp:discover\"\r\n"                                                 \
  "MX: 1\r\n\r\n"

struct nat__upnp {
  uv_work_t work;
  nat_portmap *pm;
  bool busy;
  uv_udp_t ssdp;
  bool ssdp_open;
  char location[256]; /* the IGD's description URL (SSDP's LOCATION) */
  int kind;
  char local_ip[64];
  char gw_ip[NAT_ADDR_STRLEN]; /* the gateway, as SSDP's LOCATION names it */
  /* the IGD, kept from the probe for the mapping */
  bool have_igd;
  struct UPNPUrls urls;
  struct IGDdatas data;
  char lanaddr[64];
  nat_addr ext_ip;
  /* the job's request and answer */
  uint16_t port, ext_port;
  uint32_t lifetime;
  nat__pm_answer ans;
  nat_tstamp started;
  /* one request waiting for the running job */
  bool pend;
  uint16_t pend_port, pend_ext;
  uint32_t pend_life;
};

static const char *igd_state(int r) {
#if MINIUPNPC_API_VERSION >= 18
  static const char *const s[] = {"none", "connected",
                                  "private external address", "not connected",
                                  "not an IGD"};
  return r >= 0 && r <= 4 ? s[r] : "unknown";
#else
  static const char *const s[] = {"none", "connected", "not connected",
                                  "not an IGD"};
  return r >= 0 && r <= 3 ? s[r] : "unknown";
#endif
}

/* Discovery, the IGD, its external address. Worker thread. */
static void find_igd(nat__upnp *x, int delay_ms, bool *any) {
  int err = 0, r;
  struct UPNPDev *devs = upnpDiscover(
      delay_ms, x->local_ip[0] ? x->local_ip : NULL, NULL, 0, 0, 2, &err);
  *any = devs != NULL;
  if (!devs)
    return;
#if MINIUPNPC_API_VERSION >= 18
  char wan[64];
  r = UPNP_GetValidIGD(devs, &x->urls, &x->data, x->lanaddr, sizeof x->lanaddr,
                       wan, sizeof wan);
#else
  r = UPNP_GetValidIGD(devs, &x->urls, &x->data, x->lanaddr, sizeof x->lanaddr);
#endif
  freeUPNPDevlist(devs);
  if (r <= 0)
    return;
  x->have_igd = true;
  snprintf(x->ans.detail, sizeof x->ans.detail, "%s", igd_state(r));
}

/* The IGD from its description URL, its state and external address.
 * Worker thread. */
static void probe_work(nat__upnp *x) {
  char ip[40] = "", status[64] = "", lasterr[64] = "";
  unsigned uptime = 0;
  int r;
  if (UPNP_GetIGDFromUrl(x->location, &x->urls, &x->data, x->lanaddr,
                         sizeof x->lanaddr) != 1) {
    x->ans.status = NAT_EPMPARSE; /* an answer, but no usable IGD there */
    snprintf(x->ans.detail, sizeof x->ans.detail, "not an IGD");
    return;
  }
  x->have_igd = true;
  if (UPNP_GetStatusInfo(x->urls.controlURL, x->data.first.servicetype, status,
                         &uptime, lasterr) == UPNPCOMMAND_SUCCESS)
    snprintf(x->ans.detail, sizeof x->ans.detail, "%s",
             strcmp(status, "Connected") == 0 ? "connected" : "not connected");
  r = UPNP_GetExternalIPAddress(x->urls.controlURL, x->data.first.servicetype,
                                ip);
  if (r != UPNPCOMMAND_SUCCESS) {
    x->ans.status = NAT_EPMREFUSED;
    x->ans.result = (unsigned)r;
    return;
  }
  if (nat_addr_parse(&x->ext_ip, ip, 0) == 0)
    x->ans.external = x->ext_ip;
}

static void map_work(nat__upnp *x) {
  char ext[8], in[8], lease[16];
  const char *ctl = x->urls.controlURL, *st = x->data.first.servicetype;
  int r;
  snprintf(ext, sizeof ext, "%u", (unsigned)x->ext_port);
  snprintf(in, sizeof in, "%u", (unsigned)x->port);
  snprintf(lease, sizeof lease, "%lu", (unsigned long)x->lifetime);
  if (x->lifetime == 0) {
    r = UPNP_DeletePortMapping(ctl, st, ext, "UDP", NULL);
  } else {
    r = UPNP_AddPortMapping(ctl, st, ext, in, x->lanaddr, "libnat", "UDP", NULL,
                            lease);
    if (r == 725) /* OnlyPermanentLeasesSupported: ask for no lease */
      r = UPNP_AddPortMapping(ctl, st, ext, in, x->lanaddr, "libnat", "UDP",
                              NULL, "0");
  }
  if (r != UPNPCOMMAND_SUCCESS) {
    x->ans.status = NAT_EPMREFUSED;
    x->ans.result = (unsigned)r;
    snprintf(x->ans.detail, sizeof x->ans.detail, "%d %s", r,
             strupnperror(r) ? strupnperror(r) : "");
    return;
  }
  x->ans.external = x->ext_ip;
  x->ans.external.port = x->ext_port;
  x->ans.lifetime = x->lifetime;
  if (x->lifetime) { /* read it back: the lease the IGD really keeps */
    char client[16], port[6], desc[80], en[4], dur[16] = "";
    if (UPNP_GetSpecificPortMappingEntry(ctl, st, ext, "UDP", NULL, client,
                                         port, desc, en,
                                         dur) == UPNPCOMMAND_SUCCESS) {
      unsigned long d = strtoul(dur, NULL, 10);
      if (d > 0 && d < x->lifetime)
        x->ans.lifetime = (uint32_t)d;
    }
  }
}

static void on_work(uv_work_t *w) {
  nat__upnp *x = w->data;
  if (x->kind == JOB_PROBE)
    probe_work(x);
  else
    map_work(x);
}

static int queue(nat_portmap *pm);

/* A job ended (loop thread). When a request waits behind it (a delete
 * behind a refresh), the ended job's answer is stale: it is dropped and
 * the waiting request starts, even at close (the gateway should still
 * hear a delete; its answer is dropped then). */
static void on_done(uv_work_t *w, int status) {
  nat__upnp *x = w->data;
  nat_portmap *pm = x->pm;
  nat__pm_answer a = x->ans;
  x->busy = false;
  pm->jobs--;
  if (status == UV_ECANCELED)
    a.status = NAT_ECANCELED;
  a.is_map = x->kind == JOB_MAP;
  if (x->pend) {
    x->pend = false;
    x->kind = JOB_MAP;
    x->port = x->pend_port;
    x->ext_port = x->pend_ext;
    x->lifetime = x->pend_life;
    if ((!x->have_igd || queue(pm) < 0) && !pm->closed_handles) {
      memset(&a, 0, sizeof a);
      a.is_map = true;
      a.status = NAT_EPMREFUSED;
      nat__pm_on_answer(pm, NAT_PM_UPNP, &a);
    }
  } else if (!pm->closed_handles) {
    nat__pm_on_answer(pm, NAT_PM_UPNP, &a);
  }
  nat__pm_release(pm);
}

static int queue(nat_portmap *pm) {
  nat__upnp *x = pm->upnp;
  int rc;
  memset(&x->ans, 0, sizeof x->ans);
  x->work.data = x;
  rc = uv_queue_work(pm->loop, &x->work, on_work, on_done);
  if (rc < 0)
    return rc;
  x->busy = true;
  pm->jobs++;
  return 0;
}

/* The first SSDP answer from the gateway's address starts the job. */
static void ssdp_recv(uv_udp_t *u, ssize_t n, const uv_buf_t *buf,
                      const struct sockaddr *sa, unsigned flags) {
  nat__upnp *x = u->data;
  nat_portmap *pm = x->pm;
  nat_addr from;
  (void)flags;
  if (n <= 0 || !sa || x->location[0] || pm->probe.done ||
      nat_addr_from_sockaddr(&from, sa) < 0 ||
      !nat_addr_equal_ip(&from, &pm->probe.gateway))
    return;
  if (nat__ssdp_location(buf->base, (size_t)n, x->gw_ip, x->location,
                         sizeof x->location))
    return;
  uv_udp_recv_stop(u);
  x->kind = JOB_PROBE;
  if (queue(pm) < 0) {
    nat__pm_answer a;
    memset(&a, 0, sizeof a);
    a.status = NAT_ENOMEM;
    nat__pm_on_answer(pm, NAT_PM_UPNP, &a);
  }
}

static int ssdp_send(nat__upnp *x, const nat_addr *to) {
  struct sockaddr_storage ss;
  uv_buf_t b = uv_buf_init((char *)(uintptr_t)SSDP_MSEARCH,
                           (unsigned)(sizeof SSDP_MSEARCH - 1));
  int rc = nat_addr_to_sockaddr(to, (struct sockaddr *)&ss, sizeof ss);
  if (rc < 0)
    return rc;
  rc = uv_udp_try_send(&x->ssdp, &b, 1, (struct sockaddr *)&ss);
  return rc < 0 ? rc : 0;
}

int nat__upnp_probe(nat_portmap *pm) {
  nat__upnp *x = calloc(1, sizeof *x);
  nat_addr to;
  int rc, rc2;
  if (!x)
    return NAT_ENOMEM;
  pm->upnp = x;
  x->pm = pm;
  if (pm->probe.gateway.family != NAT_AF_INET)
    return NAT_EUNSUPPORTED; /* SSDP over IPv6 (ff02::c) is not asked */
  nat_addr_format_ip(&pm->probe.local, x->local_ip, sizeof x->local_ip);
  nat_addr_format_ip(&pm->probe.gateway, x->gw_ip, sizeof x->gw_ip);
  x->ssdp_open = true;
  rc = nat__pm_udp_open(pm, &x->ssdp, x, ssdp_recv);
  if (rc < 0)
    return rc;
  to = pm->probe.gateway;
  to.port = SSDP_PORT;
  rc = ssdp_send(x, &to);
  /* the multicast leaves by the interface of our address towards the
   * gateway (not whatever the default route says), TTL 1: the LAN only
   * (with a loopback gateway, as in tests, it never leaves the host) */
  rc2 = uv_udp_set_multicast_interface(&x->ssdp, x->local_ip);
  if (rc2 == 0)
    rc2 = uv_udp_set_multicast_ttl(&x->ssdp, 1);
  (void)nat_addr_parse(&to, "239.255.255.250", SSDP_PORT);
  if (rc2 == 0)
    rc2 = ssdp_send(x, &to);
  return rc < 0 && rc2 < 0 ? rc : 0;
}

void nat__upnp_stop(nat_portmap *pm) {
  if (pm->upnp && pm->upnp->ssdp_open && pm->upnp->ssdp.loop)
    uv_udp_recv_stop(&pm->upnp->ssdp);
}

void nat__upnp_close(nat_portmap *pm) {
  nat__upnp *x = pm->upnp;
  if (x && x->ssdp_open && x->ssdp.loop &&
      !uv_is_closing((uv_handle_t *)&x->ssdp)) {
    x->ssdp.data = pm;
    uv_close((uv_handle_t *)&x->ssdp, nat__pm_on_handle_closed);
  }
}

int nat__upnp_map(nat_portmap *pm, uint16_t port, uint16_t ext_port,
                  uint32_t lifetime) {
  nat__upnp *x = pm->upnp;
  if (!x)
    return NAT_ENOGATEWAY;
  if (x->busy) { /* (have_igd is the worker's until the job ends) */
    x->pend = true;
    x->pend_port = port;
    x->pend_ext = ext_port;
    x->pend_life = lifetime;
    return 0;
  }
  if (!x->have_igd)
    return NAT_ENOGATEWAY;
  x->kind = JOB_MAP;
  x->port = port;
  x->ext_port = ext_port;
  x->lifetime = lifetime;
  return queue(pm);
}

bool nat__upnp_discovered(const nat_portmap *pm) {
  return pm->upnp && pm->upnp->location[0] != '\0';
}

void nat__upnp_free(nat_portmap *pm) {
  nat__upnp *x = pm->upnp;
  if (!x)
    return;
  if (x->have_igd)
    FreeUPNPUrls(&x->urls);
  free(x);
  pm->upnp = NULL;
}

/* A blocking M-SEARCH to @p gw:1900; the LOCATION of its answer.
 * @return 0 or -1. */
static int ssdp_blocking(const nat_addr *gw, const nat_addr *local, char *out,
                         size_t cap, int wait_ms) {
  struct sockaddr_storage ss;
  nat_addr to = *gw;
  char buf[2048], gw_ip[NAT_ADDR_STRLEN];
  int fd, sl, rc = -1;
  nat_addr_format_ip(gw, gw_ip, sizeof gw_ip);
  to.port = SSDP_PORT;
  sl = nat_addr_to_sockaddr(&to, (struct sockaddr *)&ss, sizeof ss);
  if (sl < 0)
    return -1;
  fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return -1;
  if (local && local->family == gw->family) {
    struct sockaddr_storage ls;
    int ll = nat_addr_to_sockaddr(local, (struct sockaddr *)&ls, sizeof ls);
    if (ll > 0)
      (void)bind(fd, (struct sockaddr *)&ls, (socklen_t)ll);
  }
  if (connect(fd, (struct sockaddr *)&ss, (socklen_t)sl) == 0 &&
      send(fd, SSDP_MSEARCH, sizeof SSDP_MSEARCH - 1, 0) > 0) {
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    while (poll(&pfd, 1, wait_ms) > 0) {
      ssize_t n = recv(fd, buf, sizeof buf - 1, 0);
      if (n <= 0)
        break;
      buf[n] = '\0';
      if (nat__ssdp_location(buf, (size_t)n, gw_ip, out, cap) == 0) {
        rc = 0;
        break;
      }
    }
  }
  close(fd);
  return rc;
}

int nat__upnp_delete_now(const nat_addr *gw, const nat_addr *local,
                         uint16_t ext_port, nat_tstamp wait) {
  nat__upnp x;
  char ext[8];
  bool any;
  int r, ms = (int)(wait / NAT_MILLISECONDS);
  memset(&x, 0, sizeof x);
  if (local && local->family != NAT_AF_NONE)
    nat_addr_format_ip(local, x.local_ip, sizeof x.local_ip);
  if (ssdp_blocking(gw, local, x.location, sizeof x.location, ms / 2) == 0 &&
      UPNP_GetIGDFromUrl(x.location, &x.urls, &x.data, x.lanaddr,
                         sizeof x.lanaddr) == 1)
    x.have_igd = true;
  else
    find_igd(&x, ms < 10 ? 10 : ms / 2, &any); /* miniupnpc's discovery */
  if (!x.have_igd)
    return NAT_ETIMEDOUT;
  snprintf(ext, sizeof ext, "%u", (unsigned)ext_port);
  r = UPNP_DeletePortMapping(x.urls.controlURL, x.data.first.servicetype, ext,
                             "UDP", NULL);
  FreeUPNPUrls(&x.urls);
  return r == UPNPCOMMAND_SUCCESS ? 0 : NAT_EPMREFUSED;
}
