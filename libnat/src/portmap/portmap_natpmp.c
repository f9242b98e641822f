/* NAT-PMP (RFC 6886) through libnatpmp, on the loop: its non-blocking
 * socket (natpmp_t.s, connected to GATEWAY:5351) is watched with uv_poll
 * and its retry schedule (250 ms doubling) driven by a uv_timer from
 * getnatpmprequesttimeout(); readnatpmpresponseorretry() reads or resends
 * (NATPMP_TRYAGAIN: not yet). A request unanswered for NATPMP_REQ_WAIT_MS
 * (mapping, delete) counts as timed out; the probe is ended by its own
 * budget. Answers go to nat__pm_on_answer(). */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include <natpmp.h>

#include "nat/error.h"
#include "portmap/portmap_internal.h"

#define NATPMP_REQ_WAIT_MS 2000

struct nat__natpmp {
  natpmp_t n;
  bool open;               /* initnatpmp() succeeded, not closed */
  bool waiting;            /* a request in flight */
  bool is_map;             /* it is a mapping request (or delete) */
  uint16_t port, ext_port; /* the mapping request, to send it again */
  uint32_t lifetime;
  nat_tstamp deadline;
  uv_poll_t poll;
  uv_timer_t timer;
};

/* RFC 6886 3.5 result codes from libnatpmp's negative codes. */
static unsigned result_of(int rc) {
  switch (rc) {
  case NATPMP_ERR_UNSUPPORTEDVERSION:
    return 1;
  case NATPMP_ERR_NOTAUTHORIZED:
    return 2;
  case NATPMP_ERR_NETWORKFAILURE:
    return 3;
  case NATPMP_ERR_OUTOFRESOURCES:
    return 4;
  case NATPMP_ERR_UNSUPPORTEDOPCODE:
    return 5;
  default:
    return 0;
  }
}

static const char *result_name(unsigned r) {
  static const char *const names[] = {"SUCCESS",          "UNSUPPORTED_VERSION",
                                      "NOT_AUTHORIZED",   "NETWORK_FAILURE",
                                      "OUT_OF_RESOURCES", "UNSUPPORTED_OPCODE"};
  return r < 6 ? names[r] : "unknown";
}

static void arm(nat_portmap *pm);

static void finish(nat_portmap *pm, nat__pm_answer *a) {
  nat__natpmp *x = pm->natpmp;
  x->waiting = false;
  uv_timer_stop(&x->timer);
  uv_poll_stop(&x->poll);
  a->is_map = x->is_map;
  nat__pm_on_answer(pm, NAT_PM_NATPMP, a);
}

/* Send the request in flight (again). @return 0 or a negative errno. */
static int send_req(nat__natpmp *x) {
  int rc = x->is_map
               ? sendnewportmappingrequest(&x->n, NATPMP_PROTOCOL_UDP, x->port,
                                           x->lifetime ? x->ext_port : 0,
                                           x->lifetime)
               : sendpublicaddressrequest(&x->n);
  return rc < 0 ? (errno ? -errno : NAT_EINVAL) : 0;
}

/* A datagram that answers another request (a late one): libnatpmp took it
 * as the answer and stopped retrying, so ours goes out again. */
static void unexpected(nat_portmap *pm) {
  pm->stats.unexpected++;
  (void)send_req(pm->natpmp);
  arm(pm);
}

/* A valid answer: the address, or our mapping's grant. */
static void answer(nat_portmap *pm, const natpmpresp_t *r) {
  nat__natpmp *x = pm->natpmp;
  nat__pm_answer a;
  memset(&a, 0, sizeof a);
  a.has_epoch = true;
  a.epoch = r->epoch;
  if (r->type == NATPMP_RESPTYPE_PUBLICADDRESS && !x->is_map) {
    a.external.family = NAT_AF_INET;
    memcpy(a.external.ip, &r->pnu.publicaddress.addr, 4);
  } else if (r->type == NATPMP_RESPTYPE_UDPPORTMAPPING && x->is_map &&
             r->pnu.newportmapping.privateport == x->port) {
    a.external = pm->probe.svc[NAT_PM_NATPMP].external;
    a.external.port = r->pnu.newportmapping.mappedpublicport;
    a.lifetime = r->pnu.newportmapping.lifetime;
  } else {
    unexpected(pm);
    return;
  }
  finish(pm, &a);
}

