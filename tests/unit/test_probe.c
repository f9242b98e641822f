/* Unit tests: the probe plan (nat/probe.h), end to end and sans I/O, on
 * the simulated network of probe_sim.h (a NAT model, a WAN with delay and
 * seeded loss, a fake RFC 5780 server, a fake clock). Each NAT kind is
 * checked on the actions and the observation log the plan produced, and on
 * the verdict computed from that log; the plan's schedule (when each
 * request leaves, when silence is trusted, when the report ends) at
 * several RTTs and with 10 % and 20 % loss each way. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "nat/error.h"
#include "nat/probe.h"
#include "nat/stun.h"
#include "nat/verdict.h"
#include "probe_sim.h"

/* The log's shape (nat/verdict.h): what was asked, from where, to where. */
static void check_shape(const world *w, const nat_kind *k) {
  const nat_obslog *log = nat_probe_log(w->p);
  const nat_obs *b = find(log, NAT_OBS_BASIC, 0, 0), *o;
  nat_addr ip2p1;
  size_t i;
  assert_non_null(b);
  assert_int_equal(b->status, 0);
  assert_int_equal(count(log, NAT_OBS_BASIC), 1);
  /* mapping: one socket (the basic one) to IP1:P1, IP2:P1, IP2:P2 */
  assert_int_equal(count(log, NAT_OBS_MAPPING), 3);
  nat_addr_set_v4(&ip2p1, IP2, P1);
  assert_true(
      nat_addr_equal(&find(log, NAT_OBS_MAPPING, 0, 0)->server, &b->server));
  assert_true(
      nat_addr_equal(&find(log, NAT_OBS_MAPPING, 0, 1)->server, &ip2p1));
  assert_true(nat_addr_equal(&find(log, NAT_OBS_MAPPING, 0, 2)->server,
                             &b->other_address));
  for (i = 0; i < 3; i++)
    assert_true(
        nat_addr_equal(&find(log, NAT_OBS_MAPPING, 0, i)->local, &b->local));
  /* filtering: a new socket, opening request, then the two changes */
  o = find(log, NAT_OBS_FILTERING, 0, 0);
  assert_non_null(o);
  assert_int_equal(o->status, 0);
  assert_false(nat_addr_equal(&o->local, &b->local));
  assert_non_null(find(log, NAT_OBS_FILTERING, 6, 0));
  assert_non_null(find(log, NAT_OBS_FILTERING, 2, 0));
  assert_true(
      nat_addr_equal(&find(log, NAT_OBS_FILTERING, 6, 0)->local, &o->local));
  assert_true(
      nat_addr_equal(&find(log, NAT_OBS_FILTERING, 6, 0)->server, &b->server));
  assert_int_equal(count(log, NAT_OBS_FILTERING), 3);
  /* allocation: the default fresh sockets + 3 more destinations from the
   * last one */
  assert_int_equal(count(log, NAT_OBS_ALLOCATION), NAT_PROBE_ALLOC_DEFAULT + 3);
  /* hairpin: a new socket to the basic socket's mapped address */
  if (k->nat) {
    o = find(log, NAT_OBS_HAIRPIN, 0, 0);
    assert_non_null(o);
    assert_true(nat_addr_equal(&o->server, &b->mapped));
  } else {
    assert_int_equal(count(log, NAT_OBS_HAIRPIN), 0);
  }
  for (i = 1; i < log->n; i++) /* ordered by sent_at */
    assert_true(log->v[i - 1].sent_at <= log->v[i].sent_at);
}

/* The behaviour as read directly from the log (independently of the
 * verdict code). */
static void check_log_behaviour(const world *w, const nat_kind *k) {
  const nat_obslog *log = nat_probe_log(w->p);
  const nat_obs *c6 = find(log, NAT_OBS_FILTERING, 6, 0);
  const nat_obs *c2 = find(log, NAT_OBS_FILTERING, 2, 0);
  const nat_obs *m0 = find(log, NAT_OBS_MAPPING, 0, 0);
  const nat_obs *m1 = find(log, NAT_OBS_MAPPING, 0, 1);
  const nat_obs *m2 = find(log, NAT_OBS_MAPPING, 0, 2);
  const nat_obs *h = find(log, NAT_OBS_HAIRPIN, 0, 0);
  if ((c6->status == 0) != (k->v_filtering == NAT_BEH_EI))
    fail_msg("%s: change IP status %s after %u transmissions (rng %llu)",
             k->name, nat_err_name(c6->status), c6->transmissions,
             (unsigned long long)w->rng);
  if ((c2->status == 0) != (k->v_filtering != NAT_BEH_APD))
    fail_msg("%s: change port status %s after %u transmissions (at %.1f ms)",
             k->name, nat_err_name(c2->status), c2->transmissions,
             (double)c2->sent_at / 1e6);
  if (c6->status == 0) {
    assert_false(nat_addr_equal_ip(&c6->from, &c6->server));
    assert_int_not_equal(c6->from.port, c6->server.port);
  } else {
    assert_int_equal(c6->status, NAT_ETIMEDOUT);
    assert_int_equal(c6->transmissions, 10); /* the copies (probe.h) */
  }
  assert_int_equal(nat_addr_equal(&m0->mapped, &m1->mapped),
                   k->v_mapping == NAT_BEH_EI);
  assert_int_equal(nat_addr_equal(&m1->mapped, &m2->mapped),
                   k->v_mapping != NAT_BEH_APD);
  if (h != NULL && (h->status == 0) != (k->v_hairpin == NAT_TRI_YES))
    fail_msg("%s: hairpin status %s", k->name, nat_err_name(h->status));
}

