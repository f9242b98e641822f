/* The netcheck driver (nat/netcheck.h) on a real loop against a STUN
 * server on the loopback interface (port 0): a whole run and its verdict,
 * sockets bound to the route's source address (or the bind address),
 * the datagram hook, the deadline, lookups that fail, close before the
 * end, and the arguments refused at once (no callback then). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "nat/error.h"
#include "nat/netcheck.h"
#include "nat/stunsrv.h"
#include "nat/udp.h"

typedef struct fx {
  uv_loop_t loop;
  nat_udp *srv; /* the STUN server */
  nat_addr srv_addr;
  bool answer;      /* the server answers */
  unsigned served;  /* requests it answered */
  char name[64];    /* "127.0.0.1:PORT" */
  int done, closed; /* callbacks seen */
  int status;
  unsigned datagrams;
  nat_netcheck_result res; /* what done saw (log and verdict taken) */
} fx;

static void srv_recv(nat_udp *u, void *arg, const nat_addr *from,
                     const uint8_t *buf, size_t len, const nat_stun_msg *msg) {
  fx *f = arg;
  nat_stunsrv_opts o;
  nat_stunsrv_reply where;
  uint8_t out[600];
  ssize_t n;
  (void)msg; /* classic RFC 3489 requests come undecoded */
  memset(&o, 0, sizeof o);
  o.local = &f->srv_addr;
  n = nat_stunsrv_respond(&o, from, buf, len, out, sizeof out, &where);
  if (n > 0 && f->answer) {
    f->served++;
    assert_int_equal(nat_udp_send(u, &where.dst, out, (size_t)n), 0);
  }
}

static int setup(void **state) {
  fx *f = calloc(1, sizeof *f);
  nat_udp_config cfg;
  assert_non_null(f);
  assert_int_equal(uv_loop_init(&f->loop), 0);
  memset(&cfg, 0, sizeof cfg);
  assert_int_equal(nat_addr_parse(&cfg.bind, "127.0.0.1:0", 0), 0);
  assert_int_equal(nat_udp_new(&f->srv, &f->loop, &cfg), 0);
  assert_int_equal(nat_udp_local_addr(f->srv, &f->srv_addr), 0);
  nat_udp_set_recv_cb(f->srv, srv_recv, f);
  snprintf(f->name, sizeof f->name, "127.0.0.1:%u", f->srv_addr.port);
  f->answer = true;
  nat_obslog_init(&f->res.log);
  nat_verdict_init(&f->res.verdict);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fx *f = *state;
  nat_udp_close(f->srv, NULL, NULL);
  assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(uv_loop_close(&f->loop), 0);
  nat_obslog_free(&f->res.log);
  nat_verdict_free(&f->res.verdict);
  free(f);
  return 0;
}

static void on_closed(nat_netcheck *nc, void *arg) {
  fx *f = arg;
  (void)nc;
  f->closed++;
}

/* Take the log and the verdict (as the header allows), copy the rest. */
static void on_done(nat_netcheck *nc, void *arg, nat_netcheck_result *r,
                    int status) {
  fx *f = arg;
  nat_obslog log = r->log;
  nat_verdict v = r->verdict;
  f->done++;
  f->status = status;
  nat_obslog_init(&r->log);
  nat_verdict_init(&r->verdict);
  f->res = *r;
  f->res.log = log;
  f->res.verdict = v;
  nat_netcheck_close(nc, on_closed, f);
}

static void on_datagram(void *arg, const nat_addr *src, const nat_addr *dst,
                        const uint8_t *buf, size_t len) {
  fx *f = arg;
  assert_true(nat_stun_is_stun(buf, len));
  assert_int_equal(src->family, NAT_AF_INET);
  assert_int_equal(dst->family, NAT_AF_INET);
  f->datagrams++;
}

static void config(fx *f, nat_netcheck_server *s, nat_netcheck_config *cfg) {
  memset(s, 0, sizeof *s);
  memset(cfg, 0, sizeof *cfg);
  s->name = f->name;
  cfg->servers = s;
  cfg->nservers = 1;
  cfg->done = on_done;
  cfg->arg = f;
  cfg->no_portmap = true; /* never ask the machine's real gateway */
}

