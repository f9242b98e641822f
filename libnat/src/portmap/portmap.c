/* The port-mapping driver (nat/portmap.h): the probe of PCP, NAT-PMP and
 * UPnP IGD at once, then one mapping's life (grant, refresh at half its
 * lifetime, again after a gateway restart, delete). PCP is spoken here on
 * a libuv socket; NAT-PMP (portmap_natpmp.c) and UPnP (portmap_upnp.c)
 * hand their answers to nat__pm_on_answer(). Every decision about what a
 * datagram means is in pcp.c (nat_pcp_decode, nat__pcp_check,
 * nat_pm_epoch_lost). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nat/error.h"
#include "nat/udp.h"
#include "portmap/portmap_internal.h"

/* PCP retransmission. RFC 6887 8.1.1 starts at IRT = 3 s: far too slow
 * for a 250 ms probe towards a gateway one hop away that answers within
 * milliseconds, so the first retransmission is at 50 ms, doubling, at
 * most PCP_MAX_SENDS sends; a request still unanswered after
 * PCP_REQ_WAIT_MS (MAP, delete) counts as timed out (the probe is ended
 * by its own budget). */
#define PCP_FIRST_RTO_MS 50
#define PCP_MAX_RTO_MS   800
#define PCP_MAX_SENDS    7
#define PCP_REQ_WAIT_MS  2000
/* Refresh at half the granted lifetime, but never sooner than 5/8 of it
 * or 10 s, whichever is less (RFC 6887 11.2.1's window is 1/2 to 5/8),
 * and never sooner than 1 s. */
#define REFRESH_FLOOR_S 10

/* What the life timer is armed for. */
enum { LIFE_IDLE, LIFE_START, LIFE_REFRESH, LIFE_DELETE_WAIT, LIFE_UNMAPPED };

static void probe_finish(nat_portmap *pm);
static void map_next(nat_portmap *pm);
static void pm_really_close(nat_portmap *pm);

nat_tstamp nat__pm_now(const nat_portmap *pm) {
  return pm->hooks.now ? pm->hooks.now(pm->hooks.now_ctx) : nat_udp_now();
}

static void emit(nat_portmap *pm, nat_portmap_event *ev) {
  pm->cfg.cb(pm, pm->cfg.arg, ev);
}

/* ---------------------------------------------------------------- PCP */

static int pcp_send(nat_portmap *pm) {
  struct sockaddr_storage ss;
  uv_buf_t b = uv_buf_init((char *)pm->pcp_msg, (unsigned)pm->pcp_len);
  int rc = nat_addr_to_sockaddr(&pm->pcp_sent.server, (struct sockaddr *)&ss,
                                sizeof ss);
  if (rc < 0)
    return rc;
  rc = uv_udp_try_send(&pm->udp, &b, 1, (const struct sockaddr *)&ss);
  return rc < 0 ? rc : 0;
}

static void pcp_on_timer(uv_timer_t *t);

/* Send a PCP request for @p kind (ANNOUNCE for the probe, else MAP with
 * @p lifetime, 0 deleting) and arm its retransmission. @return 0 or a
 * send error (nothing armed). */
static int pcp_request(nat_portmap *pm, nat__pm_req kind, uint32_t lifetime) {
  nat_pcp_request rq;
  ssize_t n;
  int rc;
  memset(&rq, 0, sizeof rq);
  rq.opcode = kind == NAT__REQ_PROBE ? NAT_PCP_OP_ANNOUNCE : NAT_PCP_OP_MAP;
  rq.lifetime = lifetime;
  rq.client = pm->probe.local;
  memcpy(rq.nonce, pm->pcp_nonce, NAT_PCP_NONCE_LEN);
  rq.protocol = NAT_PCP_PROTO_UDP;
  rq.internal_port = pm->map.internal_port;
  /* suggest the same external port, no external address (11.1) */
  rq.suggested.family = pm->probe.local.family;
  rq.suggested.port = pm->map.active && pm->map.external.port != 0
                          ? pm->map.external.port
                          : pm->map.internal_port;
  n = nat_pcp_encode(&rq, pm->pcp_msg, sizeof pm->pcp_msg);
  if (n < 0)
    return (int)n;
  pm->pcp_len = (size_t)n;
  pm->pcp_sent.opcode = rq.opcode;
  memcpy(pm->pcp_sent.nonce, rq.nonce, NAT_PCP_NONCE_LEN);
  pm->pcp_sent.protocol = rq.protocol;
  pm->pcp_sent.internal_port = rq.internal_port;
  rc = pcp_send(pm);
  if (rc < 0)
    return rc;
  pm->req[NAT_PM_PCP] = kind;
  pm->pcp_tries = 1;
  pm->pcp_rto_ms = pm->hooks.pcp_first_rto_ms;
  pm->pcp_waited_ms = 0;
  pm->pcp_sent_at = nat__pm_now(pm);
  uv_timer_start(&pm->pcp_timer, pcp_on_timer, pm->pcp_rto_ms, 0);
  return 0;
}

