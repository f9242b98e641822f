/* The port-mapping driver (portmap/portmap.c) against a fake PCP gateway
 * in the same process: a uv_udp socket on 127.0.0.1 that the test owns
 * (config.gateway = 127.0.0.1:PORT, protos = PCP only), which reads the
 * requests by their RFC 6887 offsets (not with the codec under test) and
 * answers as each test tells it. Covered: the probe answered and timed
 * out, a grant shorter than asked, the refresh at half the grant, a
 * gateway restart (epoch back: LOST, then MAPPED again), a refused MAP
 * (FAILED with the result's name), hostile answers (wrong nonce,
 * truncated, oversized, from another port, a duplicate) counted and
 * ignored, unmap and close deleting with lifetime 0 and the same nonce,
 * map() inside the PROBED callback, the blocking nat_portmap_delete_now()
 * (against a gateway thread: confirmed, and timed out), argument errors. Lease
 * seconds run as milliseconds through the driver's private test hook
 * (nat__portmap_hooks.ms_per_second = 1), so a 60 s grant is refreshed 30 ms
 * later: nothing sleeps, the loop waits on its timers; a guard timer fails a
 * test that would hang. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "base/bytes.h"
#include "nat/error.h"
#include "nat/portmap.h"
#include "portmap/portmap_internal.h"
#include "test_slow.h"

#define GUARD_MS 5000
#define MAXREQ   32

typedef struct req_rec {
  uint8_t opcode;
  uint32_t lifetime;
  uint8_t nonce[12];
  uint16_t iport, sport;
  uint8_t client[16], sip[16]; /* client address, suggested external IP */
  uint64_t at_ms;              /* uv_now */
} req_rec;

typedef struct fx {
  uv_loop_t loop;
  uv_udp_t gw, gw2; /* the gateway; another port of it (hostile) */
  uv_timer_t guard;
  bool guard_fired;
  nat_addr gw_addr;
  /* how the gateway answers */
  bool silent;
  uint32_t epoch;     /* sent in every answer */
  uint32_t grant_cap; /* lifetime granted at most */
  uint8_t map_result; /* result code of MAP answers */
  bool hostile;       /* hostile datagrams before each MAP answer */
  bool duplicate;     /* send each MAP answer twice */
  bool map_on_probed; /* the callback asks for the mapping at PROBED */
  bool natpmp_only;   /* answer as a NAT-PMP-only server (RFC 6887 9) */
  bool map_silent;    /* answer ANNOUNCE, never MAP */
  int bind_error;     /* the gateway's address is not usable here */
  uv_udp_t pmp;       /* a NAT-PMP server on 127.0.0.1:5351 (RFC 6886) */
  int pmp_reqs;
  uint32_t pmp_life; /* lifetime of the last mapping request */
  req_rec req[MAXREQ];
  int nreq;
  /* what the driver said */
  nat_portmap *pm;
  int ev[NAT_PM_EV_CLOSED + 1];
  int ev_status[NAT_PM_EV_CLOSED + 1];
  unsigned ev_result;
  char reason[128];
  nat_portmap_probe probe;
  nat_portmap_mapping mapping;
  uint64_t mapped_at_ms[8];
  uint64_t first_rto_ms; /* the driver's first PCP wait; 0: its own */
  uint64_t slow;         /* SLOW_RTO: probe budgets times this; 0: 1 */
} fx;

static void gw_alloc(uv_handle_t *h, size_t s, uv_buf_t *b) {
  static char buf[2048];
  (void)h;
  (void)s;
  *b = uv_buf_init(buf, sizeof buf);
}

static void gw_send(uv_udp_t *u, const struct sockaddr *to, const uint8_t *m,
                    size_t len) {
  uv_buf_t b = uv_buf_init((char *)(uintptr_t)m, (unsigned)len);
  assert_true(uv_udp_try_send(u, &b, 1, to) == (int)len);
}

/* Build an answer to @p q (RFC 6887 7.2, 11.1) into @p a; @return length */
static size_t gw_answer(fx *f, const uint8_t *q, size_t qlen, uint8_t *a) {
  uint32_t life = nat__get32(q + 4);
  memset(a, 0, 60);
  a[0] = 2;
  a[1] = (uint8_t)(0x80 | q[1]);
  a[3] = q[1] == 1 ? f->map_result : 0;
  if (q[1] == 1 && life > f->grant_cap)
    life = f->grant_cap;
  nat__put32(a + 4, q[1] == 1 ? life : 0);
  nat__put32(a + 8, f->epoch);
  if (q[1] != 1 || qlen < 60)
    return 24;
  memcpy(a + 24, q + 24, 18); /* nonce, protocol, reserved, int. port */
  nat__put16(a + 42, nat__get16(q + 42)); /* the suggested port, granted */
  a[54] = a[55] = 0xff;
  a[56] = 203, a[57] = 0, a[58] = 113, a[59] = 7;
  return 60;
}