static void run(fx *f, const nat_netcheck_config *cfg) {
  nat_netcheck *nc;
  assert_int_equal(nat_netcheck_new(&nc, &f->loop, cfg), 0);
  while (f->closed == 0)
    assert_int_not_equal(uv_run(&f->loop, UV_RUN_ONCE), 0);
  assert_int_equal(f->done, 1);
  assert_int_equal(f->closed, 1);
}

/* Every observation left from 127.0.0.1: the route's source address (or
 * the bind address), never the unspecified one. */
static void expect_bound(const fx *f) {
  char ip[NAT_ADDR_STRLEN];
  size_t i;
  assert_true(f->res.log.n > 0);
  for (i = 0; i < f->res.log.n; i++) {
    assert_string_equal(
        nat_addr_format_ip(&f->res.log.v[i].local, ip, sizeof ip), "127.0.0.1");
    assert_int_not_equal(f->res.log.v[i].local.port, 0);
  }
}

/* A whole run with the default tests against a plain (not RFC 5780)
 * server: reachable, no NAT (mapped == local on the loopback), every
 * socket bound to the route's source IP, every datagram told. */
static void test_run(void **state) {
  fx *f = *state;
  nat_netcheck_server s;
  nat_netcheck_config cfg;
  size_t i, basic = 0, alloc = 0;
  (void)state;
  config(f, &s, &cfg);
  cfg.on_datagram = on_datagram;
  cfg.software = "test_netcheck";
  run(f, &cfg);
  assert_int_equal(f->status, 0);
  assert_true(f->res.probed);
  assert_true(f->res.verdict.basic.udp_reachable);
  assert_int_equal(f->res.verdict.basic.nat_present, NAT_TRI_NO);
  assert_int_equal(f->res.verdict.basic.nservers, 1);
  assert_int_equal(f->res.lookups[0].status, 0);
  assert_int_equal(f->res.lookups[0].naddrs, 1);
  assert_true(nat_addr_equal(&f->res.lookups[0].addrs[0], &f->srv_addr));
  assert_int_equal(f->res.nservers, 1);
  expect_bound(f);
  for (i = 0; i < f->res.log.n; i++) {
    const nat_obs *o = &f->res.log.v[i];
    if (o->change_flags != 0) {
      /* the filtering test's change requests leave at t0, before the plan
       * knows the server does no RFC 5780: refused, and unused */
      assert_int_equal(o->test, NAT_OBS_FILTERING);
      assert_true(o->status == NAT_ESTUNERR || o->status == 0);
      continue;
    }
    assert_int_equal(o->status, 0);
    assert_true(nat_addr_equal(&o->mapped, &o->local));
    basic += o->test == NAT_OBS_BASIC;
    alloc += o->test == NAT_OBS_ALLOCATION;
  }
  assert_int_equal(basic, 1);
  assert_true(alloc >= NAT_PROBE_ALLOC_DEFAULT);
  assert_int_equal(f->res.tests[NAT_OBS_BASIC].transactions, 1);
  assert_non_null(f->res.tests[NAT_OBS_FILTERING].skipped);
  assert_int_equal(f->res.verdict.filtering, NAT_BEH_UNKNOWN);
  /* the hop probe ran beside: on the loopback TTL 1 reaches the server;
   * its answers never reached the plan (nothing unmatched) nor
   * on_datagram */
  assert_int_equal(f->res.hops.target.family, NAT_AF_INET);
  assert_int_equal(f->res.hops.reached_ttl, 1);
  assert_int_equal(f->res.hops.n, 1);
  assert_int_equal(f->res.hops.hop[0].kind, NAT_HOP_SERVER);
  assert_int_equal(f->res.hops.hop[0].space, NAT_SPACE_LOOPBACK);
  assert_int_equal(f->res.stats.unmatched, 0);
  assert_true(f->res.stats.responses + f->res.hops.answers <= f->served);
  assert_true(f->datagrams >= 2 * f->res.stats.responses);
  assert_int_equal(f->res.send_errors, 0);
  assert_int_equal(f->res.hop_send_errors, 0);
  assert_true(f->res.duration > 0);
  /* loopback: neither public nor a second NAT */
  assert_int_equal(f->res.verdict.double_nat, NAT_TRI_UNKNOWN);
  assert_non_null(strstr(f->res.verdict.double_nat_reason, "cannot tell"));
}

