/* netcheck -- the live run: resolve every server, then drive libnat's
 * probe plan (nat/probe.h) on one libuv loop: it asks for sockets and
 * datagrams, this file opens the sockets, sends, feeds what arrives and
 * runs its timers, all under one overall deadline. Nothing here sleeps. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include <nat/error.h>
#include <nat/resolve.h>
#include <nat/udp.h>

#include "netcheck.h"

struct nc_ctx;

typedef struct nc_lookup {
  struct nc_ctx *ctx;
  uint16_t server_idx;
  size_t naddrs;
  nat_addr addrs[2]; /* first IPv4, first IPv6 (as wanted) */
} nc_lookup;

typedef struct nc_sock {
  struct nc_ctx *ctx;
  unsigned idx;
  bool open;
  nat_addr local; /* bound port, with the concrete local IP */
  uv_udp_t h;
} nc_sock;

typedef struct nc_send {
  uv_udp_send_t req;
  uint8_t buf[];
} nc_send;

typedef struct nc_ctx {
  uv_loop_t loop;
  nc_options *opt;
  nc_result *res;
  uv_timer_t deadline, tick;
  nc_lookup lookups[NC_MAX_SERVERS];
  nc_sock socks[NAT_PROBE_MAX_SOCKETS];
  nat_probe *probe;
  nat_obslog failures;  /* requests that could not be made */
  nat_addr local_ip[2]; /* per family: the IP routes to the servers use */
  bool have_local[2];
  size_t resolving; /* lookups under way */
  size_t closing;   /* handles not yet closed */
  bool finishing;
  int fatal;
  uint64_t send_errors;
  nat_tstamp start;
  nat_capture_writer *rec; /* --record */
} nc_ctx;

static int fam_index(uint8_t family) {
  return family == NAT_AF_INET6 ? 1 : 0;
}

/* Record a request that could not be made (basic test). */
static void record_failure(nc_ctx *c, uint16_t idx, const nat_addr *dst,
                           int status) {
  nat_obs o;
  int rv;
  memset(&o, 0, sizeof o);
  o.server_idx = idx;
  if (dst != NULL)
    o.server = *dst;
  o.status = status;
  o.sent_at = nat_udp_now() - c->start;
  rv = nat_obslog_append(&c->failures, &o);
  if (rv < 0 && c->fatal == 0)
    c->fatal = rv;
}

static void on_closed(uv_handle_t *h) {
  nc_ctx *c = h->data;
  if (--c->closing == 0 && c->resolving > 0)
    uv_stop(&c->loop); /* lookups cannot be cancelled: stop waiting */
}

static void on_sock_closed(uv_handle_t *h) {
  nc_sock *s = h->data;
  nc_ctx *c = s->ctx;
  if (--c->closing == 0 && c->resolving > 0)
    uv_stop(&c->loop);
}

static void collect(nc_ctx *c) {
  const nat_obslog *log = nat_probe_log(c->probe);
  nat_probe_stats st;
  size_t i;
  uint8_t t;
  for (i = 0; log != NULL && i < log->n; i++) {
    const nat_obs *o = &log->v[i];
    if (nat_obslog_append(&c->res->log, o) < 0)
      c->fatal = NAT_ENOMEM;
    if (c->opt->verbose)
      nc_obs_trace(o);
  }
  nat_probe_stats_get(c->probe, &st);
  c->res->diag.malformed = st.malformed;
  c->res->diag.spoofed = st.spoofed;
  c->res->diag.unmatched = st.unmatched;
  c->res->diag.duplicates = st.duplicates;
  c->res->diag.not_response = st.not_response;
  for (t = 0; t < 6; t++)
    nat_probe_test_info_get(c->probe, t, &c->res->tests[t]);
  c->res->probed = true;
}