static void gw_hostile(fx *f, const struct sockaddr *to, const uint8_t *ok) {
  uint8_t m[1104];
  memcpy(m, ok, 60);
  m[30] ^= 0x55; /* another nonce */
  gw_send(&f->gw, to, m, 60);
  gw_send(&f->gw, to, ok, 40); /* truncated MAP body */
  memset(m, 0, sizeof m);
  memcpy(m, ok, 60);
  gw_send(&f->gw, to, m, sizeof m); /* over 1100 bytes */
  gw_send(&f->gw2, to, ok, 60);     /* right bytes, another port */
}

static void gw_recv(uv_udp_t *u, ssize_t n, const uv_buf_t *buf,
                    const struct sockaddr *from, unsigned flags) {
  fx *f = u->data;
  const uint8_t *q = (const uint8_t *)buf->base;
  uint8_t a[60];
  size_t alen;
  req_rec *r;
  (void)flags;
  if (n < 24 || !from)
    return;
  assert_int_equal(q[0], 2);
  assert_int_equal(q[1] & 0x80, 0);
  if (f->nreq < MAXREQ) {
    r = &f->req[f->nreq++];
    r->opcode = q[1];
    r->lifetime = nat__get32(q + 4);
    memcpy(r->client, q + 8, 16);
    if (n >= 60) {
      memcpy(r->sip, q + 44, 16);
      memcpy(r->nonce, q + 24, 12);
      r->iport = nat__get16(q + 40);
      r->sport = nat__get16(q + 42);
    }
    r->at_ms = uv_now(&f->loop);
  }
  if (f->silent || (f->map_silent && q[1] == 1))
    return;
  if (f->natpmp_only) { /* version 0, opcode 128 + x, UNSUPP_VERSION */
    uint8_t e[8] = {0, (uint8_t)(0x80 | q[1]), 0, 1};
    nat__put32(e + 4, f->epoch);
    gw_send(&f->gw, from, e, sizeof e);
    return;
  }
  alen = gw_answer(f, q, (size_t)n, a);
  if (f->hostile && q[1] == 1)
    gw_hostile(f, from, a);
  gw_send(&f->gw, from, a, alen);
  if (f->duplicate && q[1] == 1)
    gw_send(&f->gw, from, a, alen);
}

/* The fake NAT-PMP server: the address request (opcode 0) and UDP
 * mappings (opcode 1), granted as asked, epoch 77. */
static void pmp_recv(uv_udp_t *u, ssize_t n, const uv_buf_t *buf,
                     const struct sockaddr *from, unsigned flags) {
  fx *f = u->data;
  const uint8_t *q = (const uint8_t *)buf->base;
  uint8_t a[16] = {0};
  (void)flags;
  if (n < 2 || !from || q[0] != 0)
    return;
  f->pmp_reqs++;
  a[1] = (uint8_t)(128 + q[1]);
  nat__put32(a + 4, 77);
  if (q[1] == 0) {
    a[8] = 203, a[9] = 0, a[10] = 113, a[11] = 7;
    gw_send(u, from, a, 12);
  } else if (q[1] == 1 && n >= 12) {
    f->pmp_life = nat__get32(q + 8);
    memcpy(a + 8, q + 4, 4); /* private port, public port as suggested */
    memcpy(a + 12, q + 8, 4);
    gw_send(u, from, a, 16);
  }
}

static void on_event(nat_portmap *pm, void *arg, const nat_portmap_event *ev) {
  fx *f = arg;
  (void)pm;
  f->ev[ev->type]++;
  f->ev_status[ev->type] = ev->status;
  if (ev->type == NAT_PM_EV_FAILED || ev->type == NAT_PM_EV_LOST) {
    f->ev_result = ev->result;
    snprintf(f->reason, sizeof f->reason, "%s", ev->reason ? ev->reason : "");
  }
  if (ev->probe)
    f->probe = *ev->probe;
  if (ev->mapping)
    f->mapping = *ev->mapping;
  if (ev->type == NAT_PM_EV_MAPPED && f->ev[ev->type] <= 8)
    f->mapped_at_ms[f->ev[ev->type] - 1] = uv_now(&f->loop);
  if (ev->type == NAT_PM_EV_PROBED && f->map_on_probed)
    assert_int_equal(nat_portmap_map(pm, 7000, 60), 0);
  if (ev->type == NAT_PM_EV_CLOSED)
    f->pm = NULL;
}

static void on_guard(uv_timer_t *t) {
  ((fx *)t->data)->guard_fired = true;
}

static int setup_at(void **state, const char *ip) {
  fx *f = calloc(1, sizeof *f);
  nat_addr a;
  struct sockaddr_storage ss;
  int sl = sizeof ss;
  assert_non_null(f);
  assert_int_equal(uv_loop_init(&f->loop), 0);
  assert_int_equal(nat_addr_parse(&a, ip, 0), 0);
  assert_true(nat_addr_to_sockaddr(&a, (struct sockaddr *)&ss, sizeof ss) > 0);
  assert_int_equal(uv_udp_init(&f->loop, &f->gw), 0);
  assert_int_equal(uv_udp_init(&f->loop, &f->gw2), 0);
  f->gw.data = f->gw2.data = f;
  f->bind_error = uv_udp_bind(&f->gw, (struct sockaddr *)&ss, 0);
  if (f->bind_error == 0) {
    assert_int_equal(uv_udp_bind(&f->gw2, (struct sockaddr *)&ss, 0), 0);
    assert_int_equal(uv_udp_getsockname(&f->gw, (struct sockaddr *)&ss, &sl),
                     0);
    assert_int_equal(
        nat_addr_from_sockaddr(&f->gw_addr, (struct sockaddr *)&ss), 0);
    assert_int_equal(uv_udp_recv_start(&f->gw, gw_alloc, gw_recv), 0);
  }
  assert_int_equal(uv_timer_init(&f->loop, &f->guard), 0);
  f->guard.data = f;
  f->epoch = 1000;
  f->grant_cap = 3600;
  *state = f;
  return 0;
}