/* Without the hop probe: each answered request is one datagram out and
 * one in, and the hop list says it did not run. A retransmission (a slow
 * run, e.g. under valgrind, outlasts the RTO measured on the loopback) may
 * be answered too (a late duplicate), or still be on its way at the end. */
static void test_no_hops(void **state) {
  fx *f = *state;
  nat_netcheck_server s;
  nat_netcheck_config cfg;
  config(f, &s, &cfg);
  cfg.on_datagram = on_datagram;
  cfg.no_hops = true;
  run(f, &cfg);
  assert_int_equal(f->status, 0);
  assert_int_equal(f->res.hops.target.family, NAT_AF_NONE);
  assert_true(f->res.stats.responses <= f->served);
  assert_true(f->served <= f->res.stats.responses + f->res.stats.retransmits);
  assert_true(f->datagrams >= f->served + f->res.stats.responses);
  cfg.hops_max_ttl = NAT_HOPS_MAX + 1;
  {
    nat_netcheck *nc;
    assert_int_equal(nat_netcheck_new(&nc, &f->loop, &cfg), NAT_EINVAL);
  }
}

/* With a bind address, sockets bind to it (port 0: the kernel's). */
static void test_bind(void **state) {
  fx *f = *state;
  nat_netcheck_server s;
  nat_netcheck_config cfg;
  config(f, &s, &cfg);
  cfg.tests = NAT_PROBE_BASIC;
  assert_int_equal(nat_addr_parse(&cfg.bind, "127.0.0.1", 0), 0);
  run(f, &cfg);
  assert_int_equal(f->status, 0);
  assert_int_equal(f->res.log.n, 1);
  expect_bound(f);
  assert_true(f->res.verdict.basic.udp_reachable);
}

/* A server that never answers: the deadline ends the run; the requests
 * under way are recorded as ended, nothing reachable. */
static void test_deadline(void **state) {
  fx *f = *state;
  nat_netcheck_server s;
  nat_netcheck_config cfg;
  size_t i;
  f->answer = false;
  config(f, &s, &cfg);
  cfg.tests = NAT_PROBE_BASIC;
  cfg.timeout = 60 * NAT_MILLISECONDS;
  run(f, &cfg);
  assert_int_equal(f->status, 0);
  assert_false(f->res.verdict.basic.udp_reachable);
  assert_int_equal(f->res.log.n, 1);
  for (i = 0; i < f->res.log.n; i++)
    assert_true(f->res.log.v[i].status == NAT_ETIMEDOUT ||
                f->res.log.v[i].status == NAT_ECANCELED);
  assert_int_equal(f->served, 0);
}

/* Names that give no address: the failures are in the log (no server
 * address), the lookups say why, and the plan never runs. */
static void test_lookups_fail(void **state) {
  fx *f = *state;
  nat_netcheck_server s[2];
  nat_netcheck_config cfg;
  config(f, &s[0], &cfg);
  s[0].name = "bad name";
  s[1].name = "[::1]:3478";
  s[1].rfc5780 = false;
  cfg.nservers = 2;
  cfg.family = NAT_AF_INET; /* ::1 has no IPv4 address */
  run(f, &cfg);
  assert_int_equal(f->status, 0);
  assert_false(f->res.probed);
  assert_false(f->res.verdict.basic.udp_reachable);
  assert_int_equal(f->res.lookups[0].status, NAT_EBADADDR);
  assert_int_equal(f->res.lookups[0].naddrs, 0);
  assert_int_equal(f->res.lookups[1].no_family, NAT_AF_INET);
  assert_int_equal(f->res.lookups[1].naddrs, 0);
  assert_int_equal(f->res.lookups[1].uv_status, 0);
  assert_int_equal(f->res.log.n, 2);
  assert_int_equal(f->res.log.v[0].server.family, NAT_AF_NONE);
  assert_int_equal(f->res.log.v[0].status, NAT_EBADADDR);
  assert_int_equal(f->res.log.v[1].server_idx, 1);
}

