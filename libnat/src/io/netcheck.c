/* netcheck's driver (nat/netcheck.h): resolve every server, then drive the
 * probe plan (nat/probe.h) on the caller's loop: it asks for sockets and
 * datagrams, this file opens the sockets (bound to the route's source
 * address), sends, feeds what arrives and runs its timers, all under one
 * overall deadline; then the verdict. Nothing here sleeps. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "nat/error.h"
#include "nat/resolve.h"
#include "nat/udp.h"
#include "netcheck_internal.h"

static int fam_index(uint8_t family) {
  return family == NAT_AF_INET6 ? 1 : 0;
}

/* Record a request that could not be made (basic test). */
static void record_failure(nat_netcheck *nc, uint16_t idx, int status) {
  nat_obs o;
  int rv;
  memset(&o, 0, sizeof o);
  o.server_idx = idx;
  o.status = status;
  o.sent_at = nat_udp_now() - nc->start;
  rv = nat_obslog_append(&nc->failures, &o);
  if (rv < 0 && nc->fatal == 0)
    nc->fatal = rv;
}

static void free_copies(nat_netcheck *nc) {
  size_t i;
  for (i = 0; i < NAT_NETCHECK_MAX_SERVERS; i++)
    free((char *)nc->servers[i].name);
  free(nc->software);
  free(nc);
}

/* The handle goes when the tick timer (closed last, by close) is closed
 * and no lookup can call back any more. */
static void maybe_free(nat_netcheck *nc) {
  if (!nc->tick_closed || nc->nresolving > 0 || nc->pm != NULL)
    return;
  if (nc->close_cb != NULL)
    nc->close_cb(nc, nc->close_arg);
  nat_obslog_free(&nc->res.log);
  nat_verdict_free(&nc->res.verdict);
  free_copies(nc);
}

static void on_tick_closed(uv_handle_t *h) {
  nat_netcheck *nc = h->data;
  nc->tick_closed = true;
  maybe_free(nc);
}

static void close_tick(nat_netcheck *nc) {
  if (nc->tick_closing)
    return;
  nc->tick_closing = true;
  uv_close((uv_handle_t *)&nc->tick, on_tick_closed);
}

static void maybe_done(nat_netcheck *nc);

static void on_pm_deadline(uv_timer_t *t) {
  nat_netcheck *nc = t->data;
  nat__nc_pm_stop(nc, NAT_ETIMEDOUT, "the run's deadline passed");
  if (nc->pm == NULL)
    maybe_done(nc);
}

/* The port-mapping handle is still open: close it now when the run is
 * cancelled or its deadline has passed, else wait for it until then.
 * @return true while it is open. */
static bool wait_pm(nat_netcheck *nc) {
  nat_tstamp now = nat_udp_now();
  nat_tstamp end =
      nc->plan_end != 0 ? nc->plan_end : nc->start + nc->cfg.timeout;
  if (nc->cancelled || now >= end)
    nat__nc_pm_stop(nc, nc->cancelled ? NAT_ECANCELED : NAT_ETIMEDOUT,
                    nc->cancelled ? "cancelled" : "the run's deadline passed");
  else if (!nc->pm_waiting) {
    nc->pm_waiting = true;
    uv_timer_start(&nc->tick, on_pm_deadline,
                   (end - now + NAT_MILLISECONDS - 1) / NAT_MILLISECONDS, 0);
  }
  return nc->pm != NULL;
}

void nat__nc_pm_closed(nat_netcheck *nc) {
  maybe_done(nc);
  maybe_free(nc);
}

/* Every socket and the deadline timer are closed, and the port-mapping
 * handle: the verdict, then done. */
static void maybe_done(nat_netcheck *nc) {
  nat_gateway_addr gw[NAT_PM_PROTOS];
  size_t ngw = nat__nc_pm_gateways(nc, gw);
  int status = nc->fatal;
  if (!nc->socks_closed || nc->done_called || (nc->pm != NULL && wait_pm(nc)))
    return;
  uv_timer_stop(&nc->tick);
  nc->res.duration = nat_udp_now() - nc->start;
  if (status == 0)
    status = nat_verdict_compute(&nc->res.verdict, &nc->res.log);
  if (status == 0)
    status = nat_verdict_double_nat(
        &nc->res.verdict, &nc->res.log,
        nc->res.hops.target.family != NAT_AF_NONE ? &nc->res.hops : NULL,
        nc->res.portmap.probed ? gw : NULL, ngw);
  if (status == 0 && nc->cancelled)
    status = NAT_ECANCELED;
  nc->done_called = true;
  nc->cfg.done(nc, nc->cfg.arg, &nc->res, status);
  if (nc->close_called)
    close_tick(nc);
}