static int setup(void **state) {
  return setup_at(state, "127.0.0.1");
}

static int setup6(void **state) {
  return setup_at(state, "::1");
}

static int teardown(void **state) {
  fx *f = *state;
  if (f->pm) /* a test that failed half-way */
    nat_portmap_close(f->pm);
  uv_close((uv_handle_t *)&f->gw, NULL);
  uv_close((uv_handle_t *)&f->gw2, NULL);
  uv_close((uv_handle_t *)&f->guard, NULL);
  assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(uv_loop_close(&f->loop), 0);
  free(f);
  return 0;
}

/* Under valgrind (NAT_TEST_SLOW, tests/valgrind/memcheck.sh) the fake
 * gateway's answer can take longer than the driver's first PCP
 * retransmission (50 ms, real time) and than a 200 ms probe budget, and a
 * test that counts the driver's requests exactly would see an extra one:
 * such a test lengthens the first wait (the driver's test hook) and its
 * probe budget by that factor. */
#define SLOW_RTO(f)                                                            \
  ((f)->slow = test_slow(), (f)->first_rto_ms = 50 * (f)->slow)

/* Run the loop until *counter >= n; fail after GUARD_MS. */
#define run_until(f, counter, n) run_until_(f, counter, n, __LINE__)
static void run_until_(fx *f, const int *counter, int n, int line) {
  f->guard_fired = false;
  uv_timer_start(&f->guard, on_guard, GUARD_MS, 0);
  while (*counter < n && !f->guard_fired)
    uv_run(&f->loop, UV_RUN_ONCE);
  uv_timer_stop(&f->guard);
  if (*counter < n)
    fail_msg("line %d: waited %d ms for %d events, saw %d (probed %d, "
             "mapped %d, failed %d, lost %d; %d requests; %s)",
             line, GUARD_MS, n, *counter, f->ev[NAT_PM_EV_PROBED],
             f->ev[NAT_PM_EV_MAPPED], f->ev[NAT_PM_EV_FAILED],
             f->ev[NAT_PM_EV_LOST], f->nreq, f->reason);
}

static void start(fx *f, nat_tstamp timeout) {
  nat_portmap_config c;
  nat__portmap_hooks h = {.ms_per_second = 1,
                          .pcp_first_rto_ms = f->first_rto_ms};
  memset(&c, 0, sizeof c);
  c.gateway = f->gw_addr;
  c.protos = NAT_PM_BIT(NAT_PM_PCP);
  c.timeout = timeout * (f->slow ? f->slow : 1);
  c.cb = on_event;
  c.arg = f;
  assert_int_equal(nat__portmap_new_hooked(&f->pm, &f->loop, &c, &h), 0);
}

static void close_pm(fx *f) {
  nat_portmap_close(f->pm);
  run_until(f, &f->ev[NAT_PM_EV_CLOSED], 1);
  assert_null(f->pm);
}

/* ------------------------------------------------------------- probe */

static void test_probe_answered(void **state) {
  fx *f = *state;
  const nat_pm_service *s;
  SLOW_RTO(f);
  start(f, 200 * NAT_MILLISECONDS);
  run_until(f, &f->ev[NAT_PM_EV_PROBED], 1);
  s = &f->probe.svc[NAT_PM_PCP];
  assert_true(f->probe.done);
  assert_true(s->asked && s->answered);
  assert_int_equal(s->status, 0);
  assert_true(s->has_epoch);
  assert_int_equal(s->epoch, 1000);
  /* an ANNOUNCE answer carries no external address (RFC 6887 14.1) */
  assert_int_equal(s->external.family, NAT_AF_NONE);
  assert_false(f->probe.svc[NAT_PM_NATPMP].asked);
  assert_false(f->probe.svc[NAT_PM_UPNP].asked);
  assert_true(nat_addr_equal(&f->probe.gateway, &f->gw_addr));
  /* ended by the answer, not by the budget */
  assert_true(f->probe.duration < 200 * NAT_MILLISECONDS * f->slow);
  assert_int_equal(f->nreq, 1);
  assert_int_equal(f->req[0].opcode, NAT_PCP_OP_ANNOUNCE);
  close_pm(f);
  assert_int_equal(f->ev[NAT_PM_EV_UNMAPPED], 0);
}

/* a NAT-PMP-only server answers PCP's version 2 with NAT-PMP's
 * UNSUPP_VERSION: an answer (the server exists) that refuses */
