/* libnat -- the agent's port mapping (nat/portmap.h): as the run starts,
 * the gateway is probed (PCP, NAT-PMP, UPnP IGD at once) and asked to
 * forward a UDP port to our one socket; a grant becomes a "mapped"
 * candidate in our blob. The blob waits for it while the other gathering
 * runs, and at most NAT_AGENT_PORTMAP_WAIT from the start. The mapping
 * is refreshed by the portmap handle for as long as the run lasts and
 * deleted when the agent closes (nat__agent_teardown waits for that).
 *
 * A side that holds a mapped candidate while its NAT maps per
 * destination checks passively (nat_check_config.passive, set by the
 * core): its own checks would make its NAT map the socket afresh towards
 * the peer, and the peer's checks to the mapped port would clash with
 * that entry. */
#include <stdio.h>
#include <string.h>

#include "agent/agent_internal.h"
#include "nat/error.h"

static void pm_emit(nat_agent *a, const nat_portmap_event *pev) {
  nat_agent_event e;
  memset(&e, 0, sizeof e);
  e.type = NAT_AGENT_EV_PORTMAP;
  e.portmap = pev;
  e.text = pev->reason;
  e.error = pev->status;
  nat__agent_emit(a, &e);
}

/* The wait for the mapping is over (granted, refused, nothing answered,
 * or NAT_AGENT_PORTMAP_WAIT passed): the blob may go. */
static void pm_settle(nat_agent *a) {
  if (!a->pm_pending)
    return;
  a->pm_pending = false;
  uv_timer_stop(&a->pm_timer);
  nat__agent_gathered(a);
}

static void pm_offer(nat_agent *a, const nat_portmap_mapping *m) {
  nat_cand cand;
  if (a->pm_offered)
    return;
  if (a->blob_sent) {
    nat__agent_warn(a, "the gateway's port mapping came after our blob "
                       "went: it is not offered to the peer");
    return;
  }
  if (nat_cand_make(&cand, NAT_CAND_MAPPED, &m->external, &a->core.local, NULL,
                    65535) != 0)
    return;
  nat__punch_add_local(&a->core, &cand);
  if (!nat__punch_has_mapped(&a->core.mine)) {
    nat__agent_warn(a, "no room for the mapped candidate in our blob");
    return;
  }
  a->pm_offered = true;
  a->core.has_mapped = true;
}

static void on_pm(nat_portmap *pm, void *arg, const nat_portmap_event *ev) {
  nat_agent *a = arg;
  (void)pm;
  switch (ev->type) {
  case NAT_PM_EV_PROBED:
    if (ev->probe != NULL)
      a->pm_probe = *ev->probe;
    break;
  case NAT_PM_EV_MAPPED:
    if (ev->mapping != NULL) {
      a->pm_mapping = *ev->mapping;
      if (!a->finished)
        pm_offer(a, ev->mapping);
    }
    a->pm_status = 0;
    break;
  case NAT_PM_EV_LOST:
  case NAT_PM_EV_FAILED:
    a->pm_status = ev->status != 0 ? ev->status : NAT_EPMREFUSED;
    snprintf(a->pm_reason, sizeof a->pm_reason, "%s",
             ev->reason != NULL ? ev->reason : nat_strerror(a->pm_status));
    if (ev->mapping != NULL)
      a->pm_mapping = *ev->mapping;
    break;
  case NAT_PM_EV_UNMAPPED:
    a->pm_deleted = ev->status == 0;
    if (ev->mapping != NULL)
      a->pm_mapping = *ev->mapping;
    break;
  case NAT_PM_EV_CLOSED:
    a->pm = NULL;
    if (a->closing)
      nat__agent_teardown(a);
    return;
  }
  pm_emit(a, ev);
  if (ev->type != NAT_PM_EV_UNMAPPED && ev->type != NAT_PM_EV_LOST)
    pm_settle(a);
}

static void on_pm_wait(uv_timer_t *t) {
  nat_agent *a = t->data;
  nat_portmap_probe pr;
  bool answered = false;
  /* a gateway that answered the probe with success is about to grant:
   * wait for it a little longer, once (a loaded machine's gateway) */
  if (a->pm_pending && a->pm != NULL && !a->pm_extended) {
    nat_portmap_get(a->pm, &pr, NULL, NULL);
    for (int i = 0; i < NAT_PM_PROTOS; i++)
      answered = answered || (pr.svc[i].answered && pr.svc[i].status == 0);
    if (answered) {
      a->pm_extended = true;
      uv_timer_start(
          &a->pm_timer, on_pm_wait,
          (uint64_t)(NAT_AGENT_PORTMAP_GRANT_WAIT / NAT_MILLISECONDS), 0);
      return;
    }
  }
  if (a->pm_pending && a->pm_status == 0) {
    a->pm_status = NAT_ETIMEDOUT;
    snprintf(a->pm_reason, sizeof a->pm_reason,
             "no port mapping from the gateway within %u ms",
             (unsigned)(NAT_AGENT_PORTMAP_WAIT / NAT_MILLISECONDS));
  }
  pm_settle(a);
}

void nat__agent_portmap_start(nat_agent *a) {
  nat_portmap_config pc;
  int rc;
  if (a->cfg.no_portmap || a->pm != NULL)
    return;
  a->pm_asked = true;
  memset(&pc, 0, sizeof pc);
  pc.gateway = a->cfg.portmap_gateway;
  pc.cb = on_pm;
  pc.arg = a;
  if ((rc = nat_portmap_new(&a->pm, a->loop, &pc)) != 0) {
    a->pm = NULL;
    a->pm_status = rc;
    snprintf(a->pm_reason, sizeof a->pm_reason,
             "cannot probe the gateway for port mapping: %s", nat_strerror(rc));
    return;
  }
  if ((rc = nat_portmap_map(a->pm, a->core.local.port, 0)) != 0) {
    a->pm_status = rc;
    snprintf(a->pm_reason, sizeof a->pm_reason,
             "cannot ask the gateway for a mapping: %s", nat_strerror(rc));
    return;
  }
  a->pm_pending = true;
  uv_timer_start(&a->pm_timer, on_pm_wait,
                 (uint64_t)(NAT_AGENT_PORTMAP_WAIT / NAT_MILLISECONDS), 0);
}

bool nat__agent_portmap_teardown(nat_agent *a) {
  if (a->pm == NULL)
    return false;
  if (!a->pm_closing) {
    a->pm_closing = true;
    a->pm_pending = false;
    uv_timer_stop(&a->pm_timer);
    if (a->pm != NULL)
      nat_portmap_get(a->pm, &a->pm_probe, &a->pm_mapping, NULL);
    nat_portmap_close(a->pm); /* NAT_PM_EV_CLOSED comes back */
  }
  return true;
}

void nat__agent_portmap_info(const nat_agent *a, nat_agent_info *out) {
  out->pm_asked = a->pm_asked;
  out->pm_offered = a->pm_offered;
  out->pm_deleted = a->pm_deleted;
  out->pm_probe = a->pm_probe;
  out->pm_mapping = a->pm_mapping;
  if (a->pm != NULL)
    nat_portmap_get(a->pm, &out->pm_probe, &out->pm_mapping, NULL);
  out->pm_status = a->pm_status;
  snprintf(out->pm_reason, sizeof out->pm_reason, "%s", a->pm_reason);
}