static void pcp_on_timer(uv_timer_t *t) {
  nat_portmap *pm = t->data;
  nat__pm_req kind = pm->req[NAT_PM_PCP];
  pm->pcp_waited_ms += pm->pcp_rto_ms; /* the wait that just ended */
  if (kind == NAT__REQ_NONE || (pm->closing && kind != NAT__REQ_DELETE))
    return;
  if (pm->pcp_tries >= PCP_MAX_SENDS || pm->pcp_waited_ms >= PCP_REQ_WAIT_MS) {
    nat__pm_answer a;
    if (kind == NAT__REQ_PROBE)
      return; /* the probe's budget ends it */
    memset(&a, 0, sizeof a);
    a.is_map = true;
    a.status = NAT_ETIMEDOUT;
    nat__pm_on_answer(pm, NAT_PM_PCP, &a);
    return;
  }
  (void)pcp_send(pm); /* a failed resend is retried at the next */
  pm->pcp_tries++;
  pm->pcp_rto_ms *= 2;
  if (pm->pcp_rto_ms > PCP_MAX_RTO_MS)
    pm->pcp_rto_ms = PCP_MAX_RTO_MS > pm->hooks.pcp_first_rto_ms
                         ? PCP_MAX_RTO_MS
                         : pm->hooks.pcp_first_rto_ms;
  if (pm->pcp_rto_ms > PCP_REQ_WAIT_MS - pm->pcp_waited_ms)
    pm->pcp_rto_ms = PCP_REQ_WAIT_MS - pm->pcp_waited_ms;
  uv_timer_start(&pm->pcp_timer, pcp_on_timer, pm->pcp_rto_ms, 0);
}

void nat__pm_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  static char rbuf[2048]; /* the loop's thread only; read at once */
  (void)h;
  (void)suggested;
  *buf = uv_buf_init(rbuf, sizeof rbuf - 1); /* room for SSDP's NUL */
}

/* A PCP datagram: decoded, checked against what we sent, then handed on
 * as an answer; everything else counted and dropped. */
static void pcp_on_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf,
                        const struct sockaddr *sa, unsigned flags) {
  nat_portmap *pm = h->data;
  nat_pcp_response rs;
  nat__pm_answer a;
  nat_addr from;
  nat__pm_req kind = pm->req[NAT_PM_PCP];
  int chk;
  if (nread < 0 || sa == NULL || (nread == 0 && !sa))
    return;
  pm->stats.received++;
  if ((flags & UV_UDP_PARTIAL) ||
      nat_pcp_decode((const uint8_t *)buf->base, (size_t)nread, &rs) < 0) {
    pm->stats.malformed++;
    if (kind == NAT__REQ_PROBE)
      pm->probe_malformed[NAT_PM_PCP] = true;
    return;
  }
  if (nat_addr_from_sockaddr(&from, sa) < 0) {
    pm->stats.wrong_source++;
    return;
  }
  chk = nat__pcp_check(&pm->pcp_sent, &from, &rs);
  if (chk == NAT__PCP_WRONG_SOURCE) {
    pm->stats.wrong_source++;
    return;
  }
  if (chk == NAT__PCP_WRONG_NONCE) {
    pm->stats.wrong_nonce++;
    return;
  }
  /* a grant answering the MAP that a delete overtook is not the delete's
   * answer: that one carries lifetime 0 */
  if (chk != NAT__PCP_OK || kind == NAT__REQ_NONE ||
      (pm->closing && kind != NAT__REQ_DELETE) ||
      (kind == NAT__REQ_DELETE && rs.version == NAT_PCP_VERSION &&
       rs.result == NAT_PCP_SUCCESS && rs.lifetime != 0)) {
    pm->stats.unexpected++; /* another opcode or port, or a duplicate */
    return;
  }
  uv_timer_stop(&pm->pcp_timer);
  memset(&a, 0, sizeof a);
  a.is_map = kind != NAT__REQ_PROBE;
  a.result = rs.version == 0 ? NAT_PCP_UNSUPP_VERSION : rs.result;
  a.status = a.result == NAT_PCP_SUCCESS ? 0 : NAT_EPMREFUSED;
  a.lifetime = rs.lifetime;
  a.has_epoch = rs.version == NAT_PCP_VERSION;
  a.epoch = rs.epoch;
  if (rs.has_map && a.status == 0)
    a.external = rs.external;
  nat__pm_on_answer(pm, NAT_PM_PCP, &a);
}