/* Fresh-socket allocation samples in order: the step is delta. */
static void check_alloc_steps(const world *w, int32_t delta) {
  const nat_obslog *log = nat_probe_log(w->p);
  const nat_obs *prev = NULL;
  size_t i, n = 0;
  for (i = 0; i < log->n && n < 8; i++) {
    const nat_obs *o = &log->v[i];
    if (o->test != NAT_OBS_ALLOCATION)
      continue;
    if (prev != NULL && !nat_addr_equal(&o->local, &prev->local))
      assert_int_equal((int32_t)o->mapped.port - (int32_t)prev->mapped.port,
                       delta);
    prev = o;
    n++;
  }
  assert_int_equal(n, 8);
}

static void check_verdict(const world *w, const nat_kind *k) {
  nat_verdict v;
  nat_verdict_init(&v);
  assert_int_equal(nat_verdict_compute(&v, nat_probe_log(w->p)), 0);
  if (v.mapping != k->v_mapping || v.filtering != k->v_filtering ||
      v.hairpinning != k->v_hairpin || v.alloc.kind != k->v_alloc)
    fail_msg("%s: verdict mapping %s filtering %s hairpin %s alloc %s", k->name,
             nat_beh_name(v.mapping), nat_beh_name(v.filtering),
             nat_tri_name(v.hairpinning), nat_pa_kind_name(v.alloc.kind));
  assert_true(v.rfc5780_used);
  if (k->v_alloc == NAT_PA_SEQUENTIAL)
    assert_int_equal(v.alloc.delta, k->delta);
  nat_verdict_free(&v);
}

static void run_kind(const nat_kind *k, nat_tstamp delay, double loss,
                     uint64_t seed, nat_tstamp *took) {
  world w;
  world_init(&w, k, delay, loss, seed);
  start(&w, one_server, 1, 0);
  run(&w);
  if (loss == 0)
    check_shape(&w, k);
  check_log_behaviour(&w, k);
  if (k->alloc == NAT_ALLOC_SEQUENTIAL && loss == 0)
    check_alloc_steps(&w, k->delta);
  check_verdict(&w, k);
  if (took != NULL)
    *took = w.end;
  world_free(&w);
}

static void test_every_kind(void **state) {
  size_t i;
  (void)state;
  for (i = 0; i < sizeof kinds / sizeof *kinds; i++)
    run_kind(&kinds[i], 20 * MS, 0, 1 + i, NULL);
}

/* 20 ms each way, no loss: the whole plan ends within 0.6 s even when it
 * must wait for silence (APD filtering, no hairpinning). */
static void test_time_budget(void **state) {
  nat_tstamp took;
  (void)state;
  run_kind(&kinds[2], 20 * MS, 0, 7, &took); /* port-restricted */
  print_message("port-restricted, 20 ms each way: %.1f ms simulated\n",
                (double)took / 1e6);
  assert_true(took < 600 * MS);
  run_kind(&kinds[6], 20 * MS, 0, 7, &took); /* symmetric */
  assert_true(took < 600 * MS);
}

/* The schedule at 40 ms RTT without loss (nat/probe.h), every kind: the
 * basic, filtering (opening and both change requests) and allocation
 * requests leave at t0, the mapping and hairpin tests at 1 RTT (when the
 * first answers bring OTHER-ADDRESS and the mappings), and the report
 * ends by 3 RTT: a change request or the hairpin request that nothing
 * answers ends at 1 RTT (start) + RTT / 2 (copies) + 1.5 RTT (silence). */
static void test_schedule(void **state) {
  const nat_tstamp rtt = 40 * MS;
  size_t i, k;
  (void)state;
  for (i = 0; i < sizeof kinds / sizeof *kinds; i++) {
    const nat_kind *kd = &kinds[i];
    const nat_obslog *log;
    world w;
    world_init(&w, kd, rtt / 2, 0, 40 + i);
    start(&w, one_server, 1, 0);
    run(&w);
    log = nat_probe_log(w.p);
    for (k = 0; k < log->n; k++) {
      const nat_obs *o = &log->v[k];
      nat_tstamp at =
          o->test == NAT_OBS_MAPPING || o->test == NAT_OBS_HAIRPIN ? rtt : 0;
      if (o->test == NAT_OBS_ALLOCATION && k + 3 >= log->n)
        continue; /* the last socket's extra destinations: after its answer */
      if (o->sent_at != at)
        fail_msg("%s: %s request sent at %.1f ms, not %.1f", kd->name,
                 nat_obs_test_name(o->test), (double)o->sent_at / 1e6,
                 (double)at / 1e6);
    }
    if (w.end > 3 * rtt)
      fail_msg("%s: the report took %.1f ms (> 3 RTT)", kd->name,
               (double)w.end / 1e6);
    check_verdict(&w, kd);
    world_free(&w);
  }
}