/* Everything is in, or the deadline passed: close all. */
static void finish(nc_ctx *c) {
  size_t i;
  if (c->finishing)
    return;
  c->finishing = true;
  for (i = 0; i < c->opt->nservers; i++) {
    nc_server *s = &c->opt->servers[i];
    if (s->resolving) {
      s->resolve_late = true;
      record_failure(c, (uint16_t)i, NULL, NAT_ERESOLVE);
    }
  }
  if (c->probe != NULL)
    collect(c);
  for (i = 0; i < c->failures.n; i++)
    if (nat_obslog_append(&c->res->log, &c->failures.v[i]) < 0)
      c->fatal = NAT_ENOMEM;
  c->res->diag.send_errors = c->send_errors;
  for (i = 0; i < NAT_PROBE_MAX_SOCKETS; i++) {
    if (!c->socks[i].open)
      continue;
    c->socks[i].open = false;
    c->closing++;
    uv_close((uv_handle_t *)&c->socks[i].h, on_sock_closed);
  }
  c->closing += 2;
  uv_close((uv_handle_t *)&c->deadline, on_closed);
  uv_close((uv_handle_t *)&c->tick, on_closed);
}

/* The local address the kernel would use to reach @p dst: connect a
 * throwaway UDP socket (no packet is sent) and read its name. */