/* ------------------------------------------------------------ answers */

static bool epoch_check(nat_portmap *pm, nat_pm_proto p, uint32_t epoch) {
  nat_tstamp now = nat__pm_now(pm);
  bool lost =
      pm->prev_epoch_set[p] &&
      nat_pm_epoch_lost(pm->prev_epoch[p], pm->prev_epoch_now[p], epoch, now);
  pm->prev_epoch_set[p] = true;
  pm->prev_epoch[p] = epoch;
  pm->prev_epoch_now[p] = now;
  if (lost)
    pm->stats.epoch_lost++;
  return lost;
}

/* Every protocol preferred to @p p has answered or failed the probe. */
static bool better_done(const nat_portmap *pm, nat_pm_proto p) {
  for (int i = 0; i < (int)p; i++)
    if (pm->probe.svc[i].asked && !pm->svc_done[i])
      return false;
  return true;
}

static void probe_answer(nat_portmap *pm, nat_pm_proto p,
                         const nat__pm_answer *a) {
  nat_pm_service *s = &pm->probe.svc[p];
  if (pm->probe.done || pm->svc_done[p])
    return; /* late (UPnP after the budget): ignored */
  s->answered = a->status == 0 || a->status == NAT_EPMREFUSED;
  s->status = a->status;
  s->result = a->result;
  s->external = a->external;
  s->has_epoch = a->has_epoch;
  s->epoch = a->epoch;
  s->rtt = nat__pm_now(pm) - pm->start;
  memcpy(s->detail, a->detail, sizeof s->detail);
  pm->svc_done[p] = true;
  /* a mapping asked for goes out as soon as the best protocol that may
   * still answer has answered: PCP's grant need not wait for UPnP's
   * discovery (about 60-100 ms on a LAN, against PCP's few ms) */
  if (s->status == 0 && pm->map_wanted && !pm->map_trying && !pm->closing &&
      pm->tried == 0 && better_done(pm, p))
    map_next(pm);
  for (int i = 0; i < NAT_PM_PROTOS; i++)
    if (pm->probe.svc[i].asked && !pm->svc_done[i])
      return;
  probe_finish(pm);
}

static void arm_life(nat_portmap *pm, int mode, uint64_t ms);

static void granted(nat_portmap *pm, nat_pm_proto p, const nat__pm_answer *a) {
  nat_portmap_event ev;
  uint64_t half, floor_s;
  if (pm->map.active)
    pm->map.refreshes++;
  pm->map.active = true;
  pm->map.proto = p;
  pm->map.external = a->external;
  if (a->external.family == NAT_AF_NONE)
    pm->map.external = pm->probe.svc[p].external;
  if (a->external.port != 0)
    pm->map.external.port = a->external.port;
  pm->map.lifetime = a->lifetime;
  pm->map.granted_at = nat__pm_now(pm);
  pm->tried = 0;
  memset(&ev, 0, sizeof ev);
  ev.type = NAT_PM_EV_MAPPED;
  ev.mapping = &pm->map;
  /* refresh: half, not sooner than min(10 s, 5/8), not sooner than 1 s */
  half = (uint64_t)a->lifetime * 1000 / 2;
  floor_s = (uint64_t)a->lifetime * 1000 * 5 / 8;
  if (floor_s > REFRESH_FLOOR_S * 1000)
    floor_s = REFRESH_FLOOR_S * 1000;
  if (half < floor_s)
    half = floor_s;
  if (half < 1000)
    half = 1000;
  arm_life(pm, LIFE_REFRESH, half * pm->hooks.ms_per_second / 1000);
  emit(pm, &ev);
}