static void test_probe_natpmp_only(void **state) {
  fx *f = *state;
  const nat_pm_service *s;
  f->natpmp_only = true;
  start(f, 200 * NAT_MILLISECONDS);
  run_until(f, &f->ev[NAT_PM_EV_PROBED], 1);
  s = &f->probe.svc[NAT_PM_PCP];
  assert_true(s->answered);
  assert_int_equal(s->status, NAT_EPMREFUSED);
  assert_int_equal(s->result, NAT_PCP_UNSUPP_VERSION);
  assert_int_equal(nat_portmap_map(f->pm, 7000, 60), NAT_ENOGATEWAY);
  close_pm(f);
}

static void test_probe_timeout(void **state) {
  fx *f = *state;
  uint64_t t0 = (uv_update_time(&f->loop), uv_now(&f->loop));
  f->silent = true;
  start(f, 120 * NAT_MILLISECONDS);
  run_until(f, &f->ev[NAT_PM_EV_PROBED], 1);
  assert_int_equal(f->probe.svc[NAT_PM_PCP].status, NAT_ETIMEDOUT);
  assert_false(f->probe.svc[NAT_PM_PCP].answered);
  assert_true(f->probe.duration >= 119 * NAT_MILLISECONDS);
  assert_true(uv_now(&f->loop) - t0 < 120 + 500);
  /* retransmitted at 50 ms, then 100 ms later (past the budget): 2 */
  assert_int_equal(f->nreq, 2);
  assert_int_equal(nat_portmap_map(f->pm, 7000, 60), NAT_ENOGATEWAY);
  close_pm(f);
}

/* ----------------------------------------------------------- mapping */

static void test_map_shorter_and_refresh(void **state) {
  fx *f = *state;
  nat_portmap_mapping m;
  char s[NAT_ADDR_STRLEN];
  SLOW_RTO(f);
  f->grant_cap = 60;
  start(f, 200 * NAT_MILLISECONDS);
  /* asked before the probe ended: it waits for it */
  assert_int_equal(nat_portmap_map(f->pm, 7000, 120), 0);
  assert_int_equal(nat_portmap_map(f->pm, 7001, 120), NAT_EALREADY);
  run_until(f, &f->ev[NAT_PM_EV_MAPPED], 1);
  assert_int_equal(f->ev[NAT_PM_EV_PROBED], 1);
  assert_true(f->mapping.active);
  assert_int_equal(f->mapping.proto, NAT_PM_PCP);
  assert_int_equal(f->mapping.lifetime_asked, 120);
  assert_int_equal(f->mapping.lifetime, 60);
  assert_int_equal(f->mapping.internal_port, 7000);
  assert_string_equal(nat_addr_format(&f->mapping.external, s, sizeof s),
                      "203.0.113.7:7000");
  assert_int_equal(f->req[1].opcode, NAT_PCP_OP_MAP);
  assert_int_equal(f->req[1].lifetime, 120);
  assert_int_equal(f->req[1].iport, 7000);
  assert_int_equal(f->req[1].sport, 7000); /* the same port suggested */
  { /* no suggested address: ::ffff:0.0.0.0 (RFC 6887 11.1, 5) */
    static const uint8_t none4[16] = {[10] = 0xff, [11] = 0xff};
    static const uint8_t lo4[16] = {[10] = 0xff, [11] = 0xff, 127, 0, 0, 1};
    assert_memory_equal(f->req[1].sip, none4, 16);
    assert_memory_equal(f->req[1].client, lo4, 16);
  }
  /* refreshed at half of the 60 granted (30 "s" = 30 ms here) */
  run_until(f, &f->ev[NAT_PM_EV_MAPPED], 2);
  assert_int_equal(f->nreq, 3);
  assert_memory_equal(f->req[2].nonce, f->req[1].nonce, 12);
  assert_true(f->req[2].at_ms - f->mapped_at_ms[0] >= 29);
  assert_true(f->req[2].at_ms - f->mapped_at_ms[0] < 30 + 200);
  nat_portmap_get(f->pm, NULL, &m, NULL);
  assert_int_equal(m.refreshes, 1);
  assert_memory_equal(m.nonce, f->req[1].nonce, 12);
  /* unmap: lifetime 0, the same nonce, confirmed */
  assert_int_equal(nat_portmap_unmap(f->pm), 0);
  assert_int_equal(nat_portmap_unmap(f->pm), NAT_ENOTFOUND);
  run_until(f, &f->ev[NAT_PM_EV_UNMAPPED], 1);
  assert_int_equal(f->ev_status[NAT_PM_EV_UNMAPPED], 0);
  assert_int_equal(f->req[f->nreq - 1].lifetime, 0);
  assert_memory_equal(f->req[f->nreq - 1].nonce, f->req[1].nonce, 12);
  assert_false(f->mapping.active);
  close_pm(f);
  assert_int_equal(f->ev[NAT_PM_EV_UNMAPPED], 1); /* nothing left to delete */
}

