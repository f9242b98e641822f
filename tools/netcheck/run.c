/* netcheck -- the live run: resolve every server, send one Binding request
 * per (server, family) from one socket per family, all in parallel on one
 * loop, under one overall deadline; record each outcome as a nat_obs. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include <nat/error.h>
#include <nat/resolve.h>
#include <nat/udp.h>

#include "netcheck.h"

#define FAM_V4 0
#define FAM_V6 1

struct nc_ctx;

typedef struct nc_probe {
  struct nc_ctx *ctx;
  uint16_t server_idx;
  nat_addr local;
} nc_probe;

typedef struct nc_lookup {
  struct nc_ctx *ctx;
  uint16_t server_idx;
} nc_lookup;

typedef struct nc_ctx {
  uv_loop_t loop;
  nc_options *opt;
  nc_result *res;
  nat_udp *udp[2];
  int udp_err[2];
  nat_addr udp_local[2];
  uv_timer_t deadline;
  nc_probe probes[NC_MAX_SERVERS][2];
  nc_lookup lookups[NC_MAX_SERVERS];
  size_t resolving;    /* lookups under way */
  size_t transactions; /* Binding requests under way */
  size_t closing;      /* handles and sockets not yet closed */
  bool finishing;
  int fatal;
  nat_tstamp start;
} nc_ctx;

static int fam_index(uint8_t family) {
  return family == NAT_AF_INET6 ? FAM_V6 : FAM_V4;
}

static void record(nc_ctx *c, nat_obs *o) {
  int rv;
  o->test = NAT_OBS_BASIC;
  rv = nat_obslog_append(&c->res->log, o);
  if (rv < 0 && c->fatal == 0)
    c->fatal = rv;
}

/* Record a request that could not be made. */
static void record_failure(nc_ctx *c, uint16_t idx, const nat_addr *dst,
                           const nat_addr *local, int status) {
  nat_obs o;
  memset(&o, 0, sizeof o);
  o.server_idx = idx;
  if (dst != NULL)
    o.server = *dst;
  if (local != NULL)
    o.local = *local;
  o.status = status;
  o.sent_at = nat_udp_now() - c->start;
  record(c, &o);
}

static void closed_one(nc_ctx *c) {
  if (--c->closing == 0 && c->finishing && c->resolving > 0)
    uv_stop(&c->loop); /* lookups cannot be cancelled: stop waiting */
}

static void on_closed(uv_handle_t *h) {
  closed_one(h->data);
}

static void on_udp_closed(nat_udp *u, void *arg) {
  (void)u;
  closed_one(arg);
}

static void collect_stats(nc_ctx *c, const nat_udp *u) {
  nat_udp_stats st;
  nc_diag *d = &c->res->diag;
  nat_udp_stats_get(u, &st);
  d->malformed += st.txn.malformed;
  d->spoofed += st.txn.spoofed;
  d->unmatched += st.txn.unmatched;
  d->duplicates += st.txn.duplicates;
  d->not_response += st.txn.not_response;
  d->send_errors += st.send_errors;
}

/* Everything is in, or the deadline passed: close all. Transactions still
 * under way end (as timeouts) from inside nat_udp_close(). */
static void finish(nc_ctx *c) {
  size_t i;
  int f;
  if (c->finishing)
    return;
  c->finishing = true;
  for (i = 0; i < c->opt->nservers; i++) {
    nc_server *s = &c->opt->servers[i];
    if (s->resolving) {
      s->resolve_late = true;
      record_failure(c, (uint16_t)i, NULL, NULL, NAT_ERESOLVE);
    }
  }
  for (f = 0; f < 2; f++) {
    if (c->udp[f] == NULL)
      continue;
    collect_stats(c, c->udp[f]);
    c->closing++;
    nat_udp_close(c->udp[f], on_udp_closed, c);
    c->udp[f] = NULL;
  }
  c->closing++;
  uv_close((uv_handle_t *)&c->deadline, on_closed);
}