static void lost(nat_portmap *pm, int status, unsigned result,
                 const char *reason) {
  nat_portmap_event ev;
  memset(&ev, 0, sizeof ev);
  pm->map.active = false;
  ev.type = NAT_PM_EV_LOST;
  ev.status = status;
  ev.result = result;
  ev.reason = reason;
  ev.mapping = &pm->map;
  emit(pm, &ev);
}

static void unmapped(nat_portmap *pm, int status) {
  nat_portmap_event ev;
  uv_timer_stop(&pm->life_timer);
  pm->deleting = false;
  pm->map.active = false;
  for (int i = 0; i < NAT_PM_PROTOS; i++)
    if (pm->req[i] == NAT__REQ_DELETE)
      pm->req[i] = NAT__REQ_NONE;
  if (pm->natpmp)
    nat__natpmp_stop(pm);
  uv_timer_stop(&pm->pcp_timer);
  memset(&ev, 0, sizeof ev);
  ev.type = NAT_PM_EV_UNMAPPED;
  ev.status = status;
  ev.mapping = &pm->map;
  if (!pm->close_done)
    emit(pm, &ev);
  if (pm->closing)
    pm_really_close(pm);
}

static void map_answer(nat_portmap *pm, nat_pm_proto p, const nat__pm_answer *a,
                       bool restarted) {
  nat__pm_req kind = pm->req[p];
  pm->req[p] = NAT__REQ_NONE;
  if (kind == NAT__REQ_DELETE) {
    unmapped(pm, a->status);
    return;
  }
  if (kind != NAT__REQ_MAP || !pm->map_wanted) {
    pm->stats.unexpected++;
    return;
  }
  pm->map_trying = false;
  if (a->status == 0 && restarted && pm->map.active) {
    pm->map.restarts++;
    lost(pm, 0, 0, "the gateway restarted (its epoch went back)");
    if (pm->closing || !pm->map_wanted)
      return;
    pm->tried = 0;
    map_next(pm);
    return;
  }
  if (a->status == 0 && a->lifetime > 0) {
    granted(pm, p, a);
    return;
  }
  snprintf(pm->reason, sizeof pm->reason, "%s: %s", nat_pm_proto_name(p),
           a->status == 0                ? "a grant of lifetime 0"
           : a->status == NAT_ETIMEDOUT  ? "no answer"
           : a->status != NAT_EPMREFUSED ? nat_strerror(a->status)
           : p == NAT_PM_PCP             ? nat_pcp_result_name(a->result)
           : a->detail[0]                ? a->detail
                                         : "refused");
  pm->last_status = a->status == 0 ? NAT_EPMREFUSED : a->status;
  pm->last_result = a->result;
  if (pm->map.active) {
    lost(pm, pm->last_status, a->result, pm->reason);
    if (pm->closing || !pm->map_wanted)
      return;
  }
  map_next(pm);
}

void nat__pm_on_answer(nat_portmap *pm, nat_pm_proto p,
                       const nat__pm_answer *a) {
  bool restarted = a->has_epoch && epoch_check(pm, p, a->epoch);
  if (!a->is_map)
    probe_answer(pm, p, a);
  else
    map_answer(pm, p, a, restarted);
}

/* ------------------------------------------------------------ mapping */

/* Ask @p p for the mapping (lifetime asked) or delete it (@p del).
 * @return 0 or the error that kept the request from leaving. */
static int ask(nat_portmap *pm, nat_pm_proto p, bool del) {
  uint32_t life = del ? 0 : pm->map.lifetime_asked;
  uint16_t ext =
      pm->map.external.port ? pm->map.external.port : pm->map.internal_port;
  int rc;
  switch (p) {
  case NAT_PM_PCP:
    return pcp_request(pm, del ? NAT__REQ_DELETE : NAT__REQ_MAP, life);
  case NAT_PM_NATPMP:
    rc = nat__natpmp_map(pm, pm->map.internal_port, ext, life);
    break;
  case NAT_PM_UPNP:
  default:
    rc = nat__upnp_map(pm, pm->map.internal_port, ext, life);
    break;
  }
  if (rc == 0)
    pm->req[p] = del ? NAT__REQ_DELETE : NAT__REQ_MAP;
  return rc;
}