static void test_epoch_back(void **state) {
  fx *f = *state;
  nat_portmap_stats st;
  f->grant_cap = 60;
  start(f, 200 * NAT_MILLISECONDS);
  run_until(f, &f->ev[NAT_PM_EV_PROBED], 1);
  assert_int_equal(nat_portmap_map(f->pm, 7000, 60), 0);
  run_until(f, &f->ev[NAT_PM_EV_MAPPED], 1);
  f->epoch = 5; /* the gateway restarted */
  run_until(f, &f->ev[NAT_PM_EV_LOST], 1);
  assert_int_equal(f->ev_status[NAT_PM_EV_LOST], 0);
  assert_non_null(strstr(f->reason, "restarted"));
  run_until(f, &f->ev[NAT_PM_EV_MAPPED], 2);
  assert_true(f->mapping.active);
  assert_int_equal(f->mapping.restarts, 1);
  nat_portmap_get(f->pm, NULL, NULL, &st);
  assert_int_equal(st.epoch_lost, 1);
  close_pm(f); /* deletes: lifetime 0 */
  assert_int_equal(f->ev[NAT_PM_EV_UNMAPPED], 1);
  assert_int_equal(f->req[f->nreq - 1].lifetime, 0);
}

static void test_refused(void **state) {
  fx *f = *state;
  f->map_result = NAT_PCP_NOT_AUTHORIZED;
  start(f, 200 * NAT_MILLISECONDS);
  run_until(f, &f->ev[NAT_PM_EV_PROBED], 1);
  assert_int_equal(nat_portmap_map(f->pm, 7000, 60), 0);
  run_until(f, &f->ev[NAT_PM_EV_FAILED], 1);
  assert_int_equal(f->ev_status[NAT_PM_EV_FAILED], NAT_EPMREFUSED);
  assert_int_equal(f->ev_result, NAT_PCP_NOT_AUTHORIZED);
  assert_string_equal(f->reason, "pcp: NOT_AUTHORIZED");
  assert_int_equal(f->ev[NAT_PM_EV_MAPPED], 0);
  /* nothing held: a new request may be made, unmap has nothing */
  assert_int_equal(nat_portmap_unmap(f->pm), NAT_ENOTFOUND);
  close_pm(f);
  assert_int_equal(f->ev[NAT_PM_EV_UNMAPPED], 0);
}

/* a MAP never answered: retransmitted at 50 ms doubling (capped at 800),
 * given up after 2 s: FAILED, "pcp: no answer" */
static void test_map_unanswered(void **state) {
  fx *f = *state;
  uint64_t t0;
  f->map_silent = true;
  start(f, 200 * NAT_MILLISECONDS);
  run_until(f, &f->ev[NAT_PM_EV_PROBED], 1);
  t0 = uv_now(&f->loop);
  assert_int_equal(nat_portmap_map(f->pm, 7000, 60), 0);
  run_until(f, &f->ev[NAT_PM_EV_FAILED], 1);
  assert_int_equal(f->ev_status[NAT_PM_EV_FAILED], NAT_ETIMEDOUT);
  assert_string_equal(f->reason, "pcp: no answer");
  /* sent at 0, 50, 150, 350, 750, 1550 ms; given up at 2000 */
  assert_int_equal(f->nreq, 1 + 6);
  assert_true(uv_now(&f->loop) - t0 >= 1990);
  assert_true(f->req[6].at_ms - f->req[1].at_ms >= 1540);
  close_pm(f);
  assert_int_equal(f->ev[NAT_PM_EV_UNMAPPED], 0);
}

static void test_hostile(void **state) {
  fx *f = *state;
  nat_portmap_stats st;
  char s[NAT_ADDR_STRLEN];
  f->hostile = true;
  f->duplicate = true;
  start(f, 200 * NAT_MILLISECONDS);
  run_until(f, &f->ev[NAT_PM_EV_PROBED], 1);
  assert_int_equal(nat_portmap_map(f->pm, 7000, 3600), 0);
  run_until(f, &f->ev[NAT_PM_EV_MAPPED], 1);
  /* let the duplicate arrive: run until the loop has read it */
  nat_portmap_get(f->pm, NULL, NULL, &st);
  while (st.unexpected < 1) {
    uv_run(&f->loop, UV_RUN_ONCE);
    nat_portmap_get(f->pm, NULL, NULL, &st);
  }
  assert_int_equal(f->ev[NAT_PM_EV_MAPPED], 1);
  assert_string_equal(nat_addr_format(&f->mapping.external, s, sizeof s),
                      "203.0.113.7:7000");
  assert_int_equal(st.wrong_nonce, 1);
  assert_int_equal(st.malformed, 2); /* truncated, oversized */
  assert_int_equal(st.wrong_source, 1);
  assert_int_equal(st.unexpected, 1); /* the duplicate */
  assert_int_equal(st.received, 1 + 4 + 2);
  f->hostile = f->duplicate = false;
  close_pm(f);
  assert_int_equal(f->ev[NAT_PM_EV_UNMAPPED], 1);
  assert_int_equal(f->ev_status[NAT_PM_EV_UNMAPPED], 0);
}

static void test_close_silent_delete(void **state) {
  fx *f = *state;
  start(f, 200 * NAT_MILLISECONDS);
  assert_int_equal(nat_portmap_map(f->pm, 7000, 60), 0);
  run_until(f, &f->ev[NAT_PM_EV_MAPPED], 1);
  f->silent = true; /* the delete goes unanswered: NAT_ETIMEDOUT */
  nat_portmap_close(f->pm);
  nat_portmap_close(f->pm); /* a second call does nothing */
  run_until(f, &f->ev[NAT_PM_EV_CLOSED], 1);
  assert_int_equal(f->ev[NAT_PM_EV_UNMAPPED], 1);
  assert_int_equal(f->ev_status[NAT_PM_EV_UNMAPPED], NAT_ETIMEDOUT);
  assert_int_equal(f->req[f->nreq - 1].lifetime, 0);
}