/* Read (or resend) once; hand on an answer or a final failure. */
static void step(nat_portmap *pm) {
  nat__natpmp *x = pm->natpmp;
  natpmpresp_t r;
  nat__pm_answer a;
  int rc, err;
  if (!x->waiting)
    return;
  memset(&r, 0, sizeof r);
  errno = 0;
  rc = readnatpmpresponseorretry(&x->n, &r);
  err = errno;
  memset(&a, 0, sizeof a);
  if (rc == 0) {
    pm->stats.received++;
    answer(pm, &r);
    return;
  }
  if (x->is_map && nat__pm_now(pm) >= x->deadline) {
    a.status = NAT_ETIMEDOUT;
    finish(pm, &a);
    return;
  }
  if (rc == NATPMP_TRYAGAIN || rc == NATPMP_ERR_WRONGPACKETSOURCE ||
      (rc == NATPMP_ERR_RECVFROM && err != ECONNREFUSED)) {
    pm->stats.wrong_source += rc == NATPMP_ERR_WRONGPACKETSOURCE;
    arm(pm);
    return;
  }
  if (rc == NATPMP_ERR_NOPENDINGREQ) {
    unexpected(pm);
    return;
  }
  a.result = result_of(rc);
  if (a.result) {
    pm->stats.received++;
    a.status = NAT_EPMREFUSED;
    snprintf(a.detail, sizeof a.detail, "%s", result_name(a.result));
  } else if (err == ECONNREFUSED &&
             (rc == NATPMP_ERR_RECVFROM || rc == NATPMP_ERR_NOGATEWAYSUPPORT)) {
    /* ICMP port unreachable: no NAT-PMP there (libnatpmp 20150609 says
     * NOGATEWAYSUPPORT for it, errno still ECONNREFUSED) */
    a.status = -ECONNREFUSED;
  } else if (rc == NATPMP_ERR_NOGATEWAYSUPPORT) {
    a.status = NAT_ETIMEDOUT; /* libnatpmp's 9 tries went unanswered */
  } else {
    pm->stats.received++;
    pm->stats.malformed++;
    if (!x->is_map)
      pm->probe_malformed[NAT_PM_NATPMP] = true;
    arm(pm);
    return;
  }
  finish(pm, &a);
}

static void on_timer(uv_timer_t *t) {
  step(t->data);
}

static void on_poll(uv_poll_t *p, int status, int events) {
  nat_portmap *pm = p->data;
  (void)events;
  /* libuv stops a poll handle on POLLERR (status < 0): read at once, the
   * socket error (ECONNREFUSED) is the answer */
  (void)status;
  step(pm);
}

/* Arm the retry timer from libnatpmp's schedule (and our deadline). */
static void arm(nat_portmap *pm) {
  nat__natpmp *x = pm->natpmp;
  struct timeval tv;
  uint64_t ms = 250;
  if (getnatpmprequesttimeout(&x->n, &tv) == 0 && tv.tv_sec >= 0 &&
      tv.tv_usec >= 0)
    ms = (uint64_t)tv.tv_sec * 1000 + ((uint64_t)tv.tv_usec + 999) / 1000;
  if (x->is_map) {
    nat_tstamp now = nat__pm_now(pm);
    uint64_t left =
        x->deadline > now ? (x->deadline - now) / NAT_MILLISECONDS + 1 : 0;
    if (ms > left)
      ms = left;
  }
  uv_timer_start(&x->timer, on_timer, ms, 0);
  uv_poll_start(&x->poll, UV_READABLE, on_poll);
}