static void maybe_finish(nc_ctx *c) {
  if (c->resolving == 0 && c->transactions == 0)
    finish(c);
}

static void on_deadline(uv_timer_t *t) {
  finish(t->data);
}

static void on_binding(nat_udp *u, void *arg, const nat_txn_result *r) {
  nc_probe *p = arg;
  nc_ctx *c = p->ctx;
  nat_obs o;
  nat_tstamp now = nat_udp_now();
  char a1[NAT_ADDR_STRLEN], a2[NAT_ADDR_STRLEN];
  (void)u;
  nat_obs_from_result(&o, r, &p->local);
  o.server_idx = p->server_idx;
  if (o.status == NAT_ECANCELED)
    o.status = NAT_ETIMEDOUT; /* ended by the overall deadline */
  if (now - c->start >= r->rtt)
    o.sent_at = now - c->start - r->rtt;
  record(c, &o);
  if (c->opt->verbose)
    fprintf(stderr, "netcheck: %s from %s: %s, mapped %s\n",
            c->opt->servers[p->server_idx].name,
            nat_addr_format(&r->dst, a1, sizeof a1), nat_strerror(o.status),
            nat_addr_format(&o.mapped, a2, sizeof a2));
  c->transactions--;
  maybe_finish(c);
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

static void start_probe(nc_ctx *c, uint16_t idx, const nat_addr *dst) {
  int f = fam_index(dst->family), rv;
  nc_probe *p = &c->probes[idx][f];
  p->ctx = c;
  p->server_idx = idx;
  p->local = c->udp_local[f];
  if (c->udp[f] == NULL) {
    record_failure(c, idx, dst, NULL, c->udp_err[f]);
    return;
  }
  if (nat_addr_is_unspecified(&p->local)) {
    nat_addr ip;
    rv = learn_local_ip(dst, &ip);
    if (rv < 0) {
      record_failure(c, idx, dst, &p->local, rv);
      return;
    }
    memcpy(p->local.ip, ip.ip, sizeof ip.ip);
  }
  rv = nat_udp_binding(c->udp[f], dst, 0, NULL, on_binding, p, NULL);
  if (rv < 0) {
    record_failure(c, idx, dst, &p->local, rv);
    return;
  }
  c->transactions++;
}

/* The first address of @p family in @p r, or NULL. */
static const nat_addr *first_of(const nat_resolve_result *r, uint8_t family) {
  size_t i;
  for (i = 0; i < r->naddrs; i++)
    if (r->addrs[i].family == family)
      return &r->addrs[i];
  return NULL;
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
    if (r->status == 0)
      s->no_family = c->opt->want_v4 ? NAT_AF_INET : NAT_AF_INET6;
    record_failure(c, l->server_idx, NULL, NULL,
                   r->status != 0 ? r->status : NAT_ENOTFOUND);
  }
  if (a4 != NULL)
    start_probe(c, l->server_idx, a4);
  if (a6 != NULL)
    start_probe(c, l->server_idx, a6);
  maybe_finish(c);
}

static nat_txn_config txn_config(unsigned timeout_ms) {
  nat_txn_config t;
  /* 4 sends at 0, 1, 3, 7 RTO, give up at 11 RTO: RTO = deadline / 12
   * leaves one RTO of slack before the deadline */
  nat_tstamp rto = (nat_tstamp)timeout_ms * NAT_MILLISECONDS / 12;
  if (rto > 500 * NAT_MILLISECONDS)
    rto = 500 * NAT_MILLISECONDS;
  if (rto < 5 * NAT_MILLISECONDS)
    rto = 5 * NAT_MILLISECONDS;
  memset(&t, 0, sizeof t);
  t.rto = rto;
  t.rto_min = rto < 50 * NAT_MILLISECONDS ? rto : 50 * NAT_MILLISECONDS;
  t.rto_max = 8 * rto;
  t.rc = 4;
  t.rm = 4;
  return t;
}