/* Silence as a result at 40 ms RTT (port-restricted, no hairpinning): the
 * change requests leave at t0 with the opening request, 10 copies each
 * over rto / 2 = 50 ms (the RTT is not known yet) and end as "no answer"
 * 1.5 RTT after the last copy; the hairpin request leaves at 1 RTT, 10
 * copies over RTT / 2 = 20 ms, and ends 1.5 RTT after the last. */
static void test_silence(void **state) {
  const nat_tstamp rtt = 40 * MS;
  const nat_obslog *log;
  const nat_obs *c6, *c2, *h, *open;
  world w;
  (void)state;
  world_init(&w, &kinds[2], rtt / 2, 0, 21);
  start(&w, one_server, 1, 0);
  run(&w);
  log = nat_probe_log(w.p);
  open = find(log, NAT_OBS_FILTERING, 0, 0);
  c6 = find(log, NAT_OBS_FILTERING, 6, 0);
  c2 = find(log, NAT_OBS_FILTERING, 2, 0);
  h = find(log, NAT_OBS_HAIRPIN, 0, 0);
  assert_non_null(h);
  assert_int_equal(open->sent_at, 0);
  assert_int_equal(c6->sent_at, 0);
  assert_int_equal(c2->sent_at, 0);
  assert_int_equal(c6->status, NAT_ETIMEDOUT);
  assert_int_equal(c2->status, NAT_ETIMEDOUT);
  assert_int_equal(c6->transmissions, 10);
  /* SF: the opening request and 2 x 10 copies, all within 50 ms */
  assert_int_equal(sends_from(&w, open->local.port, 0, 50 * MS), 21);
  assert_int_equal(sends_from(&w, open->local.port, 0, NAT_TSTAMP_MAX), 21);
  assert_int_equal(h->status, NAT_ETIMEDOUT);
  assert_int_equal(h->sent_at, rtt);
  assert_int_equal(h->transmissions, 10);
  /* B: its allocation request at t0, then the 10 copies in [RTT, 1.5 RTT] */
  assert_int_equal(sends_from(&w, h->local.port, rtt, rtt + rtt / 2), 10);
  assert_int_equal(sends_from(&w, h->local.port, 0, NAT_TSTAMP_MAX), 11);
  /* the last: the hairpin request, 1.5 RTT of silence after its copies */
  assert_true(w.end <= 3 * rtt && w.end + MS > 3 * rtt);
  assert_int_equal(nat_probe_rtt(w.p, NAT_AF_INET), rtt);
  world_free(&w);
}

/* A request sent before the RTT was known whose first transmission is
 * lost: once the RTT is known it is re-sent 1.5 RTT after its first
 * transmission (not after the 100 ms initial RTO), and its late answer
 * gives no RTT sample (Karn). */
static void test_replan(void **state) {
  const nat_tstamp rtt = 40 * MS;
  const nat_obslog *log;
  const nat_obs *o = NULL;
  nat_probe_stats st;
  uint64_t retx = 0;
  size_t i;
  world w;
  (void)state;
  world_init(&w, &kinds[0], rtt / 2, 0, 23); /* full cone */
  w.drop_sock = 5 + 1; /* an allocation socket's first request */
  start(&w, one_server, 1, 0);
  run(&w);
  log = nat_probe_log(w.p);
  for (i = 0; i < log->n; i++)
    if (log->v[i].test == NAT_OBS_ALLOCATION && log->v[i].transmissions > 1) {
      assert_null(o);
      o = &log->v[i];
    }
  assert_non_null(o);
  assert_int_equal(o->status, 0);
  assert_int_equal(o->sent_at, 0);
  assert_int_equal(o->transmissions, 2);
  assert_int_equal(o->rtt, rtt + rtt / 2 + rtt); /* from its first */
  assert_int_equal(sends_from(&w, o->local.port, 0, NAT_TSTAMP_MAX), 2);
  assert_int_equal(sends_from(&w, o->local.port, rtt + rtt / 2, rtt + rtt / 2),
                   1);
  assert_int_equal(nat_probe_rtt(w.p, NAT_AF_INET), rtt);
  /* the re-sent one counts as a retransmission, as every copy does */
  nat_probe_stats_get(w.p, &st);
  for (i = 0; i < log->n; i++)
    retx += log->v[i].transmissions - 1;
  assert_int_equal(st.retransmits, retx);
  check_verdict(&w, &kinds[0]);
  world_free(&w);
}

/* @p loss each way, @p seeds seeds for every kind: the verdict does not
 * change, and the run stays short; returns the slowest run. */