/* Ask the best protocol that answered and was not tried for this grant;
 * none left: FAILED. */
static void map_next(nat_portmap *pm) {
  nat_portmap_event ev;
  for (int i = 0; i < NAT_PM_PROTOS; i++) {
    nat_pm_service *s = &pm->probe.svc[i];
    unsigned bit = NAT_PM_BIT(i);
    if (!s->answered || s->status != 0 || (pm->tried & bit))
      continue;
    pm->tried |= bit;
    pm->cur_proto = (nat_pm_proto)i;
    if (ask(pm, (nat_pm_proto)i, false) == 0) {
      pm->map_trying = true;
      return;
    }
  }
  if (!pm->probe.done) { /* one still probing may answer: probe_finish */
    pm->map_trying = false;
    return;
  }
  pm->map_wanted = false;
  pm->map_trying = false;
  memset(&ev, 0, sizeof ev);
  ev.type = NAT_PM_EV_FAILED;
  ev.status = pm->last_status ? pm->last_status : NAT_ENOGATEWAY;
  ev.result = pm->last_result;
  ev.reason = pm->reason[0] ? pm->reason : "no protocol answered the probe";
  emit(pm, &ev);
}

static void life_on_timer(uv_timer_t *t) {
  nat_portmap *pm = t->data;
  int mode = pm->life_mode;
  pm->life_mode = LIFE_IDLE;
  switch (mode) {
  case LIFE_START:
    if (pm->map_wanted && !pm->map_trying && !pm->closing)
      map_next(pm);
    break;
  case LIFE_REFRESH:
    if (pm->map.active && pm->map_wanted && !pm->closing) {
      pm->tried = NAT_PM_BIT(pm->map.proto);
      pm->map_trying = true;
      int rc = ask(pm, pm->map.proto, false);
      if (rc < 0) { /* not even sent: the refresh failed (LOST) */
        pm->req[pm->map.proto] = NAT__REQ_MAP;
        map_answer(pm, pm->map.proto,
                   &(nat__pm_answer){.is_map = true, .status = rc}, false);
      }
    }
    break;
  case LIFE_DELETE_WAIT:
    unmapped(pm, NAT_ETIMEDOUT);
    break;
  case LIFE_UNMAPPED:
    unmapped(pm, 0);
    break;
  default:
    break;
  }
}

static void arm_life(nat_portmap *pm, int mode, uint64_t ms) {
  pm->life_mode = mode;
  uv_timer_start(&pm->life_timer, life_on_timer, ms, 0);
}

int nat_portmap_map(nat_portmap *pm, uint16_t internal_port,
                    uint32_t lifetime) {
  if (!pm || internal_port == 0)
    return NAT_EINVAL;
  if (pm->closing)
    return NAT_ECLOSING;
  if (pm->map_wanted || pm->map.active || pm->deleting)
    return NAT_EALREADY;
  if (pm->probe.done) {
    bool any = false;
    for (int i = 0; i < NAT_PM_PROTOS; i++)
      any = any || (pm->probe.svc[i].answered && pm->probe.svc[i].status == 0);
    if (!any)
      return NAT_ENOGATEWAY;
  }
  memset(&pm->map, 0, sizeof pm->map);
  pm->map.internal_port = internal_port;
  pm->map.lifetime_asked = lifetime ? lifetime : NAT_PORTMAP_DEFAULT_LEASE;
  pm->map_wanted = true;
  pm->tried = 0;
  pm->reason[0] = '\0';
  pm->last_status = 0;
  pm->last_result = 0;
  nat_rand_system(NULL, pm->pcp_nonce, sizeof pm->pcp_nonce);
  memcpy(pm->map.nonce, pm->pcp_nonce, NAT_PCP_NONCE_LEN);
  if (pm->probe.done)
    arm_life(pm, LIFE_START, 0); /* the callback rule: never inside */
  return 0;
}

