/* netcheck's port-mapping probe (nat/netcheck.h, nat/portmap.h): started
 * with the lookups and run beside them and the plan; its gateways'
 * external addresses go to the double-NAT verdict. With portmap_test, a
 * short lease of the first socket's port is asked of the gateway, read
 * back and deleted. The run's done callback waits for the port-mapping
 * handle to close, bounded by the run's deadline. */
#include <stdio.h>
#include <string.h>

#include "nat/error.h"
#include "netcheck_internal.h"

/* The test's lease, seconds: short, and deleted at once anyway. */
#define NC_PM_LEASE 30

static void pm_error(nat_netcheck *nc, int status, const char *why) {
  nat_netcheck_portmap *r = &nc->res.portmap;
  if (r->test_status != 0)
    return;
  r->test_status = status != 0 ? status : NAT_EINVAL;
  snprintf(r->test_error, sizeof r->test_error, "%s",
           why != NULL && why[0] != '\0' ? why : nat_strerror(r->test_status));
}

/* Keep what the handle knows, then close it (a mapping still held is
 * deleted by the close). The CLOSED event ends it. */
void nat__nc_pm_stop(nat_netcheck *nc, int status, const char *why) {
  nat_netcheck_portmap *r = &nc->res.portmap;
  nat_portmap_probe probe;
  if (nc->pm == NULL || nc->pm_stopping)
    return;
  nc->pm_stopping = true;
  if (status != 0 && r->tested && !r->deleted)
    pm_error(nc, status, why);
  nat_portmap_get(nc->pm, &probe, NULL, NULL);
  if (!nc->pm_probed)
    r->probe = probe; /* as far as it went */
  nc->pm_in_stop = true;
  nat_portmap_close(nc->pm);
  nc->pm_in_stop = false;
}

/* The test maps once the probe has ended and the first socket is open. */
static void pm_try_map(nat_netcheck *nc) {
  nat_netcheck_portmap *r = &nc->res.portmap;
  int rv;
  if (nc->pm == NULL || nc->pm_stopping || !nc->pm_probed || !r->tested ||
      nc->pm_mapping || nc->pm_port == 0)
    return;
  nc->pm_mapping = true;
  r->mapping.internal_port = nc->pm_port;
  r->mapping.lifetime_asked = NC_PM_LEASE;
  rv = nat_portmap_map(nc->pm, nc->pm_port, NC_PM_LEASE);
  if (rv < 0)
    nat__nc_pm_stop(nc, rv,
                    rv == NAT_ENOGATEWAY
                        ? "no port-mapping protocol answered the probe"
                        : NULL);
}

static void on_mapped(nat_netcheck *nc, const nat_portmap_event *ev) {
  nat_netcheck_portmap *r = &nc->res.portmap;
  nat_portmap_mapping m;
  int rv;
  r->mapping = *ev->mapping;
  if (nc->pm_unmapping)
    return; /* a refresh while the delete goes */
  nat_portmap_get(nc->pm, NULL, &m, NULL);
  r->read_back = m.active && m.internal_port == nc->pm_port &&
                 m.external.family != NAT_AF_NONE && m.external.port != 0;
  if (!r->read_back)
    pm_error(nc, NAT_EINVAL, "the granted mapping did not read back");
  nc->pm_unmapping = true;
  rv = nat_portmap_unmap(nc->pm);
  if (rv < 0)
    nat__nc_pm_stop(nc, rv, "the delete could not be asked");
}

static void on_event(nat_portmap *pm, void *arg, const nat_portmap_event *ev) {
  nat_netcheck *nc = arg;
  nat_netcheck_portmap *r = &nc->res.portmap;
  (void)pm;
  switch (ev->type) {
  case NAT_PM_EV_PROBED:
    r->probe = *ev->probe;
    nc->pm_probed = true;
    if (!r->tested)
      nat__nc_pm_stop(nc, 0, NULL);
    else
      pm_try_map(nc);
    break;
  case NAT_PM_EV_MAPPED:
    on_mapped(nc, ev);
    break;
  case NAT_PM_EV_FAILED:
  case NAT_PM_EV_LOST:
    nat__nc_pm_stop(nc, ev->status != 0 ? ev->status : NAT_EPMREFUSED,
                    ev->reason);
    break;
  case NAT_PM_EV_UNMAPPED:
    r->deleted = ev->status == 0;
    if (ev->status != 0)
      pm_error(nc, ev->status, "the gateway did not confirm the delete");
    nat__nc_pm_stop(nc, 0, NULL);
    break;
  case NAT_PM_EV_CLOSED:
    nc->pm = NULL;
    if (!nc->pm_in_stop)
      nat__nc_pm_closed(nc);
    break;
  }
}

void nat__nc_pm_start(nat_netcheck *nc) {
  nat_netcheck_portmap *r = &nc->res.portmap;
  nat_portmap_config c;
  int rv;
  if (nc->cfg.no_portmap)
    return;
  memset(&c, 0, sizeof c);
  c.gateway = nc->cfg.portmap_gateway;
  c.cb = on_event;
  c.arg = nc;
  r->tested = nc->cfg.portmap_test;
  rv = nat_portmap_new(&nc->pm, nc->loop, &c);
  if (rv < 0) {
    nc->pm = NULL;
    r->status = rv;
    if (r->tested)
      pm_error(nc, rv, "the port-mapping probe could not start");
    return;
  }
  r->probed = true;
}

void nat__nc_pm_sock_open(nat_netcheck *nc, const nc_sock *k) {
  if (k->idx != NC_HOP_SOCK || nc->pm_port != 0)
    return;
  nc->pm_port = k->local.port;
  pm_try_map(nc);
}

void nat__nc_pm_plan_over(nat_netcheck *nc) {
  if (nc->pm != NULL && nc->res.portmap.tested && nc->pm_probed &&
      !nc->pm_mapping && nc->pm_port == 0)
    nat__nc_pm_stop(nc, NAT_EINVAL, "the first socket was never opened");
}

size_t nat__nc_pm_gateways(const nat_netcheck *nc, nat_gateway_addr *out) {
  static const char *const via[NAT_PM_PROTOS] = {"PCP", "NAT-PMP", "UPnP"};
  const nat_netcheck_portmap *r = &nc->res.portmap;
  size_t n = 0;
  int p;
  for (p = 0; p < NAT_PM_PROTOS; p++) {
    const nat_pm_service *s = &r->probe.svc[p];
    if (!s->answered || s->status != 0 || s->external.family == NAT_AF_NONE)
      continue;
    out[n].external = s->external;
    out[n].via = via[p];
    n++;
  }
  return n;
}
