/* UPnP IGD through miniupnpc, on the loop's thread pool (uv_queue_work):
 * miniupnpc blocks (SSDP waits its whole delay, SOAP is HTTP), so it never
 * runs on the loop thread. One job at a time: a request made while a job
 * runs waits for it. The worker touches only this file's struct; the
 * answer is handed to nat__pm_on_answer() on the loop thread. A job still
 * running at close is waited for (pm->jobs), its result dropped.
 *
 * miniupnpc 2.2.4 (Debian 12) is API 17: UPNP_GetValidIGD() takes five
 * arguments and returns 1 connected, 2 not connected, 3 not an IGD; from
 * API 18 (2.2.8) it takes the WAN address too and returns 1 connected,
 * 2 private external address, 3 not connected, 4 not an IGD. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <miniupnpc/miniupnpc.h>
#include <miniupnpc/upnpcommands.h>
#include <miniupnpc/upnperrors.h>

#include "nat/error.h"
#include "portmap/portmap_internal.h"

enum { JOB_PROBE, JOB_MAP };

struct nat__upnp {
  uv_work_t work;
  nat_portmap *pm;
  bool busy;
  atomic_int discovered; /* set by the worker once SSDP found devices */
  int kind;
  int delay_ms;
  char local_ip[64];
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
                                  "private external address",
                                  "not connected", "not an IGD"};
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
  atomic_store(&x->discovered, 1);
#if MINIUPNPC_API_VERSION >= 18
  char wan[64];
  r = UPNP_GetValidIGD(devs, &x->urls, &x->data, x->lanaddr,
                       sizeof x->lanaddr, wan, sizeof wan);
#else
  r = UPNP_GetValidIGD(devs, &x->urls, &x->data, x->lanaddr,
                       sizeof x->lanaddr);
#endif
  freeUPNPDevlist(devs);
  if (r <= 0)
    return;
  x->have_igd = true;
  snprintf(x->ans.detail, sizeof x->ans.detail, "%s", igd_state(r));
}

static void probe_work(nat__upnp *x) {
  char ip[40] = "";
  bool any = false;
  int r;
  find_igd(x, x->delay_ms, &any);
  if (!x->have_igd) {
    x->ans.status = NAT_ETIMEDOUT;
    if (any)
      snprintf(x->ans.detail, sizeof x->ans.detail, "no IGD among devices");
    return;
  }
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
    r = UPNP_AddPortMapping(ctl, st, ext, in, x->lanaddr, "libnat", "UDP",
                            NULL, lease);
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

static void on_done(uv_work_t *w, int status) {
  nat__upnp *x = w->data;
  nat_portmap *pm = x->pm;
  nat__pm_answer a = x->ans;
  x->busy = false;
  pm->jobs--;
  if (status == UV_ECANCELED)
    a.status = NAT_ECANCELED;
  a.is_map = x->kind == JOB_MAP;
  if (!pm->closed_handles)
    nat__pm_on_answer(pm, NAT_PM_UPNP, &a);
  if (x->pend && !pm->closed_handles) {
    x->pend = false;
    x->kind = JOB_MAP;
    x->port = x->pend_port;
    x->ext_port = x->pend_ext;
    x->lifetime = x->pend_life;
    if (queue(pm) < 0) {
      memset(&a, 0, sizeof a);
      a.is_map = true;
      a.status = NAT_EPMREFUSED;
      nat__pm_on_answer(pm, NAT_PM_UPNP, &a);
    }
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

int nat__upnp_probe(nat_portmap *pm, int delay_ms) {
  nat__upnp *x = calloc(1, sizeof *x);
  if (!x)
    return NAT_ENOMEM;
  pm->upnp = x;
  x->pm = pm;
  x->kind = JOB_PROBE;
  x->delay_ms = delay_ms;
  if (pm->probe.local.family != NAT_AF_NONE)
    nat_addr_format_ip(&pm->probe.local, x->local_ip, sizeof x->local_ip);
  return queue(pm);
}

int nat__upnp_map(nat_portmap *pm, uint16_t port, uint16_t ext_port,
                  uint32_t lifetime) {
  nat__upnp *x = pm->upnp;
  if (!x || !x->have_igd)
    return NAT_ENOGATEWAY;
  if (x->busy) {
    x->pend = true;
    x->pend_port = port;
    x->pend_ext = ext_port;
    x->pend_life = lifetime;
    return 0;
  }
  x->kind = JOB_MAP;
  x->port = port;
  x->ext_port = ext_port;
  x->lifetime = lifetime;
  return queue(pm);
}

bool nat__upnp_busy(const nat_portmap *pm) {
  return pm->upnp && pm->upnp->busy;
}

bool nat__upnp_discovered(const nat_portmap *pm) {
  return pm->upnp && atomic_load(&pm->upnp->discovered);
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

int nat__upnp_delete_now(const nat_addr *local, uint16_t ext_port,
                         nat_tstamp wait) {
  nat__upnp x;
  char ext[8];
  bool any;
  int r, ms = (int)(wait / NAT_MILLISECONDS);
  memset(&x, 0, sizeof x);
  if (local && local->family != NAT_AF_NONE)
    nat_addr_format_ip(local, x.local_ip, sizeof x.local_ip);
  find_igd(&x, ms < 10 ? 10 : ms / 2, &any);
  if (!x.have_igd)
    return NAT_ETIMEDOUT;
  snprintf(ext, sizeof ext, "%u", (unsigned)ext_port);
  r = UPNP_DeletePortMapping(x.urls.controlURL, x.data.first.servicetype, ext,
                             "UDP", NULL);
  FreeUPNPUrls(&x.urls);
  return r == UPNPCOMMAND_SUCCESS ? 0 : NAT_EPMREFUSED;
}