static nat_tstamp loss_runs(double loss, size_t seeds) {
  size_t i, seed;
  nat_tstamp took, worst = 0;
  for (seed = 1; seed <= seeds; seed++)
    for (i = 0; i < sizeof kinds / sizeof *kinds; i++) {
      run_kind(&kinds[i], 20 * MS, loss, seed * 100 + i, &took);
      if (took > worst)
        worst = took;
    }
  print_message("%.0f%% loss each way, %zu runs: slowest %.1f ms simulated\n",
                loss * 100, seeds * (sizeof kinds / sizeof *kinds),
                (double)worst / 1e6);
  return worst;
}

/* Other RTTs, without loss and with 10 % loss each way, every kind: the
 * verdicts stay right when the RTT is far below the initial RTO (2 ms: a
 * LAN, where rto_min sets the silence) or above it (300 ms: every early
 * request is retransmitted before the first answer, and the change
 * requests' copies end before the RTT is known); without loss the report
 * ends by 3 RTT, or by 80 ms on the LAN (the change requests' copies over
 * rto / 2 = 50 ms, then RTT + rto_min). */
static void test_rtts(void **state) {
  static const nat_tstamp oneway[3] = {1 * MS, 150 * MS, 250 * MS};
  nat_tstamp took, bound;
  size_t i, r, seed;
  (void)state;
  for (r = 0; r < 3; r++) {
    bound = 6 * oneway[r] > 80 * MS ? 6 * oneway[r] : 80 * MS;
    for (i = 0; i < sizeof kinds / sizeof *kinds; i++) {
      run_kind(&kinds[i], oneway[r], 0, 60 + i, &took);
      if (took > bound)
        fail_msg("%s, RTT %.0f ms: %.1f ms", kinds[i].name,
                 (double)(2 * oneway[r]) / 1e6, (double)took / 1e6);
      for (seed = 1; seed <= 20; seed++)
        run_kind(&kinds[i], oneway[r], 0.10, seed * 1000 + i, NULL);
    }
  }
}

/* 10 % loss each way (a round trip lost with p = 0.19): 1000 runs, every
 * verdict right, every run under 1 s. */
static void test_loss(void **state) {
  (void)state;
  assert_true(loss_runs(0.10, 100) < 1000 * MS);
}

/* 20 % loss each way (a round trip lost with p = 0.36): 1000 runs, every
 * verdict right (a wrong "filtered" or "no hairpinning" has p = 3.7e-5 a
 * test with 10 copies). */
static void test_loss20(void **state) {
  (void)state;
  assert_true(loss_runs(0.20, 100) < 1000 * MS);
}

/* The first actions: sockets opened in order, the basic request first,
 * then the filtering socket's, then 8 allocation requests back to back. */
static void test_first_actions(void **state) {
  world w;
  nat_probe_action a;
  unsigned opens = 0, sends = 0;
  nat_addr l;
  (void)state;
  world_init(&w, &kinds[2], 20 * MS, 0, 3);
  start(&w, one_server, 1, 0);
  while (nat_probe_next_action(w.p, 0, &a) > 0) {
    if (a.kind == NAT_PROBE_ACT_OPEN) {
      assert_int_equal(a.sock, opens);
      opens++;
      nat_addr_set_v4(&l, LANIP, (uint16_t)(40000 + a.sock));
      assert_int_equal(nat_probe_socket_opened(w.p, 0, a.sock, 0, &l), 0);
      continue;
    }
    /* one request per socket, in socket order, but the filtering socket
     * (1) sends its opening request and both change requests at once */
    assert_int_equal(a.sock, sends < 2 ? sends : sends < 4 ? 1 : sends - 2);
    assert_true(nat_stun_is_stun(a.data, a.len));
    sends++;
  }
  assert_int_equal(opens, 1 + 1 + NAT_PROBE_ALLOC_DEFAULT);
  assert_int_equal(sends, 4 + NAT_PROBE_ALLOC_DEFAULT);
  assert_false(nat_probe_done(w.p));
  /* the change requests' second copies are due first: 10 copies over half
   * the initial RTO (100 ms) while the RTT is unknown */
  assert_int_equal(nat_probe_get_expiry(w.p), 100 * MS / 2 / 9);
  /* a socket that is not waiting cannot be "opened" again */
  assert_int_equal(nat_probe_socket_opened(w.p, 0, 0, 0, &l), NAT_EINVAL);
  assert_int_equal(nat_probe_socket_opened(w.p, 0, 99, 0, &l), NAT_EINVAL);
  world_free(&w);
}