/* Delete what is held or asked (by the protocol holding or asked). */
static void start_delete(nat_portmap *pm) {
  nat_pm_proto p = pm->map.active ? pm->map.proto : pm->cur_proto;
  bool asked = pm->map.active || pm->map_trying;
  pm->map_wanted = false;
  pm->map_trying = false;
  pm->deleting = true;
  for (int i = 0; i < NAT_PM_PROTOS; i++)
    if (pm->req[i] == NAT__REQ_MAP)
      pm->req[i] = NAT__REQ_NONE;
  if (!asked || ask(pm, p, true) < 0) {
    arm_life(pm, LIFE_UNMAPPED, 0);
    return;
  }
  arm_life(pm, LIFE_DELETE_WAIT, NAT_PORTMAP_DELETE_WAIT / NAT_MILLISECONDS);
}

int nat_portmap_unmap(nat_portmap *pm) {
  if (!pm)
    return NAT_EINVAL;
  if (pm->deleting || (!pm->map_wanted && !pm->map.active))
    return NAT_ENOTFOUND;
  start_delete(pm);
  return 0;
}

void nat_portmap_get(const nat_portmap *pm, nat_portmap_probe *probe,
                     nat_portmap_mapping *mapping, nat_portmap_stats *stats) {
  if (!pm)
    return;
  if (probe)
    *probe = pm->probe;
  if (mapping)
    *mapping = pm->map;
  if (stats)
    *stats = pm->stats;
}

/* ------------------------------------------------------------- probe */

static void probe_finish(nat_portmap *pm) {
  nat_portmap_event ev;
  bool wanted = pm->map_wanted; /* asked before: started here, not by a
                                   LIFE_START that a map() inside the
                                   callback arms */
  if (pm->probe.done)
    return;
  uv_timer_stop(&pm->probe_timer);
  /* a mapping request already under way (map_next from probe_answer)
   * keeps its retransmissions */
  if (pm->req[NAT_PM_PCP] == NAT__REQ_PROBE)
    uv_timer_stop(&pm->pcp_timer);
  if (pm->natpmp && pm->req[NAT_PM_NATPMP] == NAT__REQ_PROBE)
    nat__natpmp_stop(pm);
  for (int i = 0; i < NAT_PM_PROTOS; i++) {
    nat_pm_service *s = &pm->probe.svc[i];
    if (s->asked && !pm->svc_done[i]) {
      s->status = pm->probe_malformed[i] ? NAT_EPMPARSE : NAT_ETIMEDOUT;
      pm->svc_done[i] = true;
    }
    if (pm->req[i] == NAT__REQ_PROBE)
      pm->req[i] = NAT__REQ_NONE;
  }
  nat__upnp_stop(pm);
  pm->probe.done = true;
  pm->probe.duration = nat__pm_now(pm) - pm->start;
  memset(&ev, 0, sizeof ev);
  ev.type = NAT_PM_EV_PROBED;
  ev.probe = &pm->probe;
  ev.status = 0;
  emit(pm, &ev);
  if (pm->closing || !wanted || !pm->map_wanted || pm->map_trying)
    return;
  map_next(pm);
}

static void probe_on_timer(uv_timer_t *t) {
  nat_portmap *pm = t->data;
  nat_tstamp budget = pm->cfg.timeout;
  /* UPnP found an IGD and its SOAP request runs: it gets
   * NAT_PORTMAP_UPNP_SOAP_MS more, once. */
  if (!pm->probe_extended && pm->probe.svc[NAT_PM_UPNP].asked &&
      !pm->svc_done[NAT_PM_UPNP] && nat__upnp_discovered(pm)) {
    pm->probe_extended = true;
    uv_timer_start(&pm->probe_timer, probe_on_timer, NAT_PORTMAP_UPNP_SOAP_MS,
                   0);
    return;
  }
  (void)budget;
  probe_finish(pm);
}