static void all_closed(nat_netcheck *nc) {
  nc->socks_closed = true;
  nat__nc_pm_plan_over(nc);
  maybe_done(nc);
}

static void on_closed(uv_handle_t *h) {
  nat_netcheck *nc = h->data;
  if (--nc->closing == 0)
    all_closed(nc);
}

static void on_sock_closed(uv_handle_t *h) {
  nc_sock *k = h->data;
  if (--k->nc->closing == 0)
    all_closed(k->nc);
}

static void collect(nat_netcheck *nc) {
  const nat_obslog *log = nat_probe_log(nc->probe);
  size_t i;
  uint8_t t;
  for (i = 0; log != NULL && i < log->n; i++)
    if (nat_obslog_append(&nc->res.log, &log->v[i]) < 0)
      nc->fatal = NAT_ENOMEM;
  nat_probe_stats_get(nc->probe, &nc->res.stats);
  for (t = 0; t < 6; t++)
    nat_probe_test_info_get(nc->probe, t, &nc->res.tests[t]);
  nc->res.probed = true;
}

/* Everything is in, the deadline passed, or the caller closes: close
 * the sockets and the deadline timer (the tick timer stays for close). */
static void finish(nat_netcheck *nc) {
  size_t i;
  if (nc->finishing)
    return;
  nc->finishing = true;
  for (i = 0; i < nc->cfg.nservers; i++) {
    if (nc->resolving[i]) {
      nc->res.lookups[i].late = true;
      nc->res.lookups[i].status = NAT_ERESOLVE;
      record_failure(nc, (uint16_t)i, NAT_ERESOLVE);
    }
  }
  if (nc->probe != NULL)
    collect(nc);
  nat__nc_hops_end(nc);
  for (i = 0; i < nc->failures.n; i++)
    if (nat_obslog_append(&nc->res.log, &nc->failures.v[i]) < 0)
      nc->fatal = NAT_ENOMEM;
  nat_probe_free(nc->probe);
  nc->probe = NULL;
  nat_obslog_free(&nc->failures);
  for (i = 0; i < NAT_PROBE_MAX_SOCKETS; i++) {
    if (!nc->socks[i].open)
      continue;
    nc->socks[i].open = false;
    nc->closing++;
    uv_close((uv_handle_t *)&nc->socks[i].h, on_sock_closed);
  }
  nc->closing++;
  uv_timer_stop(&nc->tick);
  uv_close((uv_handle_t *)&nc->deadline, on_closed);
}

/* A plain UDP socket of @p a's family, and @p a as a sockaddr into
 * @p ss / @p len: the descriptor, or a negative code. */