/* nat_portmap_map() called inside the PROBED callback: one MAP request,
 * one grant (it once started twice: the second try found no protocol
 * left and said FAILED) */
static void test_map_inside_probed(void **state) {
  fx *f = *state;
  f->map_on_probed = true;
  start(f, 200 * NAT_MILLISECONDS);
  run_until(f, &f->ev[NAT_PM_EV_MAPPED], 1);
  for (int i = 0; i < 5; i++)
    uv_run(&f->loop, UV_RUN_NOWAIT);
  assert_int_equal(f->ev[NAT_PM_EV_FAILED], 0);
  assert_int_equal(f->nreq, 2); /* ANNOUNCE, one MAP */
  close_pm(f);
  assert_int_equal(f->ev[NAT_PM_EV_UNMAPPED], 1);
  assert_int_equal(f->ev_status[NAT_PM_EV_UNMAPPED], 0);
}

/* nat_portmap_delete_now(): blocking, so the gateway answers from a
 * thread of its own on a plain socket: it checks the delete (MAP, lifetime
 * 0, the nonce, the port) and answers it once (after a wrong-nonce answer
 * that must be ignored), or stays silent. */
typedef struct thr_gw {
  int fd;
  bool silent;
  uint8_t nonce[12];
  bool ok; /* the request was the right delete */
} thr_gw;

static void *thr_gw_run(void *arg) {
  thr_gw *g = arg;
  uint8_t q[1100], a[60];
  struct sockaddr_storage ss;
  socklen_t sl = sizeof ss;
  ssize_t n = recvfrom(g->fd, q, sizeof q, 0, (struct sockaddr *)&ss, &sl);
  if (n != 60)
    return NULL;
  g->ok = q[0] == 2 && q[1] == 1 && nat__get32(q + 4) == 0 &&
          memcmp(q + 24, g->nonce, 12) == 0 && q[36] == 17 &&
          nat__get16(q + 40) == 7000;
  if (g->silent)
    return NULL;
  memcpy(a, q, 60);
  a[1] = 0x81;
  a[3] = 0;
  nat__put32(a + 8, 1000);
  a[30] ^= 1; /* first a wrong nonce */
  (void)sendto(g->fd, a, 60, 0, (struct sockaddr *)&ss, sl);
  a[30] ^= 1;
  (void)sendto(g->fd, a, 60, 0, (struct sockaddr *)&ss, sl);
  return NULL;
}

static void test_delete_now(void **state) {
  fx *f = *state;
  thr_gw g;
  pthread_t t;
  struct sockaddr_in sin;
  socklen_t sl = sizeof sin;
  nat_addr gw, ext;
  uint64_t t0;
  memset(&g, 0, sizeof g);
  for (int i = 0; i < 12; i++)
    g.nonce[i] = (uint8_t)(0xA0 + i);
  g.fd = socket(AF_INET, SOCK_DGRAM, 0);
  assert_true(g.fd >= 0);
  memset(&sin, 0, sizeof sin);
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(bind(g.fd, (struct sockaddr *)&sin, sizeof sin), 0);
  assert_int_equal(getsockname(g.fd, (struct sockaddr *)&sin, &sl), 0);
  assert_int_equal(nat_addr_from_sockaddr(&gw, (struct sockaddr *)&sin), 0);
  assert_int_equal(nat_addr_parse(&ext, "203.0.113.7:7000", 0), 0);
  assert_int_equal(pthread_create(&t, NULL, thr_gw_run, &g), 0);
  assert_int_equal(nat_portmap_delete_now(&gw, NULL, NAT_PM_PCP, 7000, &ext,
                                          g.nonce, NAT_PORTMAP_DELETE_WAIT),
                   0);
  pthread_join(t, NULL);
  assert_true(g.ok);
  /* silent: NAT_ETIMEDOUT after about the wait */
  g.silent = true;
  g.ok = false;
  assert_int_equal(pthread_create(&t, NULL, thr_gw_run, &g), 0);
  t0 = uv_hrtime();
  assert_int_equal(nat_portmap_delete_now(&gw, NULL, NAT_PM_PCP, 7000, &ext,
                                          g.nonce, 100 * NAT_MILLISECONDS),
                   NAT_ETIMEDOUT);
  assert_true(uv_hrtime() - t0 >= 100 * NAT_MILLISECONDS);
  assert_true(uv_hrtime() - t0 < 1000 * NAT_MILLISECONDS);
  pthread_join(t, NULL);
  assert_true(g.ok);
  close(g.fd);
  /* arguments */
  assert_int_equal(nat_portmap_delete_now(&gw, NULL, NAT_PM_PCP, 7000, &ext,
                                          NULL, NAT_PORTMAP_DELETE_WAIT),
                   NAT_EINVAL);
  assert_int_equal(nat_portmap_delete_now(&gw, NULL, NAT_PM_PCP, 0, &ext,
                                          g.nonce, NAT_PORTMAP_DELETE_WAIT),
                   NAT_EINVAL);
  assert_int_equal(nat_portmap_delete_now(NULL, NULL, NAT_PM_PCP, 7000, &ext,
                                          g.nonce, NAT_PORTMAP_DELETE_WAIT),
                   NAT_EINVAL);
  (void)f;
}

