/* netcheck -- the live run: libnat's netcheck driver (nat/netcheck.h) on
 * a loop of its own, --record's capture of what it sends and receives,
 * and what it found moved into the report's result. */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

#include <nat/error.h>
#include <nat/netcheck.h>

#include "netcheck.h"

typedef struct nc_live {
  uv_loop_t loop;
  nc_options *opt;
  nc_result *res;
  nat_capture_writer *rec; /* --record */
  int status;
  bool done, closed;
} nc_live;

static void on_socket_error(void *arg, uint8_t family, int status) {
  nc_live *l = arg;
  if (l->opt->verbose)
    fprintf(stderr, "netcheck: cannot open an %s socket: %s\n",
            family == NAT_AF_INET ? "IPv4" : "IPv6", nat_strerror(status));
}

/* --record: one STUN datagram with its real addresses and wall-clock
 * time. Write errors are sticky in the writer and reported when it
 * closes. */
static void on_datagram(void *arg, const nat_addr *src, const nat_addr *dst,
                        const uint8_t *buf, size_t len) {
  nc_live *l = arg;
  struct timespec ts;
  if (l->rec == NULL || !nat_stun_is_stun(buf, len) ||
      src->family != dst->family)
    return;
  clock_gettime(CLOCK_REALTIME, &ts);
  (void)nat_capture_writer_write(
      l->rec, (nat_tstamp)ts.tv_sec * NAT_SECONDS + (nat_tstamp)ts.tv_nsec, src,
      dst, buf, len);
}

/* Take the log and the verdict, copy the rest, and keep per server what
 * its lookup gave (the reports name the reason). */
static void on_done(nat_netcheck *nc, void *arg, nat_netcheck_result *r,
                    int status) {
  nc_live *l = arg;
  nc_result *res = l->res;
  size_t i;
  (void)nc;
  l->done = true;
  l->status = status;
  res->log = r->log;
  nat_obslog_init(&r->log);
  res->verdict = r->verdict;
  nat_verdict_init(&r->verdict);
  res->diag.malformed = r->stats.malformed;
  res->diag.spoofed = r->stats.spoofed;
  res->diag.unmatched = r->stats.unmatched;
  res->diag.duplicates = r->stats.duplicates;
  res->diag.not_response = r->stats.not_response;
  res->diag.send_errors = r->send_errors;
  memcpy(res->tests, r->tests, sizeof res->tests);
  res->probed = r->probed;
  res->duration = r->duration;
  res->hops = r->hops;
  res->hop_send_errors = r->hop_send_errors;
  res->portmap = r->portmap;
  for (i = 0; l->opt->verbose && i < res->log.n; i++)
    if (res->log.v[i].server.family != NAT_AF_NONE) /* not a failed lookup */
      nc_obs_trace(&res->log.v[i]);
  for (i = 0; i < l->opt->nservers; i++) {
    nc_server *s = &l->opt->servers[i];
    s->resolve_late = r->lookups[i].late;
    s->resolve_uv = r->lookups[i].uv_status;
    s->no_family = r->lookups[i].no_family;
  }
  /* A lookup still under way cannot be cancelled: the process is about to
   * exit, so the loop stops rather than wait for it. */
  uv_stop(&l->loop);
}

static void on_closed(nat_netcheck *nc, void *arg) {
  nc_live *l = arg;
  (void)nc;
  l->closed = true;
}

static void config_of(nc_live *l, nat_netcheck_server *srv,
                      nat_netcheck_config *cfg) {
  const nc_options *opt = l->opt;
  size_t i;
  memset(cfg, 0, sizeof *cfg);
  for (i = 0; i < opt->nservers; i++) {
    srv[i].name = opt->servers[i].name;
    srv[i].rfc5780 = opt->servers[i].rfc5780;
  }
  cfg->servers = srv;
  cfg->nservers = opt->nservers;
  if (opt->want_v4 != opt->want_v6)
    cfg->family = opt->want_v4 ? NAT_AF_INET : NAT_AF_INET6;
  if (opt->has_bind)
    cfg->bind = opt->bind;
  cfg->timeout = (nat_tstamp)opt->timeout_ms * NAT_MILLISECONDS;
  cfg->tests = opt->tests | NAT_PROBE_BASIC;
  cfg->alloc_samples = opt->alloc_samples;
  cfg->lifetime_max = (nat_tstamp)opt->lifetime_max_s * NAT_SECONDS;
  cfg->software = opt->software;
  cfg->no_hops = opt->no_hops;
  cfg->no_portmap = opt->no_portmap;
  cfg->portmap_test = opt->portmap_test;
  cfg->on_socket_error = on_socket_error;
  cfg->on_datagram = on_datagram;
  cfg->done = on_done;
  cfg->arg = l;
}