/* Hostile datagrams are counted and never trusted. */
static void test_hostile(void **state) {
  world w;
  nat_probe_stats st;
  nat_addr from, l;
  nat_probe_action a;
  uint8_t junk[64], req[128], fake[600];
  nat_stun_builder b;
  uint8_t tid[12] = {9};
  ssize_t n;
  (void)state;
  world_init(&w, &kinds[0], 20 * MS, 0, 5);
  start(&w, one_server, 1, NAT_PROBE_MAPPING);
  while (nat_probe_next_action(w.p, 0, &a) > 0)
    if (a.kind == NAT_PROBE_ACT_OPEN) {
      nat_addr_set_v4(&l, LANIP, (uint16_t)(40000 + a.sock));
      nat_probe_socket_opened(w.p, 0, a.sock, 0, &l);
    } else {
      memcpy(req, a.data, a.len);
    }
  nat_addr_set_v4(&from, IP1, P1);
  memset(junk, 0xAB, sizeof junk);
  assert_true(nat_probe_recv(w.p, 1, 0, &from, junk, sizeof junk) < 0);
  /* a response with an unknown ID */
  nat_stun_builder_init(&b, fake, sizeof fake, NAT_STUN_BINDING,
                        NAT_STUN_SUCCESS, tid);
  n = nat_stun_builder_finish(&b, true);
  assert_int_equal(nat_probe_recv(w.p, 1, 0, &from, fake, (size_t)n),
                   NAT_ENOTFOUND);
  /* the right ID from the wrong source */
  nat_stun_builder_init(&b, fake, sizeof fake, NAT_STUN_BINDING,
                        NAT_STUN_SUCCESS, req + 8);
  n = nat_stun_builder_finish(&b, true);
  nat_addr_set_v4(&from, IP2, P1);
  assert_int_equal(nat_probe_recv(w.p, 1, 0, &from, fake, (size_t)n),
                   NAT_EBADADDR);
  /* a Binding request on a socket that does not serve */
  nat_stun_builder_init(&b, fake, sizeof fake, NAT_STUN_BINDING,
                        NAT_STUN_REQUEST, tid);
  n = nat_stun_builder_finish(&b, true);
  assert_int_equal(nat_probe_recv(w.p, 1, 0, &from, fake, (size_t)n),
                   NAT_EINVAL);
  nat_probe_stats_get(w.p, &st);
  assert_int_equal(st.malformed, 1);
  assert_int_equal(st.unmatched, 1);
  assert_int_equal(st.spoofed, 1);
  assert_int_equal(st.not_response, 1);
  assert_int_equal(nat_probe_log(w.p)->n, 0); /* nothing was recorded */
  world_free(&w);
}

/* A server's answer names the addresses the plan sends to next
 * (OTHER-ADDRESS for the mapping test, the mapped address for the hairpin
 * test). One of the other family, with port 0 or unspecified is no
 * destination: the plan must not send there (found by fuzz_txn_probe: an
 * IPv6 OTHER-ADDRESS from an IPv4 server made the mapping test send from
 * the IPv4 socket to an IPv6 address). */
static void test_unusable_answer_address(void **state) {
  static const uint8_t v6[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 7};
  nat_addr bad[4], from, mapped, l;
  size_t i;
  (void)state;
  memset(bad, 0, sizeof bad);
  bad[0].family = NAT_AF_INET6; /* the other family */
  memcpy(bad[0].ip, v6, 16);
  bad[0].port = P2;
  nat_addr_set_v4(&bad[1], IP2, 0); /* port 0 */
  nat_addr_set_v4(&bad[2], 0, P2);  /* 0.0.0.0 */
  bad[3] = bad[0];                  /* the other family, as mapped */
  for (i = 0; i < 4; i++) {
    world w;
    nat_probe_action a;
    nat_stun_builder b;
    uint8_t req[128], resp[256];
    size_t reqlen = 0;
    unsigned sends = 0;
    ssize_t n;
    world_init(&w, &kinds[0], 20 * MS, 0, 7);
    start(&w, one_server, 1,
          i == 3 ? NAT_PROBE_HAIRPIN | NAT_PROBE_ALLOCATION
                 : NAT_PROBE_MAPPING);
    while (nat_probe_next_action(w.p, 0, &a) > 0)
      if (a.kind == NAT_PROBE_ACT_OPEN) {
        nat_addr_set_v4(&l, LANIP, (uint16_t)(40000 + a.sock));
        assert_int_equal(nat_probe_socket_opened(w.p, 0, a.sock, 0, &l), 0);
      } else if (a.sock == 0 && reqlen == 0) {
        memcpy(req, a.data, a.len);
        reqlen = a.len;
      }
    assert_true(reqlen > 0);
    /* S0's basic request answered: mapped address, OTHER-ADDRESS */
    nat_addr_set_v4(&mapped, 0xC6336401u, 6000);
    nat_stun_builder_init(&b, resp, sizeof resp, NAT_STUN_BINDING,
                          NAT_STUN_SUCCESS, req + 8);
    nat_stun_add_addr(&b, NAT_ATTR_XOR_MAPPED_ADDRESS,
                      i == 3 ? &bad[3] : &mapped);
    if (i < 3)
      nat_stun_add_addr(&b, NAT_ATTR_OTHER_ADDRESS, &bad[i]);
    n = nat_stun_builder_finish(&b, true);
    assert_true(n > 0);
    nat_addr_set_v4(&from, IP1, P1);
    assert_int_equal(nat_probe_recv(w.p, 20 * MS, 0, &from, resp, (size_t)n),
                     0);
    while (nat_probe_next_action(w.p, 20 * MS, &a) > 0) {
      if (a.kind != NAT_PROBE_ACT_SEND)
        continue;
      sends++;
      assert_int_equal(a.dst.family, NAT_AF_INET);
      assert_int_not_equal(a.dst.port, 0);
      assert_false(nat_addr_is_unspecified(&a.dst));
    }
    if (i < 3) { /* no mapping test towards it: it counts as absent */
      nat_probe_test_info inf;
      assert_int_equal(nat_probe_test_info_get(w.p, NAT_OBS_MAPPING, &inf), 0);
      assert_int_equal(inf.transactions, 0);
      assert_non_null(inf.skipped);
    }
    world_free(&w);
  }
}