static void open_socket(nc_ctx *c, uint8_t family) {
  nat_udp_config cfg;
  int f = fam_index(family), rv;
  memset(&cfg, 0, sizeof cfg);
  if (c->opt->has_bind)
    cfg.bind = c->opt->bind;
  else
    cfg.bind.family = family;
  cfg.txn = txn_config(c->opt->timeout_ms);
  cfg.software = c->opt->software;
  rv = nat_udp_new(&c->udp[f], &c->loop, &cfg);
  if (rv == 0)
    rv = nat_udp_local_addr(c->udp[f], &c->udp_local[f]);
  if (rv < 0) {
    c->udp_err[f] = rv;
    if (c->udp[f] != NULL) {
      c->closing++;
      nat_udp_close(c->udp[f], on_udp_closed, c);
      c->udp[f] = NULL;
    }
    if (c->opt->verbose)
      fprintf(stderr, "netcheck: cannot open an %s socket: %s\n",
              family == NAT_AF_INET ? "IPv4" : "IPv6", nat_strerror(rv));
  }
}

static int open_sockets(nc_ctx *c) {
  int f;
  if (c->opt->want_v4)
    open_socket(c, NAT_AF_INET);
  if (c->opt->want_v6)
    open_socket(c, NAT_AF_INET6);
  if (c->udp[FAM_V4] != NULL || c->udp[FAM_V6] != NULL)
    return 0;
  f = c->opt->want_v4 ? FAM_V4 : FAM_V6;
  fprintf(stderr, "netcheck: cannot open a UDP socket: %s\n",
          nat_strerror(c->udp_err[f]));
  return c->udp_err[f] < 0 ? c->udp_err[f] : NAT_EINVAL;
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
      record_failure(c, (uint16_t)i, NULL, NULL, rv);
      continue;
    }
    s->resolving = true;
    c->resolving++;
  }
}

static int obs_cmp(const void *pa, const void *pb) {
  const nat_obs *a = pa, *b = pb;
  uint8_t fa = nat_obs_family(a), fb = nat_obs_family(b);
  if (a->server_idx != b->server_idx)
    return a->server_idx < b->server_idx ? -1 : 1;
  if (fa != fb)
    return fa < fb ? -1 : 1;
  return a->sent_at < b->sent_at ? -1 : a->sent_at > b->sent_at;
}

static int run_loop(nc_ctx *c) {
  int rv = open_sockets(c);
  if (rv < 0) {
    finish(c);
    uv_run(&c->loop, UV_RUN_DEFAULT);
    return rv;
  }
  start_lookups(c);
  uv_timer_start(&c->deadline, on_deadline, c->opt->timeout_ms, 0);
  maybe_finish(c);
  uv_run(&c->loop, UV_RUN_DEFAULT);
  return 0;
}

int nc_run(nc_options *opt, nc_result *res) {
  nc_ctx *c = calloc(1, sizeof *c);
  int rv;
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
  uv_timer_init(&c->loop, &c->deadline);
  c->deadline.data = c;
  rv = run_loop(c);
  res->duration = nat_udp_now() - c->start;
  /* With a lookup still under way the loop cannot close; the process is
   * about to exit, so it is left as it is. */
  if (c->resolving == 0)
    uv_loop_close(&c->loop);
  if (rv == 0 && c->fatal < 0) {
    rv = c->fatal;
    fprintf(stderr, "netcheck: %s\n", nat_strerror(rv));
  }
  if (c->resolving == 0)
    free(c);
  if (rv < 0)
    return rv;
  qsort(res->log.v, res->log.n, sizeof *res->log.v, obs_cmp);
  rv = nat_analyze_basic(&res->analysis, &res->log);
  if (rv < 0)
    fprintf(stderr, "netcheck: %s\n", nat_strerror(rv));
  return rv;
}