/* PCP over IPv6: the client address as is, no suggested address is ::,
 * a grant and its delete */
static void test_ipv6(void **state) {
  fx *f = *state;
  static const uint8_t lo6[16] = {[15] = 1}, none6[16];
  if (f->bind_error) {
    print_message("no IPv6 loopback here (%s): skipped\n",
                  nat_strerror(f->bind_error));
    skip();
  }
  SLOW_RTO(f); /* req[1] is the MAP only without a retransmission */
  start(f, 200 * NAT_MILLISECONDS);
  assert_int_equal(nat_portmap_map(f->pm, 7000, 60), 0);
  run_until(f, &f->ev[NAT_PM_EV_MAPPED], 1);
  assert_int_equal(f->probe.local.family, NAT_AF_INET6);
  assert_memory_equal(f->req[0].client, lo6, 16);
  assert_memory_equal(f->req[1].client, lo6, 16);
  assert_memory_equal(f->req[1].sip, none6, 16);
  assert_int_equal(f->req[1].sport, 7000);
  close_pm(f);
  assert_int_equal(f->ev_status[NAT_PM_EV_UNMAPPED], 0);
  assert_int_equal(f->req[f->nreq - 1].lifetime, 0);
}

/* Bind the fake NAT-PMP server (libnatpmp always asks port 5351); false
 * when the port is taken here. */
static bool pmp_open(fx *f) {
  struct sockaddr_in sin;
  assert_int_equal(uv_ip4_addr("127.0.0.1", 5351, &sin), 0);
  assert_int_equal(uv_udp_init(&f->loop, &f->pmp), 0);
  f->pmp.data = f;
  if (uv_udp_bind(&f->pmp, (struct sockaddr *)&sin, 0) < 0) {
    uv_close((uv_handle_t *)&f->pmp, NULL);
    return false;
  }
  assert_int_equal(uv_udp_recv_start(&f->pmp, gw_alloc, pmp_recv), 0);
  return true;
}

/* PCP refuses the MAP (NOT_AUTHORIZED): NAT-PMP, which answered the
 * probe, is asked next and grants it; unmap deletes by NAT-PMP. */
static void test_refused_then_natpmp(void **state) {
  fx *f = *state;
  nat_portmap_config c;
  nat__portmap_hooks h = {.ms_per_second = 1,
                          .pcp_first_rto_ms = f->first_rto_ms};
  char s[NAT_ADDR_STRLEN];
  if (!pmp_open(f)) {
    print_message("127.0.0.1:5351 is taken here: skipped\n");
    skip();
  }
  f->map_result = NAT_PCP_NOT_AUTHORIZED;
  memset(&c, 0, sizeof c);
  c.gateway = f->gw_addr; /* PCP on the fake's port, NAT-PMP on 5351 */
  c.protos = NAT_PM_BIT(NAT_PM_PCP) | NAT_PM_BIT(NAT_PM_NATPMP);
  c.timeout = 300 * NAT_MILLISECONDS;
  c.cb = on_event;
  c.arg = f;
  assert_int_equal(nat__portmap_new_hooked(&f->pm, &f->loop, &c, &h), 0);
  assert_int_equal(nat_portmap_map(f->pm, 7000, 90), 0);
  run_until(f, &f->ev[NAT_PM_EV_MAPPED], 1);
  assert_int_equal(f->probe.svc[NAT_PM_NATPMP].status, 0);
  assert_string_equal(
      nat_addr_format_ip(&f->probe.svc[NAT_PM_NATPMP].external, s, sizeof s),
      "203.0.113.7");
  assert_int_equal(f->probe.svc[NAT_PM_NATPMP].epoch, 77);
  assert_true(f->probe.duration < 300 * NAT_MILLISECONDS);
  assert_int_equal(f->mapping.proto, NAT_PM_NATPMP);
  assert_string_equal(nat_addr_format(&f->mapping.external, s, sizeof s),
                      "203.0.113.7:7000");
  assert_int_equal(f->mapping.lifetime, 90);
  assert_int_equal(f->pmp_life, 90);
  assert_int_equal(f->ev[NAT_PM_EV_FAILED], 0);
  assert_int_equal(nat_portmap_unmap(f->pm), 0);
  run_until(f, &f->ev[NAT_PM_EV_UNMAPPED], 1);
  assert_int_equal(f->ev_status[NAT_PM_EV_UNMAPPED], 0);
  assert_int_equal(f->pmp_life, 0);
  close_pm(f);
  uv_close((uv_handle_t *)&f->pmp, NULL);
}

/* A mapping asked before the probe ended goes out as soon as PCP (the
 * best protocol) has answered the probe: it does not wait for UPnP, which
 * nothing answers here (its SSDP goes to 127.0.0.1:1900 and, by the
 * loopback interface, to the multicast group: nothing leaves the host). */