/* A server without RFC 5780: the filtering test says why it did not run,
 * and with two servers the mapping test compares them. */
static void test_no_rfc5780(void **state) {
  static const nat_probe_server two[] = {
      {{NAT_AF_INET, P1, {203, 0, 113, 1}}, 0, false},
      {{NAT_AF_INET, P1, {203, 0, 113, 2}}, 1, false}};
  world w;
  nat_probe_test_info info;
  const nat_obslog *log;
  (void)state;
  world_init(&w, &kinds[6], 20 * MS, 0, 11); /* symmetric */
  w.rfc5780 = false;
  start(&w, two, 2, 0);
  run(&w);
  log = nat_probe_log(w.p);
  assert_int_equal(count(log, NAT_OBS_BASIC), 2);
  assert_int_equal(count(log, NAT_OBS_MAPPING), 2);
  /* the opening and the change requests sent at t0, before the plan knew
   * that no server does RFC 5780: unusable, so filtering stays unknown */
  assert_int_equal(count(log, NAT_OBS_FILTERING), 3);
  assert_int_equal(nat_analyze_filtering(log), NAT_BEH_UNKNOWN);
  assert_int_equal(nat_probe_test_info_get(w.p, NAT_OBS_FILTERING, &info), 0);
  assert_non_null(info.skipped);
  assert_int_not_equal(find(log, NAT_OBS_MAPPING, 0, 0)->mapped.port,
                       find(log, NAT_OBS_MAPPING, 0, 1)->mapped.port);
  /* two server IPs, one port each: the mapping changed with the IP, AD
   * and APD not told apart (nat/verdict.h) */
  assert_int_equal(nat_analyze_mapping(log, &(bool){false}), NAT_BEH_DEPENDENT);
  world_free(&w);
}

/* A server that ignores CHANGE-REQUEST and answers from its primary
 * address: recorded (obs.from), never read as endpoint-independent. */
static void test_ignores_change(void **state) {
  world w;
  const nat_obs *c6;
  (void)state;
  world_init(&w, &kinds[0], 20 * MS, 0, 13); /* full cone */
  w.ignore_change = true;
  start(&w, one_server, 1, NAT_PROBE_FILTERING);
  run(&w);
  c6 = find(nat_probe_log(w.p), NAT_OBS_FILTERING, 6, 0);
  assert_non_null(c6);
  assert_int_equal(c6->status, 0);
  assert_true(nat_addr_equal(&c6->from, &c6->server));
  assert_int_equal(nat_analyze_filtering(nat_probe_log(w.p)), NAT_BEH_UNKNOWN);
  world_free(&w);
}

/* The forced RFC 5780 server is used even when another one is first. */
static void test_forced_server(void **state) {
  static const nat_probe_server two[] = {
      {{NAT_AF_INET, P1, {203, 0, 113, 2}}, 0, false},
      {{NAT_AF_INET, P2, {203, 0, 113, 1}}, 1, true}};
  world w;
  const nat_obslog *log;
  size_t i;
  (void)state;
  world_init(&w, &kinds[2], 20 * MS, 0, 17);
  start(&w, two, 2, NAT_PROBE_MAPPING | NAT_PROBE_FILTERING);
  run(&w);
  log = nat_probe_log(w.p);
  for (i = 0; i < log->n; i++)
    if (log->v[i].test == NAT_OBS_FILTERING ||
        (log->v[i].test == NAT_OBS_MAPPING && log->v[i].server.port == P2))
      assert_int_equal(log->v[i].server_idx, 1);
  assert_int_equal(count(log, NAT_OBS_MAPPING), 3);
  assert_int_equal(nat_analyze_filtering(log), NAT_BEH_APD);
  world_free(&w);
}

/* Lifetime: with a 30 s NAT timeout the ladder brackets it, within the
 * bound; a server that drops RESPONSE-PORT makes the test say so. */