/* Start the run, then open --record's file (after the --bind check, as
 * nothing is sent before the loop runs). */
static int start(nc_live *l, nat_netcheck **nc) {
  nat_netcheck_server srv[NC_MAX_SERVERS];
  nat_netcheck_config cfg;
  char buf[NAT_ADDR_STRLEN];
  int rv;
  config_of(l, srv, &cfg);
  rv = nat_netcheck_new(nc, &l->loop, &cfg);
  if (rv < 0) {
    if (l->opt->has_bind)
      fprintf(stderr, "netcheck: cannot bind to %s: %s\n",
              nat_addr_format(&l->opt->bind, buf, sizeof buf),
              nat_strerror(rv));
    else
      fprintf(stderr, "netcheck: %s\n", nat_strerror(rv));
    return rv;
  }
  if (l->opt->record == NULL)
    return 0;
  rv = nat_capture_writer_open(&l->rec, l->opt->record, NAT_LINK_ETHERNET);
  if (rv < 0) {
    fprintf(stderr, "netcheck: cannot create --record file %s: %s\n",
            l->opt->record, nat_strerror(rv));
    nat_netcheck_close(*nc, on_closed, l);
    while (!l->closed && uv_run(&l->loop, UV_RUN_DEFAULT) != 0)
      ;
  }
  return rv;
}

/* No-family lookups are told on stderr as well as in the report. */
static void tell_no_family(const nc_options *opt) {
  char why[NC_ERRLEN];
  size_t i;
  for (i = 0; i < opt->nservers; i++)
    if (opt->servers[i].no_family != NAT_AF_NONE)
      fprintf(stderr, "netcheck: %s\n",
              nc_no_family_strerror(&opt->servers[i], why, sizeof why));
}

/* The loop closes once the handle has (not with a lookup under way: the
 * process is about to exit, so it is then left as it is). */
static void done_with(nc_live *l) {
  if (!l->closed)
    return;
  uv_loop_close(&l->loop);
  free(l);
}

int nc_run(nc_options *opt, nc_result *res) {
  nc_live *l = calloc(1, sizeof *l);
  nat_netcheck *nc = NULL;
  int rv, wrv;
  if (l == NULL) {
    fprintf(stderr, "netcheck: out of memory\n");
    return NAT_ENOMEM;
  }
  l->opt = opt;
  l->res = res;
  rv = uv_loop_init(&l->loop);
  if (rv < 0) {
    fprintf(stderr, "netcheck: cannot create an event loop: %s\n",
            nat_strerror(rv));
    free(l);
    return rv;
  }
  rv = start(l, &nc);
  if (rv < 0) {
    l->closed = l->closed || nc == NULL;
    done_with(l);
    return rv;
  }
  uv_run(&l->loop, UV_RUN_DEFAULT);
  rv = l->done ? l->status : NAT_EINVAL;
  nat_netcheck_close(nc, on_closed, l);
  uv_run(&l->loop, UV_RUN_NOWAIT); /* the close callbacks */
  tell_no_family(opt);
  wrv = nat_capture_writer_close(l->rec);
  done_with(l);
  if (rv < 0) {
    fprintf(stderr, "netcheck: %s\n", nat_strerror(rv));
    return rv;
  }
  if (wrv < 0) {
    fprintf(stderr, "netcheck: cannot write --record file %s: %s\n",
            opt->record, nat_strerror(wrv));
    return wrv;
  }
  return 0;
}