static int plain_socket(const nat_addr *a, struct sockaddr_storage *ss,
                        socklen_t *len) {
  int n = nat_addr_to_sockaddr(a, (struct sockaddr *)ss, sizeof *ss), fd;
  if (n < 0)
    return n;
  *len = (socklen_t)n;
  fd = socket(ss->ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  return fd < 0 ? -errno : fd;
}

/* The local address the kernel would use to reach @p dst: connect a
 * throwaway UDP socket (no packet is sent) and read its name. */
static int learn_local_ip(const nat_addr *dst, nat_addr *out) {
  struct sockaddr_storage ss;
  socklen_t sl;
  int fd, rv;
  fd = plain_socket(dst, &ss, &sl);
  if (fd < 0)
    return fd;
  rv = connect(fd, (struct sockaddr *)&ss, sl);
  if (rv == 0) {
    sl = sizeof ss;
    rv = getsockname(fd, (struct sockaddr *)&ss, &sl);
  }
  if (rv != 0)
    rv = -errno;
  close(fd);
  if (rv != 0)
    return rv;
  return nat_addr_from_sockaddr(out, (struct sockaddr *)&ss);
}

/* The first address of @p family in @p r, or NULL. */
static const nat_addr *first_of(const nat_resolve_result *r, uint8_t family) {
  size_t i;
  for (i = 0; i < r->naddrs; i++)
    if (r->addrs[i].family == family)
      return &r->addrs[i];
  return NULL;
}

static void pump(nat_netcheck *nc);

/* A datagram went out or came in: tell the caller. */
static void tell(nat_netcheck *nc, const nat_addr *src, const nat_addr *dst,
                 const uint8_t *buf, size_t len) {
  if (nc->cfg.on_datagram != NULL)
    nc->cfg.on_datagram(nc->cfg.arg, src, dst, buf, len);
}

static void on_send(uv_udp_send_t *req, int status) {
  nc_send *s = (nc_send *)req;
  nat_netcheck *nc = req->data;
  /* UV_ECANCELED: still queued when the run closed its sockets (a slow
   * run, e.g. under valgrind): not a failed send */
  if (status < 0 && status != UV_ECANCELED)
    nc->res.send_errors++;
  free(s);
}

static void do_send(nat_netcheck *nc, const nat_probe_action *a) {
  struct sockaddr_storage ss;
  nc_send *s;
  uv_buf_t b;
  int rv;
  nc_sock *k = &nc->socks[a->sock];
  if (!k->open ||
      nat_addr_to_sockaddr(&a->dst, (struct sockaddr *)&ss, sizeof ss) < 0) {
    nc->res.send_errors++;
    return;
  }
  rv = nat__nc_hops_try_send(nc, k, (struct sockaddr *)&ss, a->data, a->len);
  if (rv != UV_EAGAIN) {
    if (rv < 0)
      nc->res.send_errors++;
    else
      tell(nc, &k->local, &a->dst, a->data, a->len);
    return;
  }
  s = malloc(sizeof *s + a->len);
  if (s == NULL) {
    nc->res.send_errors++;
    return;
  }
  memcpy(s->buf, a->data, a->len);
  s->req.data = nc;
  b = uv_buf_init((char *)s->buf, (unsigned)a->len);
  if (uv_udp_send(&s->req, &k->h, &b, 1, (struct sockaddr *)&ss, on_send) < 0) {
    nc->res.send_errors++;
    free(s);
    return;
  }
  tell(nc, &k->local, &a->dst, a->data, a->len);
}

static void on_alloc(uv_handle_t *h, size_t size, uv_buf_t *buf) {
  nc_sock *k = h->data;
  (void)size;
  *buf = uv_buf_init((char *)k->nc->rbuf, sizeof k->nc->rbuf);
}

static void on_recv(uv_udp_t *h, ssize_t n, const uv_buf_t *buf,
                    const struct sockaddr *sa, unsigned flags) {
  nc_sock *k = h->data;
  nat_netcheck *nc = k->nc;
  nat_addr from;
  if (n < 0 || (n == 0 && sa == NULL)) {
    /* an ICMP error is pending (or the socket is readable no more): the
     * error queue keeps POLLERR raised until it is read empty */
    if (nat__nc_hops_drain(nc, k) > 0)
      pump(nc);
    return;
  }
  if (n == 0 || sa == NULL || (flags & UV_UDP_PARTIAL) || nc->finishing)
    return;
  if (nat_addr_from_sockaddr(&from, sa) < 0)
    return;
  if (nat__nc_hops_recv(nc, k, &from, (const uint8_t *)buf->base, (size_t)n)) {
    pump(nc);
    return;
  }
  tell(nc, &from, &k->local, (const uint8_t *)buf->base, (size_t)n);
  nat_probe_recv(nc->probe, nat_udp_now(), k->idx, &from,
                 (const uint8_t *)buf->base, (size_t)n);
  pump(nc);
}

/* The route to a server of @p family (an RFC 5780 server only, if
 * @p forced_only): its source IP into @p out. */
static int learn_family_ip(nat_netcheck *nc, uint8_t family, bool forced_only,
                           nat_addr *out) {
  int rv = NAT_ENOTFOUND;
  size_t i, j;
  for (i = 0; i < nc->cfg.nservers && rv != 0; i++) {
    const nat_netcheck_lookup *l = &nc->res.lookups[i];
    if (forced_only && !nc->cfg.servers[i].rfc5780)
      continue;
    for (j = 0; j < l->naddrs && rv != 0; j++)
      if (l->addrs[j].family == family)
        rv = learn_local_ip(&l->addrs[j], out);
  }
  return rv;
}

/* The local IP of @p family every socket binds to: the bind address,
 * else the source IP of the route to the RFC 5780 server given, else to
 * the first server of that family (nat/netcheck.h says why). */
static int local_ip(nat_netcheck *nc, uint8_t family, nat_addr *out) {
  int f = fam_index(family), rv = 0;
  if (!nc->have_local[f]) {
    if (nc->cfg.bind.family != NAT_AF_NONE) {
      nc->local_ip[f] = nc->cfg.bind;
    } else {
      rv = learn_family_ip(nc, family, true, &nc->local_ip[f]);
      if (rv != 0)
        rv = learn_family_ip(nc, family, false, &nc->local_ip[f]);
      if (rv < 0)
        return rv;
    }
    nc->have_local[f] = true;
  }
  *out = nc->local_ip[f];
  return 0;
}

static int open_sock(nat_netcheck *nc, unsigned idx, uint8_t family,
                     nat_addr *local) {
  nc_sock *k = &nc->socks[idx];
  struct sockaddr_storage ss;
  int len, rv, sl = sizeof ss;
  nat_addr b;
  rv = local_ip(nc, family, &b);
  if (rv < 0)
    return rv;
  if (nc->cfg.bind.family == NAT_AF_NONE || idx > 0)
    b.port = 0;
  len = nat_addr_to_sockaddr(&b, (struct sockaddr *)&ss, sizeof ss);
  if (len < 0)
    return len;
  rv = uv_udp_init(nc->loop, &k->h);
  if (rv < 0)
    return rv;
  k->nc = nc;
  k->idx = idx;
  k->h.data = k;
  k->open = true;
  rv = uv_udp_bind(&k->h, (struct sockaddr *)&ss,
                   family == NAT_AF_INET6 ? UV_UDP_IPV6ONLY : 0);
  if (rv == 0)
    rv = uv_udp_getsockname(&k->h, (struct sockaddr *)&ss, &sl);
  if (rv == 0)
    rv = uv_udp_recv_start(&k->h, on_alloc, on_recv);
  if (rv < 0)
    return rv;
  rv = nat_addr_from_sockaddr(local, (struct sockaddr *)&ss);
  if (rv == 0)
    k->local = *local;
  return rv;
}

static void on_tick(uv_timer_t *t) {
  nat_netcheck *nc = t->data;
  nat_probe_handle_expiry(nc->probe, nat_udp_now());
  pump(nc);
}

/* Do what the plan asks now, then sleep (in the loop) until its next
 * deadline or a datagram. */
static void pump(nat_netcheck *nc) {
  nat_probe_action a;
  nat_tstamp now = nat_udp_now(), exp, hexp;
  nat_addr local;
  int rv;
  if (nc->finishing)
    return;
  while (nat_probe_next_action(nc->probe, now, &a) > 0) {
    if (a.kind == NAT_PROBE_ACT_OPEN) {
      memset(&local, 0, sizeof local);
      rv = open_sock(nc, a.sock, a.family, &local);
      if (rv < 0 && nc->cfg.on_socket_error != NULL)
        nc->cfg.on_socket_error(nc->cfg.arg, a.family, rv);
      nat_probe_socket_opened(nc->probe, now, a.sock, rv, &local);
      if (rv == 0 && a.sock == NC_HOP_SOCK) {
        nat__nc_hops_start(nc, &nc->socks[a.sock], now);
        nat__nc_pm_sock_open(nc, &nc->socks[a.sock]);
      }
    } else if (a.kind == NAT_PROBE_ACT_SEND) {
      do_send(nc, &a);
    }
  }
  hexp = nat__nc_hops_pump(nc, now);
  if (nat_probe_done(nc->probe)) {
    finish(nc); /* the hop probe never makes the run longer */
    return;
  }
  exp = nat_probe_get_expiry(nc->probe);
  if (hexp < exp)
    exp = hexp;
  if (exp == NAT_TSTAMP_MAX)
    return;
  exp = exp > now ? (exp - now + NAT_MILLISECONDS - 1) / NAT_MILLISECONDS : 0;
  uv_timer_start(&nc->tick, on_tick, exp, 0);
}

/* Time left of the overall deadline (the lifetime test adds its own). */
static nat_tstamp remaining(const nat_netcheck *nc) {
  nat_tstamp total = nc->cfg.timeout;
  nat_tstamp used = nat_udp_now() - nc->start;
  if (nc->cfg.tests & NAT_PROBE_LIFETIME)
    total += nc->cfg.lifetime_max;
  return used < total ? total - used : 1;
}

static void start_plan(nat_netcheck *nc) {
  nat_probe_server srv[NAT_PROBE_MAX_SERVERS];
  nat_probe_config cfg;
  size_t i, j, n = 0;
  int rv;
  for (i = 0; i < nc->cfg.nservers; i++)
    for (j = 0; j < nc->res.lookups[i].naddrs && n < NAT_PROBE_MAX_SERVERS;
         j++) {
      srv[n].addr = nc->res.lookups[i].addrs[j];
      srv[n].server_idx = (uint16_t)i;
      srv[n].rfc5780 = nc->cfg.servers[i].rfc5780;
      n++;
    }
  if (n == 0) {
    finish(nc);
    return;
  }
  memset(&cfg, 0, sizeof cfg);
  cfg.servers = srv;
  cfg.nservers = n;
  cfg.tests = nc->cfg.tests | NAT_PROBE_BASIC;
  cfg.alloc_samples = nc->cfg.alloc_samples;
  cfg.deadline = remaining(nc);
  cfg.lifetime_max = nc->cfg.lifetime_max;
  cfg.software = nc->software;
  cfg.rand = nat_rand_system;
  nc->plan_end = nat_udp_now() + cfg.deadline;
  rv = nat_probe_new(&nc->probe, &cfg, nat_udp_now());
  if (rv < 0) {
    nc->fatal = rv;
    finish(nc);
    return;
  }
  uv_timer_stop(&nc->deadline); /* the plan keeps its own deadline */
  pump(nc);
}

static void on_deadline(uv_timer_t *t) {
  nat_netcheck *nc = t->data;
  if (nc->probe != NULL) {
    nat_probe_cancel(nc->probe, nat_udp_now());
    pump(nc);
  }
  finish(nc);
}

/* A name gave no address of the families asked for: why, as a lookup
 * result; -4 or -6 and a name without one, or a literal of the other
 * family (the resolver says "address family not supported", which names
 * neither the server nor the family). */
static void lookup_failed(nat_netcheck *nc, nat_netcheck_lookup *l,
                          const nat_resolve_result *r) {
  l->status = r->status != 0 ? r->status : NAT_ENOTFOUND;
  l->uv_status = r->status == NAT_ERESOLVE ? r->uv_status : 0;
  if (r->status == 0 ||
      (r->status == NAT_ERESOLVE && r->uv_status == UV_EAI_ADDRFAMILY &&
       nc->cfg.family != NAT_AF_NONE)) {
    l->uv_status = 0;
    l->no_family = nc->cfg.family;
  }
}

static void on_resolved(void *arg, const nat_resolve_result *r) {
  nc_lookup *lk = arg;
  nat_netcheck *nc = lk->nc;
  nat_netcheck_lookup *l = &nc->res.lookups[lk->server_idx];
  const nat_addr *a4 = NULL, *a6 = NULL;
  nc->resolving[lk->server_idx] = false;
  nc->nresolving--;
  if (nc->finishing) { /* already recorded as a late lookup */
    maybe_free(nc);
    return;
  }
  if (r->status == 0) {
    a4 = nc->cfg.family != NAT_AF_INET6 ? first_of(r, NAT_AF_INET) : NULL;
    a6 = nc->cfg.family != NAT_AF_INET ? first_of(r, NAT_AF_INET6) : NULL;
  }
  if (a4 == NULL && a6 == NULL) {
    lookup_failed(nc, l, r);
    record_failure(nc, lk->server_idx, l->status);
  }
  if (a4 != NULL)
    l->addrs[l->naddrs++] = *a4;
  if (a6 != NULL)
    l->addrs[l->naddrs++] = *a6;
  if (nc->nresolving == 0)
    start_plan(nc);
}

static void start_lookups(nat_netcheck *nc) {
  size_t i;
  int rv;
  for (i = 0; i < nc->cfg.nservers; i++) {
    nc->lookups[i].nc = nc;
    nc->lookups[i].server_idx = (uint16_t)i;
    rv = nat_resolve(nc->loop, nc->servers[i].name, NAT_NETCHECK_DEFAULT_PORT,
                     nc->cfg.family, on_resolved, &nc->lookups[i]);
    if (rv < 0) {
      nc->res.lookups[i].status = rv;
      record_failure(nc, (uint16_t)i, rv);
      continue;
    }
    nc->resolving[i] = true;
    nc->nresolving++;
  }
  if (nc->nresolving == 0)
    start_plan(nc);
}

/* The bind address works: else the run is an environment error, found
 * before anything is sent. */
static int check_bind(const nat_addr *addr) {
  struct sockaddr_storage ss;
  socklen_t len;
  int fd, rv;
  fd = plain_socket(addr, &ss, &len);
  if (fd < 0)
    return fd;
  rv = bind(fd, (struct sockaddr *)&ss, len) == 0 ? 0 : -errno;
  close(fd);
  return rv;
}

static int check_config(const nat_netcheck_config *cfg) {
  size_t i;
  if (cfg->done == NULL || cfg->servers == NULL || cfg->nservers == 0 ||
      cfg->nservers > NAT_NETCHECK_MAX_SERVERS ||
      cfg->alloc_samples > NAT_PROBE_ALLOC_MAX ||
      cfg->hops_max_ttl > NAT_HOPS_MAX ||
      (cfg->family != NAT_AF_NONE && cfg->family != NAT_AF_INET &&
       cfg->family != NAT_AF_INET6))
    return NAT_EINVAL;
  if (cfg->bind.family != NAT_AF_NONE && cfg->family != NAT_AF_NONE &&
      cfg->bind.family != cfg->family)
    return NAT_EINVAL;
  for (i = 0; i < cfg->nservers; i++)
    if (cfg->servers[i].name == NULL)
      return NAT_EINVAL;
  return 0;
}

/* Copy what the config points to. */
static int copy_config(nat_netcheck *nc, const nat_netcheck_config *cfg) {
  size_t i;
  nc->cfg = *cfg;
  if (nc->cfg.bind.family != NAT_AF_NONE)
    nc->cfg.family = nc->cfg.bind.family;
  if (nc->cfg.timeout == 0)
    nc->cfg.timeout = NAT_NETCHECK_DEFAULT_TIMEOUT;
  if (nc->cfg.tests == 0)
    nc->cfg.tests = NAT_PROBE_DEFAULT;
  if (nc->cfg.lifetime_max == 0)
    nc->cfg.lifetime_max = 60 * NAT_SECONDS;
  nc->cfg.servers = nc->servers;
  nc->res.nservers = cfg->nservers;
  for (i = 0; i < cfg->nservers; i++) {
    nc->servers[i].rfc5780 = cfg->servers[i].rfc5780;
    nc->servers[i].name = strdup(cfg->servers[i].name);
    if (nc->servers[i].name == NULL)
      return NAT_ENOMEM;
  }
  if (cfg->software != NULL && (nc->software = strdup(cfg->software)) == NULL)
    return NAT_ENOMEM;
  return 0;
}

int nat_netcheck_new(nat_netcheck **out, uv_loop_t *loop,
                     const nat_netcheck_config *cfg) {
  nat_netcheck *nc;
  int rv;
  if (out == NULL || loop == NULL || cfg == NULL)
    return NAT_EINVAL;
  rv = check_config(cfg);
  if (rv < 0)
    return rv;
  if (cfg->bind.family != NAT_AF_NONE && (rv = check_bind(&cfg->bind)) < 0)
    return rv;
  nc = calloc(1, sizeof *nc);
  if (nc == NULL)
    return NAT_ENOMEM;
  nat_obslog_init(&nc->res.log);
  nat_verdict_init(&nc->res.verdict);
  nat_obslog_init(&nc->failures);
  rv = copy_config(nc, cfg);
  if (rv < 0) {
    free_copies(nc);
    return rv;
  }
  nc->loop = loop;
  nc->start = nat_udp_now();
  uv_timer_init(loop, &nc->deadline);
  uv_timer_init(loop, &nc->tick);
  nc->deadline.data = nc;
  nc->tick.data = nc;
  uv_timer_start(&nc->deadline, on_deadline,
                 (nc->cfg.timeout + NAT_MILLISECONDS - 1) / NAT_MILLISECONDS,
                 0);
  *out = nc;
  nat__nc_pm_start(nc); /* with the lookups, beside them */
  start_lookups(nc);
  return 0;
}

void nat_netcheck_close(nat_netcheck *nc, nat_netcheck_close_cb cb, void *arg) {
  if (nc == NULL || nc->close_called)
    return;
  nc->close_called = true;
  nc->close_cb = cb;
  nc->close_arg = arg;
  nat__nc_pm_stop(nc, NAT_ECANCELED, "cancelled");
  if (nc->pm == NULL && nc->socks_closed)
    maybe_done(nc);
  if (!nc->finishing) {
    nc->cancelled = true;
    if (nc->probe != NULL)
      nat_probe_cancel(nc->probe, nat_udp_now());
    finish(nc);
  } else if (nc->done_called) {
    close_tick(nc);
  }
}