int nat__natpmp_start(nat_portmap *pm) {
  nat__natpmp *x;
  in_addr_t gw;
  int rc;
  if (pm->probe.gateway.family != NAT_AF_INET)
    return NAT_EINVAL;
  x = calloc(1, sizeof *x);
  if (!x)
    return NAT_ENOMEM;
  pm->natpmp = x;
  memcpy(&gw, pm->probe.gateway.ip, 4);
  if (initnatpmp(&x->n, 1, gw) < 0)
    return errno ? -errno : NAT_EINVAL;
  x->open = true;
  rc = uv_timer_init(pm->loop, &x->timer);
  if (rc < 0)
    return rc;
  x->timer.data = pm;
  pm->open_handles++;
  rc = uv_poll_init(pm->loop, &x->poll, x->n.s);
  if (rc < 0)
    return rc;
  x->poll.data = pm;
  pm->open_handles++;
  x->is_map = false;
  if ((rc = send_req(x)) < 0)
    return rc;
  x->waiting = true;
  arm(pm);
  return 0;
}

int nat__natpmp_map(nat_portmap *pm, uint16_t port, uint16_t ext_port,
                    uint32_t lifetime) {
  nat__natpmp *x = pm->natpmp;
  int rc;
  if (!x || !x->open)
    return NAT_EINVAL;
  x->is_map = true;
  x->port = port;
  x->ext_port = ext_port;
  x->lifetime = lifetime;
  if ((rc = send_req(x)) < 0)
    return rc;
  x->waiting = true;
  x->deadline = nat__pm_now(pm) + NATPMP_REQ_WAIT_MS * NAT_MILLISECONDS;
  arm(pm);
  return 0;
}

void nat__natpmp_stop(nat_portmap *pm) {
  nat__natpmp *x = pm->natpmp;
  if (!x || !x->waiting)
    return;
  x->waiting = false;
  uv_timer_stop(&x->timer);
  uv_poll_stop(&x->poll);
}

void nat__natpmp_close(nat_portmap *pm) {
  nat__natpmp *x = pm->natpmp;
  if (!x)
    return;
  x->waiting = false;
  if (x->timer.loop && !uv_is_closing((uv_handle_t *)&x->timer))
    uv_close((uv_handle_t *)&x->timer, nat__pm_on_handle_closed);
  if (x->poll.loop && !uv_is_closing((uv_handle_t *)&x->poll))
    uv_close((uv_handle_t *)&x->poll, nat__pm_on_handle_closed);
  if (x->open) /* the poll handle no longer watches the socket */
    closenatpmp(&x->n);
  x->open = false;
}

int nat__natpmp_delete_now(const nat_addr *gw, uint16_t port, nat_tstamp wait) {
  natpmp_t n;
  natpmpresp_t r;
  in_addr_t g;
  struct timespec ts;
  nat_tstamp end;
  int rc;
  if (gw->family != NAT_AF_INET)
    return NAT_EINVAL;
  memcpy(&g, gw->ip, 4);
  if (initnatpmp(&n, 1, g) < 0)
    return NAT_EINVAL;
  if (sendnewportmappingrequest(&n, NATPMP_PROTOCOL_UDP, port, 0, 0) < 0) {
    closenatpmp(&n);
    return NAT_EINVAL;
  }
  clock_gettime(CLOCK_MONOTONIC, &ts);
  end = (nat_tstamp)ts.tv_sec * NAT_SECONDS + (nat_tstamp)ts.tv_nsec + wait;
  for (;;) {
    struct pollfd pfd = {.fd = n.s, .events = POLLIN};
    struct timeval tv;
    nat_tstamp now;
    int ms = 250;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    now = (nat_tstamp)ts.tv_sec * NAT_SECONDS + (nat_tstamp)ts.tv_nsec;
    if (now >= end) {
      rc = NAT_ETIMEDOUT;
      break;
    }
    if (getnatpmprequesttimeout(&n, &tv) == 0)
      ms = (int)(tv.tv_sec * 1000 + tv.tv_usec / 1000) + 1;
    if ((nat_tstamp)ms * NAT_MILLISECONDS > end - now)
      ms = (int)((end - now) / NAT_MILLISECONDS) + 1;
    (void)poll(&pfd, 1, ms);
    rc = readnatpmpresponseorretry(&n, &r);
    if (rc == NATPMP_TRYAGAIN || rc == NATPMP_ERR_WRONGPACKETSOURCE)
      continue;
    rc = rc == 0 ? 0 : result_of(rc) ? NAT_EPMREFUSED : NAT_ETIMEDOUT;
    break;
  }
  closenatpmp(&n);
  return rc;
}