static void test_lifetime(void **state) {
  world w;
  const nat_obslog *log;
  nat_tstamp alive = 0, dead = NAT_TSTAMP_MAX;
  nat_probe_test_info info;
  size_t i;
  (void)state;
  world_init(&w, &kinds[2], 20 * MS, 0, 19);
  start(&w, one_server, 1, NAT_PROBE_LIFETIME);
  run(&w);
  log = nat_probe_log(w.p);
  for (i = 0; i < log->n; i++) {
    const nat_obs *o = &log->v[i];
    if (o->test != NAT_OBS_LIFETIME || o->response_port == 0 || o->idle == 0)
      continue;
    if (o->status == 0 && o->idle > alive)
      alive = o->idle;
    if (o->status != 0 && o->idle < dead)
      dead = o->idle;
  }
  print_message("lifetime 30 s: alive at %.1f s, gone at %.1f s, run %.1f s\n",
                (double)alive / 1e9, (double)dead / 1e9, (double)w.end / 1e9);
  assert_true(alive < 30 * NAT_SECONDS && alive >= 20 * NAT_SECONDS);
  /* the real idle time counts from X_k's request, the rung from its answer
   * one round trip (2 x 20 ms) later */
  assert_true(dead > 30 * NAT_SECONDS && dead <= 40 * NAT_SECONDS + 40 * MS);
  assert_true(w.end < 41 * NAT_SECONDS);
  world_free(&w);

  world_init(&w, &kinds[2], 20 * MS, 0, 23);
  w.no_response_port = true;
  start(&w, one_server, 1, NAT_PROBE_LIFETIME);
  run(&w);
  assert_int_equal(nat_probe_test_info_get(w.p, NAT_OBS_LIFETIME, &info), 0);
  assert_non_null(info.skipped);
  assert_true(w.end < 2 * NAT_SECONDS); /* the ladder was called off */
  world_free(&w);
}

/* The idle time a lifetime probe really had, from what the plan handed
 * out: its first transmission (the first request with its RESPONSE-PORT,
 * X_k's mapped port, which is X_k's local port: ports are preserved) minus
 * X_k's last datagram out before it. */
static nat_tstamp real_idle(const world *w, uint16_t rp) {
  nat_tstamp first = 0, last_out = 0;
  size_t i;
  for (i = 0; i < w->nsent && first == 0; i++)
    if (w->sent[i].rp == rp)
      first = w->sent[i].at;
  assert_true(first != 0);
  for (i = 0; i < w->nsent; i++)
    if (w->sent[i].sport == rp && w->sent[i].at <= first)
      last_out = w->sent[i].at;
  assert_true(last_out != 0);
  return first - last_out;
}

/* One lifetime run with a 30 s NAT timeout: every ladder probe records
 * the idle time it really had (never less than its rung), and the
 * verdict's bracket holds the timeout. */
static void lifetime_checked(world *w, unsigned *late_probes,
                             unsigned *retried) {
  const nat_obslog *log;
  nat_verdict v;
  size_t i;
  unsigned probes = 0;
  start(w, one_server, 1, NAT_PROBE_LIFETIME);
  run(w);
  assert_true(w->nsent < SENT_MAX);
  log = nat_probe_log(w->p);
  for (i = 0; i < log->n; i++) {
    const nat_obs *o = &log->v[i];
    nat_tstamp want;
    if (o->test != NAT_OBS_LIFETIME || o->response_port == 0 || o->idle == 0)
      continue;
    probes++;
    want = real_idle(w, o->response_port);
    if (o->idle != want)
      fail_msg("probe to port %u: idle %.3f s recorded, %.3f s real",
               o->response_port, (double)o->idle / 1e9, (double)want / 1e9);
    *late_probes += o->idle >= 5 * NAT_SECONDS / 2 + w->late;
    *retried += o->status == 0 && o->transmissions > 1;
  }
  assert_int_equal(probes, NAT_PROBE_LIFETIME_STEPS);
  nat_verdict_init(&v);
  assert_int_equal(nat_verdict_compute(&v, log), 0);
  print_message("late %.1f s: lifetime %.3f .. %.3f s (NAT: 30 s)\n",
                (double)w->late / 1e9, (double)v.lifetime_min / 1e9,
                (double)v.lifetime_max / 1e9);
  assert_true(v.lifetime_min > 0 && v.lifetime_min <= 30 * NAT_SECONDS);
  assert_true(v.lifetime_max >= 30 * NAT_SECONDS);
  nat_verdict_free(&v);
}

/* The plan's timers run 4 s late (a loaded machine): the rung planned at
 * 26.7 s really idles 30.7 s and finds the 30 s mapping gone. Recording
 * the planned idle would claim "gone after 26.7 s", below the real
 * timeout; the real idle keeps the bracket right. */
static void test_lifetime_late(void **state) {
  world w;
  unsigned late = 0, retried = 0;
  (void)state;
  world_init(&w, &kinds[2], 20 * MS, 0, 31);
  w.late = 4 * NAT_SECONDS;
  lifetime_checked(&w, &late, &retried);
  assert_true(late > 0);
  world_free(&w);
}