/* The gateway and our address towards it. @return 0 or NAT_EINVAL. */
static int pm_find_gateway(nat_portmap *pm) {
  const nat_portmap_config *c = &pm->cfg;
  nat_addr gw = c->gateway;
  int rc;
  if (gw.family == NAT_AF_NONE) {
    if (nat__gateway_default(NULL, &gw) < 0)
      return 0; /* none: the probe ends at once with gateway NONE */
    pm->probe.gateway_private = nat__gateway_is_private(&gw);
    if (!pm->probe.gateway_private) {
      pm->probe.gateway = gw;
      pm->probe.refused = true;
      return 0;
    }
  } else if (gw.family != NAT_AF_INET && gw.family != NAT_AF_INET6) {
    return NAT_EINVAL;
  }
  pm->probe.gateway_private = nat__gateway_is_private(&gw);
  pm->probe.gateway = gw;
  pm->probe.gateway.port = gw.port ? gw.port : NAT_PCP_SERVER_PORT;
  if (c->local.family != NAT_AF_NONE) {
    if (c->local.family != gw.family)
      return NAT_EINVAL;
    pm->probe.local = c->local;
    pm->probe.local.port = 0;
    return 0;
  }
  rc = nat__gateway_local(&pm->probe.gateway, &pm->probe.local);
  if (rc < 0)
    pm->local_error = rc;
  return 0;
}

int nat__pm_udp_open(nat_portmap *pm, uv_udp_t *u, void *data,
                     uv_udp_recv_cb cb) {
  struct sockaddr_storage ss;
  int rc = uv_udp_init(pm->loop, u);
  if (rc < 0)
    return rc;
  u->data = data;
  pm->open_handles++;
  rc =
      nat_addr_to_sockaddr(&pm->probe.local, (struct sockaddr *)&ss, sizeof ss);
  if (rc < 0)
    return rc;
  rc = uv_udp_bind(u, (const struct sockaddr *)&ss, 0);
  if (rc == 0)
    rc = uv_udp_recv_start(u, nat__pm_alloc, cb);
  return rc;
}

/* Start each asked protocol; a failure to send is that service's status. */
static int pm_start_probe(nat_portmap *pm) {
  unsigned protos = pm->cfg.protos;
  bool have = pm->probe.gateway.family != NAT_AF_NONE && !pm->probe.refused;
  int rc;
  for (int i = 0; i < NAT_PM_PROTOS; i++)
    pm->probe.svc[i].asked = have && (protos & NAT_PM_BIT(i));
  if (pm->probe.svc[NAT_PM_NATPMP].asked &&
      pm->probe.gateway.family != NAT_AF_INET)
    pm->probe.svc[NAT_PM_NATPMP].asked = false; /* NAT-PMP is IPv4 only */
  for (int i = 0; i < NAT_PM_PROTOS; i++)
    if (pm->probe.svc[i].asked && pm->local_error) {
      pm->probe.svc[i].status = pm->local_error;
      pm->svc_done[i] = true;
    }
  if (pm->local_error)
    return 0;
  if (pm->probe.svc[NAT_PM_PCP].asked) {
    pm->pcp_sent.server = pm->probe.gateway;
    pm->udp_open = true;
    rc = nat__pm_udp_open(pm, &pm->udp, pm, pcp_on_recv);
    if (rc < 0)
      return rc;
    rc = pcp_request(pm, NAT__REQ_PROBE, 0);
    if (rc < 0) {
      pm->probe.svc[NAT_PM_PCP].status = rc;
      pm->svc_done[NAT_PM_PCP] = true;
    }
  }
  if (pm->probe.svc[NAT_PM_NATPMP].asked) {
    rc = nat__natpmp_start(pm);
    if (rc < 0) {
      pm->probe.svc[NAT_PM_NATPMP].status = rc;
      pm->svc_done[NAT_PM_NATPMP] = true;
    } else {
      pm->req[NAT_PM_NATPMP] = NAT__REQ_PROBE;
    }
  }
  if (pm->probe.svc[NAT_PM_UPNP].asked) {
    rc = nat__upnp_probe(pm);
    if (rc < 0) {
      pm->probe.svc[NAT_PM_UPNP].status = rc;
      pm->svc_done[NAT_PM_UPNP] = true;
    } else {
      pm->req[NAT_PM_UPNP] = NAT__REQ_PROBE;
    }
  }
  return 0;
}

static int pm_init_timer(nat_portmap *pm, uv_timer_t *t) {
  int rc = uv_timer_init(pm->loop, t);
  if (rc < 0)
    return rc;
  t->data = pm;
  pm->open_handles++;
  return 0;
}