/* Close before the end: done(NAT_ECANCELED), then the close callback. */
static void test_close_early(void **state) {
  fx *f = *state;
  nat_netcheck_server s;
  nat_netcheck_config cfg;
  nat_netcheck *nc;
  f->answer = false;
  config(f, &s, &cfg);
  cfg.done = on_done;
  assert_int_equal(nat_netcheck_new(&nc, &f->loop, &cfg), 0);
  assert_int_equal(uv_run(&f->loop, UV_RUN_NOWAIT), 1); /* lookup, plan */
  nat_netcheck_close(nc, on_closed, f);
  nat_netcheck_close(nc, on_closed, f); /* a second call does nothing */
  assert_int_equal(f->done, 0);         /* never from inside the call */
  while (f->closed == 0)
    assert_int_not_equal(uv_run(&f->loop, UV_RUN_ONCE), 0);
  assert_int_equal(f->done, 1);
  assert_int_equal(f->closed, 1);
  assert_int_equal(f->status, NAT_ECANCELED);
  assert_false(f->res.verdict.basic.udp_reachable);
}

static void test_refused_at_once(void **state) {
  fx *f = *state;
  nat_netcheck_server s, many[NAT_NETCHECK_MAX_SERVERS + 1];
  nat_netcheck_config cfg;
  nat_netcheck *nc = NULL;
  config(f, &s, &cfg);
  assert_int_equal(nat_netcheck_new(NULL, &f->loop, &cfg), NAT_EINVAL);
  assert_int_equal(nat_netcheck_new(&nc, NULL, &cfg), NAT_EINVAL);
  assert_int_equal(nat_netcheck_new(&nc, &f->loop, NULL), NAT_EINVAL);
  cfg.done = NULL;
  assert_int_equal(nat_netcheck_new(&nc, &f->loop, &cfg), NAT_EINVAL);
  config(f, &s, &cfg);
  cfg.nservers = 0;
  assert_int_equal(nat_netcheck_new(&nc, &f->loop, &cfg), NAT_EINVAL);
  memset(many, 0, sizeof many);
  cfg.servers = many;
  cfg.nservers = NAT_NETCHECK_MAX_SERVERS + 1;
  assert_int_equal(nat_netcheck_new(&nc, &f->loop, &cfg), NAT_EINVAL);
  config(f, &s, &cfg);
  s.name = NULL;
  assert_int_equal(nat_netcheck_new(&nc, &f->loop, &cfg), NAT_EINVAL);
  config(f, &s, &cfg);
  cfg.alloc_samples = NAT_PROBE_ALLOC_MAX + 1;
  assert_int_equal(nat_netcheck_new(&nc, &f->loop, &cfg), NAT_EINVAL);
  config(f, &s, &cfg);
  cfg.family = NAT_AF_INET6;
  assert_int_equal(nat_addr_parse(&cfg.bind, "127.0.0.1", 0), 0);
  assert_int_equal(nat_netcheck_new(&nc, &f->loop, &cfg), NAT_EINVAL);
  config(f, &s, &cfg);
  assert_int_equal(nat_addr_parse(&cfg.bind, "192.0.2.1", 0), 0);
  assert_int_equal(nat_netcheck_new(&nc, &f->loop, &cfg), UV_EADDRNOTAVAIL);
  assert_null(nc);
  assert_int_equal(uv_run(&f->loop, UV_RUN_NOWAIT), 1); /* the server only */
  assert_int_equal(f->done, 0);
  nat_netcheck_close(NULL, NULL, NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_no_hops, setup, teardown),
      cmocka_unit_test_setup_teardown(test_run, setup, teardown),
      cmocka_unit_test_setup_teardown(test_bind, setup, teardown),
      cmocka_unit_test_setup_teardown(test_deadline, setup, teardown),
      cmocka_unit_test_setup_teardown(test_lookups_fail, setup, teardown),
      cmocka_unit_test_setup_teardown(test_close_early, setup, teardown),
      cmocka_unit_test_setup_teardown(test_refused_at_once, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