/* The first transmission of every probe is lost: answered probes are
 * answered on a retransmission, and still record the idle time of their
 * first transmission (the earliest the answer can belong to); dead ones
 * too (the later ones found nothing more: Y's datagrams do not refresh
 * X_k's mapping). */
static void test_lifetime_retransmitted(void **state) {
  world w;
  unsigned late = 0, retried = 0;
  (void)state;
  world_init(&w, &kinds[2], 20 * MS, 0, 37);
  w.drop_first_rp = true;
  w.late = 300 * MS;
  lifetime_checked(&w, &late, &retried);
  assert_true(retried > 0);
  world_free(&w);
}

/* The overall deadline ends everything, recorded as canceled. */
/* Everything lost, one server, the given deadline; timers due from
 * @p late_after on run @p late late. Runs the plan to its end and checks
 * that every request ended with @p status; returns when it ended. */
static nat_tstamp lost_until_deadline(nat_tstamp deadline, nat_tstamp late,
                                      nat_tstamp late_after, int status,
                                      unsigned min_tx) {
  world w;
  nat_probe_config c;
  const nat_obslog *log;
  nat_tstamp end;
  size_t i;
  world_init(&w, &kinds[2], 20 * MS, 1.0, 29);
  w.late = late;
  w.late_after = late_after;
  memset(&c, 0, sizeof c);
  c.servers = one_server;
  c.nservers = 1;
  c.rand = rand_fn;
  c.rand_ctx = &w;
  c.deadline = deadline;
  assert_int_equal(nat_probe_new(&w.p, &c, 0), 0);
  run(&w);
  log = nat_probe_log(w.p);
  assert_int_equal(log->n, 1 + 3 + NAT_PROBE_ALLOC_DEFAULT);
  for (i = 0; i < log->n; i++) {
    assert_int_equal(log->v[i].status, status);
    assert_true(log->v[i].transmissions >= min_tx);
  }
  end = w.end;
  world_free(&w);
  return end;
}

/* Everything lost: every request ends as "no answer" (NAT_ETIMEDOUT), its
 * schedule shrunk to end 20 ms before the deadline, not cut off by it. */
static void test_deadline(void **state) {
  (void)state;
  assert_true(lost_until_deadline(250 * MS, 0, 0, NAT_ETIMEDOUT, 2) <=
              230 * MS);
}

/* Timers due from 200 ms on run 40 ms late (a loaded machine): the
 * requests' schedules end before the 250 ms deadline, the wake-up that
 * sees them comes after it; they still end as "no answer", not as cut off
 * by the deadline. */
static void test_deadline_late(void **state) {
  (void)state;
  assert_true(lost_until_deadline(250 * MS, 40 * MS, 200 * MS, NAT_ETIMEDOUT,
                                  2) >= 250 * MS);
}

/* A deadline too close for any schedule: the requests are canceled by it. */
static void test_deadline_cancel(void **state) {
  (void)state;
  assert_int_equal(lost_until_deadline(15 * MS, 0, 0, NAT_ECANCELED, 1),
                   15 * MS);
}

static void test_bad_config(void **state) {
  nat_probe *p;
  nat_probe_config c;
  nat_probe_server bad = {{0}, 0, false};
  (void)state;
  memset(&c, 0, sizeof c);
  assert_int_equal(nat_probe_new(&p, &c, 0), NAT_EINVAL);
  c.servers = one_server;
  c.nservers = 1;
  assert_int_equal(nat_probe_new(&p, &c, 0), NAT_EINVAL); /* no rand */
  c.rand = rand_fn;
  c.alloc_samples = 33;
  assert_int_equal(nat_probe_new(&p, &c, 0), NAT_EINVAL);
  c.alloc_samples = 0;
  c.tests = 0x100;
  assert_int_equal(nat_probe_new(&p, &c, 0), NAT_EINVAL);
  c.tests = 0;
  c.servers = &bad;
  assert_int_equal(nat_probe_new(&p, &c, 0), NAT_EINVAL);
  assert_int_equal(nat_probe_new(NULL, &c, 0), NAT_EINVAL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_first_actions),
      cmocka_unit_test(test_every_kind),
      cmocka_unit_test(test_time_budget),
      cmocka_unit_test(test_schedule),
      cmocka_unit_test(test_silence),
      cmocka_unit_test(test_replan),
      cmocka_unit_test(test_rtts),
      cmocka_unit_test(test_loss),
      cmocka_unit_test(test_loss20),
      cmocka_unit_test(test_hostile),
      cmocka_unit_test(test_unusable_answer_address),
      cmocka_unit_test(test_no_rfc5780),
      cmocka_unit_test(test_ignores_change),
      cmocka_unit_test(test_forced_server),
      cmocka_unit_test(test_lifetime),
      cmocka_unit_test(test_lifetime_late),
      cmocka_unit_test(test_lifetime_retransmitted),
      cmocka_unit_test(test_deadline),
      cmocka_unit_test(test_deadline_cancel),
      cmocka_unit_test(test_deadline_late),
      cmocka_unit_test(test_bad_config),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