static int learn_local_ip(const nat_addr *dst, nat_addr *out) {
  struct sockaddr_storage ss;
  socklen_t sl;
  int fd, rv, len;
  len = nat_addr_to_sockaddr(dst, (struct sockaddr *)&ss, sizeof ss);
  if (len < 0)
    return len;
  fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return -errno;
  rv = connect(fd, (struct sockaddr *)&ss, (socklen_t)len);
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

static void pump(nc_ctx *c);

/* --record: one datagram with its real addresses and wall-clock time.
 * Write errors are sticky in the writer and reported when it closes. */
static void record(nc_ctx *c, const nat_addr *src, const nat_addr *dst,
                   const uint8_t *buf, size_t len) {
  struct timespec ts;
  if (c->rec == NULL || !nat_stun_is_stun(buf, len) ||
      src->family != dst->family)
    return;
  clock_gettime(CLOCK_REALTIME, &ts);
  (void)nat_capture_writer_write(
      c->rec, (nat_tstamp)ts.tv_sec * NAT_SECONDS + (nat_tstamp)ts.tv_nsec, src,
      dst, buf, len);
}

static void on_send(uv_udp_send_t *req, int status) {
  nc_send *s = (nc_send *)req;
  nc_ctx *c = req->data;
  if (status < 0)
    c->send_errors++;
  free(s);
}

static void do_send(nc_ctx *c, const nat_probe_action *a) {
  struct sockaddr_storage ss;
  nc_send *s;
  uv_buf_t b;
  nc_sock *k = &c->socks[a->sock];
  if (!k->open ||
      nat_addr_to_sockaddr(&a->dst, (struct sockaddr *)&ss, sizeof ss) < 0) {
    c->send_errors++;
    return;
  }
  s = malloc(sizeof *s + a->len);
  if (s == NULL) {
    c->send_errors++;
    return;
  }
  memcpy(s->buf, a->data, a->len);
  s->req.data = c;
  b = uv_buf_init((char *)s->buf, (unsigned)a->len);
  if (uv_udp_send(&s->req, &k->h, &b, 1, (struct sockaddr *)&ss, on_send) < 0) {
    c->send_errors++;
    free(s);
    return;
  }
  record(c, &k->local, &a->dst, a->data, a->len);
}

static void on_alloc(uv_handle_t *h, size_t size, uv_buf_t *buf) {
  static char slab[65536];
  (void)h;
  (void)size;
  *buf = uv_buf_init(slab, sizeof slab);
}

static void on_recv(uv_udp_t *h, ssize_t n, const uv_buf_t *buf,
                    const struct sockaddr *sa, unsigned flags) {
  nc_sock *k = h->data;
  nc_ctx *c = k->ctx;
  nat_addr from;
  if (n <= 0 || sa == NULL || (flags & UV_UDP_PARTIAL) || c->finishing)
    return;
  if (nat_addr_from_sockaddr(&from, sa) < 0)
    return;
  record(c, &from, &k->local, (const uint8_t *)buf->base, (size_t)n);
  nat_probe_recv(c->probe, nat_udp_now(), k->idx, &from,
                 (const uint8_t *)buf->base, (size_t)n);
  pump(c);
}

/* The route to a server of @p family (the RFC 5780 server given, else
 * the first that has one; -1: none): its source IP into @p out. */
static int learn_family_ip(nc_ctx *c, uint8_t family, bool forced_only,
                           nat_addr *out) {
  int rv = NAT_ENOTFOUND;
  size_t i, j;
  for (i = 0; i < c->opt->nservers && rv != 0; i++) {
    const nc_lookup *l = &c->lookups[i];
    if (forced_only && !c->opt->servers[i].rfc5780)
      continue;
    for (j = 0; j < l->naddrs && rv != 0; j++)
      if (l->addrs[j].family == family)
        rv = learn_local_ip(&l->addrs[j], out);
  }
  return rv;
}

/* The local IP of @p family every socket binds to: --bind's, else the
 * source IP the kernel routes to the RFC 5780 server given (else to the
 * first server of that family) from. A socket bound to the unspecified
 * address would leave from whatever IP the kernel picks per destination
 * (a host with several addresses or IPv6 prefixes, servers on the host's
 * own addresses): a request to the server's second IP could then leave
 * from another IP than the first, and one socket would look like a NAT
 * whose mapping depends on the destination. Bound, every datagram of the
 * run leaves from this one IP, the one recorded. */
static int local_ip(nc_ctx *c, uint8_t family, nat_addr *out) {
  int f = fam_index(family), rv = 0;
  if (!c->have_local[f]) {
    if (c->opt->has_bind) {
      c->local_ip[f] = c->opt->bind;
    } else {
      rv = learn_family_ip(c, family, true, &c->local_ip[f]);
      if (rv != 0)
        rv = learn_family_ip(c, family, false, &c->local_ip[f]);
      if (rv < 0)
        return rv;
    }
    c->have_local[f] = true;
  }
  *out = c->local_ip[f];
  return 0;
}

static int open_sock(nc_ctx *c, unsigned idx, uint8_t family, nat_addr *local) {
  nc_sock *k = &c->socks[idx];
  struct sockaddr_storage ss;
  int len, rv, sl = sizeof ss;
  nat_addr b;
  rv = local_ip(c, family, &b);
  if (rv < 0)
    return rv;
  if (!c->opt->has_bind || idx > 0)
    b.port = 0;
  len = nat_addr_to_sockaddr(&b, (struct sockaddr *)&ss, sizeof ss);
  if (len < 0)
    return len;
  rv = uv_udp_init(&c->loop, &k->h);
  if (rv < 0)
    return rv;
  k->ctx = c;
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
  nc_ctx *c = t->data;
  nat_probe_handle_expiry(c->probe, nat_udp_now());
  pump(c);
}

/* Do what the plan asks now, then sleep (in the loop) until its next
 * deadline or a datagram. */
static void pump(nc_ctx *c) {
  nat_probe_action a;
  nat_tstamp now = nat_udp_now(), exp;
  nat_addr local;
  int rv;
  if (c->finishing)
    return;
  while (nat_probe_next_action(c->probe, now, &a) > 0) {
    if (a.kind == NAT_PROBE_ACT_OPEN) {
      memset(&local, 0, sizeof local);
      rv = open_sock(c, a.sock, a.family, &local);
      if (rv < 0 && c->opt->verbose)
        fprintf(stderr, "netcheck: cannot open an %s socket: %s\n",
                a.family == NAT_AF_INET ? "IPv4" : "IPv6", nat_strerror(rv));
      nat_probe_socket_opened(c->probe, now, a.sock, rv, &local);
    } else if (a.kind == NAT_PROBE_ACT_SEND) {
      do_send(c, &a);
    }
  }
  if (nat_probe_done(c->probe)) {
    finish(c);
    return;
  }
  exp = nat_probe_get_expiry(c->probe);
  if (exp == NAT_TSTAMP_MAX)
    return;
  exp = exp > now ? (exp - now + NAT_MILLISECONDS - 1) / NAT_MILLISECONDS : 0;
  uv_timer_start(&c->tick, on_tick, exp, 0);
}

static nat_tstamp remaining(const nc_ctx *c) {
  nat_tstamp total = (nat_tstamp)c->opt->timeout_ms * NAT_MILLISECONDS;
  nat_tstamp used = nat_udp_now() - c->start;
  if (c->opt->tests & NAT_PROBE_LIFETIME)
    total += (nat_tstamp)c->opt->lifetime_max_s * NAT_SECONDS;
  return used < total ? total - used : 1;
}

static void start_plan(nc_ctx *c) {
  nat_probe_server srv[NAT_PROBE_MAX_SERVERS];
  nat_probe_config cfg;
  size_t i, j, n = 0;
  int rv;
  for (i = 0; i < c->opt->nservers; i++)
    for (j = 0; j < c->lookups[i].naddrs && n < NAT_PROBE_MAX_SERVERS; j++) {
      srv[n].addr = c->lookups[i].addrs[j];
      srv[n].server_idx = (uint16_t)i;
      srv[n].rfc5780 = c->opt->servers[i].rfc5780;
      n++;
    }
  if (n == 0) {
    finish(c);
    return;
  }
  memset(&cfg, 0, sizeof cfg);
  cfg.servers = srv;
  cfg.nservers = n;
  cfg.tests = c->opt->tests | NAT_PROBE_BASIC;
  cfg.alloc_samples = c->opt->alloc_samples;
  cfg.deadline = remaining(c);
  cfg.lifetime_max = (nat_tstamp)c->opt->lifetime_max_s * NAT_SECONDS;
  cfg.software = c->opt->software;
  cfg.rand = nat_rand_system;
  rv = nat_probe_new(&c->probe, &cfg, nat_udp_now());
  if (rv < 0) {
    c->fatal = rv;
    finish(c);
    return;
  }
  uv_timer_stop(&c->deadline); /* the plan keeps its own deadline */
  pump(c);
}

static void on_deadline(uv_timer_t *t) {
  nc_ctx *c = t->data;
  if (c->probe != NULL) {
    nat_probe_cancel(c->probe, nat_udp_now());
    pump(c);
  }
  finish(c);
}

static void on_resolved(void *arg, const nat_resolve_result *r) {
  nc_lookup *l = arg;
  nc_ctx *c = l->ctx;
  nc_server *s = &c->opt->servers[l->server_idx];
  const nat_addr *a4 = NULL, *a6 = NULL;
  s->resolving = false;
  c->resolving--;
  if (c->finishing)
    return; /* already recorded as a late lookup */
  if (r->status == 0) {
    a4 = c->opt->want_v4 ? first_of(r, NAT_AF_INET) : NULL;
    a6 = c->opt->want_v6 ? first_of(r, NAT_AF_INET6) : NULL;
  }
  if (a4 == NULL && a6 == NULL) {
    s->resolve_uv = r->status == NAT_ERESOLVE ? r->uv_status : 0;
    /* -4 or -6 and the name has no address of that family: a name without
     * one, or a literal of the other family (the resolver says "address
     * family not supported", which names neither the server nor -4/-6). */
    if (r->status == 0 ||
        (r->status == NAT_ERESOLVE && r->uv_status == UV_EAI_ADDRFAMILY &&
         c->opt->want_v4 != c->opt->want_v6)) {
      char why[NC_ERRLEN];
      s->resolve_uv = 0;
      s->no_family = c->opt->want_v4 ? NAT_AF_INET : NAT_AF_INET6;
      fprintf(stderr, "netcheck: %s\n",
              nc_no_family_strerror(s, why, sizeof why));
    }
    record_failure(c, l->server_idx, NULL,
                   r->status != 0 ? r->status : NAT_ENOTFOUND);
  }
  if (a4 != NULL)
    l->addrs[l->naddrs++] = *a4;
  if (a6 != NULL)
    l->addrs[l->naddrs++] = *a6;
  if (c->resolving == 0)
    start_plan(c);
}

static void start_lookups(nc_ctx *c) {
  uint8_t family = NAT_AF_NONE;
  size_t i;
  int rv;
  if (!c->opt->want_v6)
    family = NAT_AF_INET;
  else if (!c->opt->want_v4)
    family = NAT_AF_INET6;
  for (i = 0; i < c->opt->nservers; i++) {
    nc_server *s = &c->opt->servers[i];
    c->lookups[i].ctx = c;
    c->lookups[i].server_idx = (uint16_t)i;
    rv = nat_resolve(&c->loop, s->name, NC_DEFAULT_PORT, family, on_resolved,
                     &c->lookups[i]);
    if (rv < 0) {
      record_failure(c, (uint16_t)i, NULL, rv);
      continue;
    }
    s->resolving = true;
    c->resolving++;
  }
  if (c->resolving == 0)
    start_plan(c);
}

/* A socket of each wanted family can be opened (or --bind works): else
 * the run is an environment error, reported before anything is sent. */
static int check_env(nc_ctx *c) {
  uv_udp_t h;
  struct sockaddr_storage ss;
  nat_addr a;
  int rv, len;
  memset(&a, 0, sizeof a);
  if (!c->opt->has_bind)
    return 0;
  a = c->opt->bind;
  len = nat_addr_to_sockaddr(&a, (struct sockaddr *)&ss, sizeof ss);
  if (len < 0)
    return len;
  uv_udp_init(&c->loop, &h);
  rv = uv_udp_bind(&h, (struct sockaddr *)&ss, 0);
  uv_close((uv_handle_t *)&h, NULL);
  uv_run(&c->loop, UV_RUN_NOWAIT);
  if (rv < 0) {
    char buf[NAT_ADDR_STRLEN];
    fprintf(stderr, "netcheck: cannot bind to %s: %s\n",
            nat_addr_format(&a, buf, sizeof buf), nat_strerror(rv));
  }
  return rv;
}

int nc_run(nc_options *opt, nc_result *res) {
  nc_ctx *c = calloc(1, sizeof *c);
  int rv, wrv;
  if (c == NULL) {
    fprintf(stderr, "netcheck: out of memory\n");
    return NAT_ENOMEM;
  }
  c->opt = opt;
  c->res = res;
  rv = uv_loop_init(&c->loop);
  if (rv < 0) {
    fprintf(stderr, "netcheck: cannot create an event loop: %s\n",
            nat_strerror(rv));
    free(c);
    return rv;
  }
  c->start = nat_udp_now();
  rv = check_env(c);
  if (rv == 0 && opt->record != NULL) {
    rv = nat_capture_writer_open(&c->rec, opt->record, NAT_LINK_ETHERNET);
    if (rv < 0)
      fprintf(stderr, "netcheck: cannot create --record file %s: %s\n",
              opt->record, nat_strerror(rv));
  }
  if (rv < 0) {
    uv_loop_close(&c->loop);
    free(c);
    return rv;
  }
  uv_timer_init(&c->loop, &c->deadline);
  uv_timer_init(&c->loop, &c->tick);
  c->deadline.data = c;
  c->tick.data = c;
  uv_timer_start(&c->deadline, on_deadline, opt->timeout_ms, 0);
  start_lookups(c);
  uv_run(&c->loop, UV_RUN_DEFAULT);
  res->duration = nat_udp_now() - c->start;
  nat_probe_free(c->probe);
  nat_obslog_free(&c->failures);
  rv = c->fatal;
  wrv = nat_capture_writer_close(c->rec);
  c->rec = NULL;
  /* With a lookup still under way the loop cannot close; the process is
   * about to exit, so it is left as it is. */
  if (c->resolving == 0) {
    uv_loop_close(&c->loop);
    free(c);
  }
  if (rv < 0) {
    fprintf(stderr, "netcheck: %s\n", nat_strerror(rv));
    return rv;
  }
  if (wrv < 0) {
    fprintf(stderr, "netcheck: cannot write --record file %s: %s\n",
            opt->record, nat_strerror(wrv));
    return wrv;
  }
  rv = nat_verdict_compute(&res->verdict, &res->log);
  if (rv < 0)
    fprintf(stderr, "netcheck: %s\n", nat_strerror(rv));
  return rv;
}