static void test_map_before_upnp(void **state) {
  fx *f = *state;
  nat_portmap_config c;
  nat__portmap_hooks h = {.ms_per_second = 1,
                          .pcp_first_rto_ms = f->first_rto_ms};
  memset(&c, 0, sizeof c);
  c.gateway = f->gw_addr;
  c.protos = NAT_PM_BIT(NAT_PM_PCP) | NAT_PM_BIT(NAT_PM_UPNP);
  c.timeout = 300 * NAT_MILLISECONDS;
  c.cb = on_event;
  c.arg = f;
  assert_int_equal(nat__portmap_new_hooked(&f->pm, &f->loop, &c, &h), 0);
  assert_int_equal(nat_portmap_map(f->pm, 7000, 120), 0);
  run_until(f, &f->ev[NAT_PM_EV_MAPPED], 1);
  assert_int_equal(f->ev[NAT_PM_EV_PROBED], 0); /* UPnP still probing */
  assert_int_equal(f->mapping.proto, NAT_PM_PCP);
  run_until(f, &f->ev[NAT_PM_EV_PROBED], 1);
  assert_true(f->probe.svc[NAT_PM_UPNP].asked);
  assert_false(f->probe.svc[NAT_PM_UPNP].answered);
  assert_true(f->mapping.active); /* the probe's end left it alone */
  close_pm(f);
  assert_int_equal(f->ev[NAT_PM_EV_UNMAPPED], 1);
  assert_int_equal(f->ev_status[NAT_PM_EV_UNMAPPED], 0);
}

/* No NAT-PMP server: the ICMP port unreachable ends its probe at once
 * (UV_ECONNREFUSED), not at the budget. */
static void test_natpmp_refused_port(void **state) {
  fx *f = *state;
  nat_portmap_config c;
  if (!pmp_open(f)) {
    print_message("127.0.0.1:5351 is taken here: skipped\n");
    skip();
  }
  uv_close((uv_handle_t *)&f->pmp, NULL); /* nothing listens now */
  memset(&c, 0, sizeof c);
  c.gateway = f->gw_addr;
  c.protos = NAT_PM_BIT(NAT_PM_PCP) | NAT_PM_BIT(NAT_PM_NATPMP);
  c.timeout = 2000 * NAT_MILLISECONDS;
  c.cb = on_event;
  c.arg = f;
  assert_int_equal(nat_portmap_new(&f->pm, &f->loop, &c), 0);
  run_until(f, &f->ev[NAT_PM_EV_PROBED], 1);
  assert_int_equal(f->probe.svc[NAT_PM_PCP].status, 0);
  assert_int_equal(f->probe.svc[NAT_PM_NATPMP].status, UV_ECONNREFUSED);
  assert_false(f->probe.svc[NAT_PM_NATPMP].answered);
  assert_true(f->probe.duration < 1000 * NAT_MILLISECONDS);
  close_pm(f);
}

static void test_args(void **state) {
  fx *f = *state;
  nat_portmap_config c;
  nat_portmap *pm = NULL;
  memset(&c, 0, sizeof c);
  c.gateway = f->gw_addr;
  assert_int_equal(nat_portmap_new(&pm, &f->loop, &c), NAT_EINVAL); /* cb */
  c.cb = on_event;
  c.arg = f;
  c.protos = 0x8;
  assert_int_equal(nat_portmap_new(&pm, &f->loop, &c), NAT_EINVAL);
  c.protos = 0;
  c.gateway.family = 9;
  assert_int_equal(nat_portmap_new(&pm, &f->loop, &c), NAT_EINVAL);
  assert_null(pm);
  assert_int_equal(f->ev[NAT_PM_EV_CLOSED], 0);
  start(f, 50 * NAT_MILLISECONDS);
  assert_int_equal(nat_portmap_map(f->pm, 0, 60), NAT_EINVAL);
  assert_int_equal(nat_portmap_unmap(f->pm), NAT_ENOTFOUND);
  close_pm(f); /* closed before the probe ended: no PROBED */
  assert_int_equal(f->ev[NAT_PM_EV_PROBED], 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_probe_answered, setup, teardown),
      cmocka_unit_test_setup_teardown(test_probe_natpmp_only, setup, teardown),
      cmocka_unit_test_setup_teardown(test_probe_timeout, setup, teardown),
      cmocka_unit_test_setup_teardown(test_map_shorter_and_refresh, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_epoch_back, setup, teardown),
      cmocka_unit_test_setup_teardown(test_refused, setup, teardown),
      cmocka_unit_test_setup_teardown(test_map_unanswered, setup, teardown),
      cmocka_unit_test_setup_teardown(test_hostile, setup, teardown),
      cmocka_unit_test_setup_teardown(test_close_silent_delete, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_map_inside_probed, setup, teardown),
      cmocka_unit_test_setup_teardown(test_delete_now, setup, teardown),
      cmocka_unit_test_setup_teardown(test_ipv6, setup6, teardown),
      cmocka_unit_test_setup_teardown(test_refused_then_natpmp, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_natpmp_refused_port, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_map_before_upnp, setup, teardown),
      cmocka_unit_test_setup_teardown(test_args, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