int nat__portmap_new_hooked(nat_portmap **out, uv_loop_t *loop,
                            const nat_portmap_config *cfg,
                            const nat__portmap_hooks *hooks) {
  nat_portmap *pm;
  bool all_done = true;
  int rc;
  if (!out || !loop || !cfg || !cfg->cb || (cfg->protos & ~NAT_PM_ALL) ||
      (cfg->local.family != NAT_AF_NONE && cfg->local.family != NAT_AF_INET &&
       cfg->local.family != NAT_AF_INET6))
    return NAT_EINVAL;
  pm = calloc(1, sizeof *pm);
  if (!pm)
    return NAT_ENOMEM;
  pm->loop = loop;
  pm->cfg = *cfg;
  if (pm->cfg.protos == 0)
    pm->cfg.protos = NAT_PM_ALL;
  if (pm->cfg.timeout == 0)
    pm->cfg.timeout = NAT_PORTMAP_DEFAULT_TIMEOUT;
  if (hooks)
    pm->hooks = *hooks;
  if (pm->hooks.ms_per_second == 0)
    pm->hooks.ms_per_second = 1000;
  if (pm->hooks.pcp_first_rto_ms == 0)
    pm->hooks.pcp_first_rto_ms = PCP_FIRST_RTO_MS;
  pm->start = nat__pm_now(pm);
  rc = pm_find_gateway(pm);
  if (rc < 0) {
    free(pm);
    return rc;
  }
  if ((rc = pm_init_timer(pm, &pm->probe_timer)) < 0 ||
      (rc = pm_init_timer(pm, &pm->life_timer)) < 0 ||
      (rc = pm_init_timer(pm, &pm->pcp_timer)) < 0 ||
      (rc = pm_start_probe(pm)) < 0) {
    pm->closing = true;
    pm->close_done = true; /* no CLOSED: the callback rule */
    pm_really_close(pm);
    return rc;
  }
  for (int i = 0; i < NAT_PM_PROTOS; i++)
    if (pm->probe.svc[i].asked && !pm->svc_done[i])
      all_done = false;
  uv_timer_start(&pm->probe_timer, probe_on_timer,
                 all_done ? 0 : pm->cfg.timeout / NAT_MILLISECONDS, 0);
  *out = pm;
  return 0;
}

int nat_portmap_new(nat_portmap **out, uv_loop_t *loop,
                    const nat_portmap_config *cfg) {
  return nat__portmap_new_hooked(out, loop, cfg, NULL);
}

/* ------------------------------------------------------------- close */

void nat__pm_release(nat_portmap *pm) {
  nat_portmap_event ev;
  if (!pm->closed_handles || pm->open_handles > 0 || pm->jobs > 0)
    return;
  if (!pm->close_done) {
    pm->close_done = true;
    memset(&ev, 0, sizeof ev);
    ev.type = NAT_PM_EV_CLOSED;
    emit(pm, &ev);
  }
  nat__upnp_free(pm);
  free(pm->natpmp);
  free(pm);
}

void nat__pm_on_handle_closed(uv_handle_t *h) {
  nat_portmap *pm = h->data;
  pm->open_handles--;
  nat__pm_release(pm);
}

static void close_handle(nat_portmap *pm, uv_handle_t *h) {
  if (h->loop && !uv_is_closing(h))
    uv_close(h, nat__pm_on_handle_closed);
  (void)pm;
}

/* Stop everything; the last close callback (or job) frees. */
static void pm_really_close(nat_portmap *pm) {
  int handles;
  if (pm->closed_handles)
    return;
  pm->closed_handles = true;
  handles = pm->open_handles;
  if (pm->natpmp)
    nat__natpmp_close(pm);
  nat__upnp_close(pm);
  if (pm->udp_open)
    close_handle(pm, (uv_handle_t *)&pm->udp);
  close_handle(pm, (uv_handle_t *)&pm->probe_timer);
  close_handle(pm, (uv_handle_t *)&pm->life_timer);
  close_handle(pm, (uv_handle_t *)&pm->pcp_timer);
  if (handles == 0)
    nat__pm_release(pm);
}

void nat_portmap_close(nat_portmap *pm) {
  if (!pm || pm->closing)
    return;
  pm->closing = true;
  uv_timer_stop(&pm->probe_timer);
  if (pm->deleting)
    return; /* the delete under way ends in pm_really_close */
  if (pm->map.active || pm->map_trying) {
    start_delete(pm);
    return;
  }
  pm_really_close(pm);
}
