/* nat_link: the link impairment model, driven by a fake clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nat/error.h"
#include "nat/link.h"

#define MS NAT_MILLISECONDS

/* A packet carrying its sequence number in 4 bytes, padded to @p len. */
static size_t make_pkt(uint8_t *buf, uint32_t seq, size_t len) {
  memset(buf, 0xAB, len);
  buf[0] = (uint8_t)(seq >> 24);
  buf[1] = (uint8_t)(seq >> 16);
  buf[2] = (uint8_t)(seq >> 8);
  buf[3] = (uint8_t)seq;
  return len;
}

static uint32_t pkt_seq(const uint8_t *buf) {
  return (uint32_t)buf[0] << 24 | (uint32_t)buf[1] << 16 |
         (uint32_t)buf[2] << 8 | buf[3];
}

static nat_link *new_link(const nat_link_config *cfg) {
  nat_link *l = NULL;
  assert_int_equal(nat_link_new(&l, cfg), 0);
  assert_non_null(l);
  return l;
}

static void test_bad_config(void **state) {
  nat_link_config cfg = {0};
  nat_link *l = (nat_link *)1;
  (void)state;
  assert_int_equal(nat_link_new(NULL, &cfg), NAT_EINVAL);
  assert_int_equal(nat_link_new(&l, NULL), NAT_EINVAL);
  cfg.loss = 1.5;
  assert_int_equal(nat_link_new(&l, &cfg), NAT_EINVAL);
  assert_null(l);
  cfg.loss = 0;
  cfg.reorder = -0.1;
  assert_int_equal(nat_link_new(&l, &cfg), NAT_EINVAL);
  cfg.reorder = 0;
  cfg.duplicate = NAN;
  assert_int_equal(nat_link_new(&l, &cfg), NAT_EINVAL);
  cfg.duplicate = 0;
  cfg.jitter = 2 * 3600 * NAT_SECONDS;
  assert_int_equal(nat_link_new(&l, &cfg), NAT_EINVAL);
  cfg.jitter = 0;
  cfg.max_packet = 100;
  l = new_link(&cfg);
  {
    uint8_t big[101] = {0};
    assert_int_equal(nat_link_submit(l, 0, big, 101), NAT_EINVAL);
    assert_int_equal(nat_link_submit(l, 0, big, 0), NAT_EINVAL);
    assert_int_equal(nat_link_submit(l, 0, big, 100), 1);
  }
  nat_link_free(l);
  nat_link_free(NULL);
}

/* Zero config: everything comes out at the same `now`, in order. */
static void test_passthrough(void **state) {
  nat_link_config cfg = {0};
  nat_link *l = new_link(&cfg);
  uint8_t pkt[64], out[64];
  nat_link_stats st;
  (void)state;
  assert_int_equal(nat_link_get_expiry(l), NAT_TSTAMP_MAX);
  for (uint32_t i = 0; i < 100; i++)
    assert_int_equal(
        nat_link_submit(l, 5000, pkt, make_pkt(pkt, i, 20 + i % 40)), 1);
  assert_int_equal(nat_link_get_expiry(l), 5000);
  assert_int_equal(nat_link_pop(l, 4999, out, sizeof out), NAT_EAGAIN);
  for (uint32_t i = 0; i < 100; i++) {
    ssize_t n = nat_link_pop(l, 5000, out, sizeof out);
    assert_int_equal(n, 20 + i % 40);
    assert_int_equal(pkt_seq(out), i);
    assert_int_equal(out[n - 1], 0xAB);
  }
  assert_int_equal(nat_link_pop(l, 5000, out, sizeof out), NAT_EAGAIN);
  nat_link_stats_get(l, &st);
  assert_int_equal(st.submitted, 100);
  assert_int_equal(st.delivered, 100);
  assert_int_equal(st.lost + st.duplicated + st.reordered + st.overflow, 0);
  assert_int_equal(st.queue_len, 0);
  assert_int_equal(st.queue_max, 100);
  nat_link_free(l);
}

/* A fixed delay: due exactly at now + delay, not a nanosecond before. */
static void test_exact_delay(void **state) {
  nat_link_config cfg = {.delay = 20 * MS};
  nat_link *l = new_link(&cfg);
  uint8_t pkt[32], out[32];
  const uint8_t *peek = NULL;
  (void)state;
  for (uint32_t i = 0; i < 10; i++)
    nat_link_submit(l, 1000 + i * MS, pkt, make_pkt(pkt, i, sizeof pkt));
  for (uint32_t i = 0; i < 10; i++) {
    nat_tstamp due = 1000 + i * MS + 20 * MS;
    assert_int_equal(nat_link_get_expiry(l), due);
    assert_int_equal(nat_link_pop(l, due - 1, out, sizeof out), NAT_EAGAIN);
    assert_int_equal(nat_link_peek(l, due - 1, &peek), NAT_EAGAIN);
    assert_int_equal(nat_link_peek(l, due, &peek), sizeof pkt);
    assert_int_equal(pkt_seq(peek), i);
    assert_int_equal(nat_link_pop(l, due, out, 3), NAT_ENOBUFS);
    assert_int_equal(nat_link_pop(l, due, NULL, 0), sizeof pkt);
  }
  assert_int_equal(nat_link_get_expiry(l), NAT_TSTAMP_MAX);
  nat_link_free(l);
}

/* Uniform jitter: every delay within [delay - jitter, delay + jitter], both
 * ends of the range reached, order kept (jitter does not reorder). */
static void test_jitter_bounds(void **state) {
  nat_link_config cfg = {.delay = 20 * MS, .jitter = 5 * MS, .seed = 7};
  nat_link *l = new_link(&cfg);
  uint8_t pkt[8], out[8];
  nat_tstamp min = NAT_TSTAMP_MAX, max = 0;
  uint32_t expect = 0;
  (void)state;
  for (uint32_t i = 0; i < 2000; i++) {
    nat_tstamp now = (nat_tstamp)i * 10 * MS; /* spaced: no clamping */
    nat_tstamp d;
    nat_link_submit(l, now, pkt, make_pkt(pkt, i, sizeof pkt));
    d = nat_link_get_expiry(l) - now;
    if (d < min)
      min = d;
    if (d > max)
      max = d;
    assert_int_equal(nat_link_pop(l, now + 25 * MS, out, sizeof out), 8);
  }
  assert_true(min >= 15 * MS && min < 15 * MS + 100 * NAT_MICROSECONDS);
  assert_true(max <= 25 * MS && max > 25 * MS - 100 * NAT_MICROSECONDS);
  /* Back to back (0.1 ms apart): still FIFO, still within the bounds. */
  for (uint32_t i = 0; i < 1000; i++)
    nat_link_submit(l, 100 * NAT_SECONDS + i * 100 * NAT_MICROSECONDS, pkt,
                    make_pkt(pkt, i, sizeof pkt));
  for (;;) {
    nat_tstamp t = nat_link_get_expiry(l);
    nat_tstamp sent;
    if (t == NAT_TSTAMP_MAX)
      break;
    assert_int_equal(nat_link_pop(l, t, out, sizeof out), 8);
    assert_int_equal(pkt_seq(out), expect);
    sent = 100 * NAT_SECONDS + expect * 100 * NAT_MICROSECONDS;
    assert_true(t >= sent + 15 * MS && t <= sent + 25 * MS);
    expect++;
  }
  assert_int_equal(expect, 1000);
  nat_link_free(l);
}

/* Runs @p n packets through a link and records which were delivered. */
static void run_pattern(const nat_link_config *cfg, uint32_t n, uint8_t *got,
                        nat_link_stats *st) {
  nat_link *l = new_link(cfg);
  uint8_t pkt[8], out[8];
  memset(got, 0, n);
  for (uint32_t i = 0; i < n; i++) {
    nat_link_submit(l, i, pkt, make_pkt(pkt, i, sizeof pkt));
    while (nat_link_pop(l, i, out, sizeof out) > 0)
      got[pkt_seq(out)]++;
  }
  nat_link_stats_get(l, st);
  nat_link_free(l);
}

/* Loss over 100k packets near the setting; the same seed repeats exactly;
 * another seed gives another pattern. */
static void test_loss_rate_and_determinism(void **state) {
  enum { N = 100000 };
  nat_link_config cfg = {.loss = 0.2, .seed = 42};
  uint8_t *a = malloc(N), *b = malloc(N);
  nat_link_stats sa, sb;
  uint32_t delivered = 0;
  (void)state;
  run_pattern(&cfg, N, a, &sa);
  for (uint32_t i = 0; i < N; i++)
    delivered += a[i];
  assert_int_equal(delivered, sa.delivered);
  assert_int_equal(sa.lost + sa.delivered, N);
  /* 20000 expected, sd 126: within 4 sd. */
  assert_true(sa.lost > 19500 && sa.lost < 20500);
  run_pattern(&cfg, N, b, &sb);
  assert_memory_equal(a, b, N);
  assert_int_equal(sa.lost, sb.lost);
  cfg.seed = 43;
  run_pattern(&cfg, N, b, &sb);
  assert_true(memcmp(a, b, N) != 0);
  assert_true(sb.lost > 19500 && sb.lost < 20500);
  /* Loss 1 loses all, loss 0 none. */
  cfg.loss = 1.0;
  run_pattern(&cfg, 1000, b, &sb);
  assert_int_equal(sb.lost, 1000);
  assert_int_equal(sb.delivered, 0);
  free(a);
  free(b);
}

static void test_duplicates(void **state) {
  enum { N = 10000 };
  nat_link_config cfg = {.duplicate = 0.1, .seed = 3};
  uint8_t *got = malloc(N);
  nat_link_stats st;
  uint32_t twice = 0;
  (void)state;
  run_pattern(&cfg, N, got, &st);
  for (uint32_t i = 0; i < N; i++) {
    assert_true(got[i] == 1 || got[i] == 2);
    twice += got[i] == 2;
  }
  assert_int_equal(twice, st.duplicated);
  assert_int_equal(st.delivered, N + twice);
  assert_true(twice > 900 && twice < 1100);
  free(got);
}

/* Counts packets that come out after a later-submitted one (overtaken),
 * with packets submitted 0.1 ms apart and a 1 ms reorder gap. */
static uint32_t count_overtaken(const nat_link_config *cfg, uint32_t n,
                                nat_link_stats *st) {
  nat_link *l = new_link(cfg);
  uint8_t pkt[8], out[8];
  uint32_t overtaken = 0, highest = 0, seen = 0;
  for (uint32_t i = 0; i < n + 100; i++) {
    nat_tstamp now = (nat_tstamp)i * 100 * NAT_MICROSECONDS;
    if (i < n)
      assert_true(nat_link_submit(l, now, pkt, make_pkt(pkt, i, 8)) >= 0);
    while (nat_link_pop(l, now, out, sizeof out) > 0) {
      uint32_t s = pkt_seq(out);
      if (seen && s < highest)
        overtaken++;
      if (!seen || s > highest)
        highest = s;
      seen = 1;
    }
  }
  nat_link_stats_get(l, st);
  assert_int_equal(st->queue_len, 0);
  nat_link_free(l);
  return overtaken;
}

static void test_reorder_rate(void **state) {
  nat_link_config cfg = {.delay = 5 * MS, .seed = 11};
  nat_link_stats st;
  uint32_t o;
  (void)state;
  /* None configured: never, even with jitter (jitter keeps order). */
  cfg.jitter = 2 * MS;
  assert_int_equal(count_overtaken(&cfg, 20000, &st), 0);
  assert_int_equal(st.reordered, 0);
  /* 5 % without jitter: every held-back packet is overtaken (the next one
   * comes 0.1 ms after it, well inside the 1 ms gap), nothing else is. */
  cfg.jitter = 0;
  cfg.reorder = 0.05;
  o = count_overtaken(&cfg, 20000, &st);
  assert_true(st.reordered > 900 && st.reordered < 1100);
  assert_int_equal(o, st.reordered);
  assert_int_equal(st.delivered, 20000);
  /* With jitter larger than the gap, a held-back packet can be released
   * after its successors anyway: never more overtaken than held back. */
  cfg.jitter = 2 * MS;
  o = count_overtaken(&cfg, 20000, &st);
  assert_true(st.reordered > 900 && st.reordered < 1100);
  assert_true(o <= st.reordered && o * 10 >= st.reordered * 8);
}

static void test_queue_bound(void **state) {
  nat_link_config cfg = {.delay = MS, .max_queue = 10};
  nat_link *l = new_link(&cfg);
  uint8_t pkt[8];
  nat_link_stats st;
  (void)state;
  for (uint32_t i = 0; i < 15; i++)
    assert_int_equal(nat_link_submit(l, 0, pkt, make_pkt(pkt, i, 8)),
                     i < 10 ? 1 : 0);
  nat_link_stats_get(l, &st);
  assert_int_equal(st.overflow, 5);
  assert_int_equal(st.queue_len, 10);
  assert_int_equal(st.queue_max, 10);
  nat_link_free(l); /* frees the queued packets (ASan checks) */
}

/* A packet of @p len bytes all derived from @p seq, so that two packets
 * sharing storage would show. */
static void fill_pkt(uint8_t *buf, uint32_t seq, size_t len) {
  for (size_t i = 0; i < len; i++)
    buf[i] = (uint8_t)(seq * 131u + i * 7u);
  make_pkt(buf, seq, 4);
}

static void check_pkt(const uint8_t *buf, size_t len, uint32_t seq,
                      size_t want_len) {
  assert_int_equal(len, want_len);
  assert_int_equal(pkt_seq(buf), seq);
  for (size_t i = 4; i < len; i++)
    assert_int_equal(buf[i], (uint8_t)(seq * 131u + i * 7u));
}

/* Sizes around the pooled cell size (2048) and far above it. */
static size_t pool_len(uint32_t seq) {
  static const size_t sizes[] = {4, 64, 1500, 2047, 2048, 2049, 9000, 65535};
  return seq % 3 ? 20 + seq % 200 : sizes[(seq / 3) % 8];
}

/* Packet storage is recycled (a pool of cells, own allocations for large
 * packets): many fill-and-drain cycles through a queue whose bound is not
 * a multiple of the pool's block, with duplicates taking two slots, keep
 * every byte of every packet, FIFO order and the queue bound. */
static void test_storage_reuse(void **state) {
  nat_link_config cfg = {.max_queue = 100, .duplicate = 0.5, .seed = 9};
  nat_link *l = new_link(&cfg);
  static uint8_t pkt[65535], out[65535];
  uint32_t next = 0, expect = 0, dup_pending = 0;
  nat_link_stats st;
  (void)state;
  for (int cycle = 0; cycle < 50; cycle++) {
    /* Fill until the queue overflows (a duplicate may not fit). */
    for (;;) {
      size_t len = pool_len(next);
      int rv;
      fill_pkt(pkt, next, len);
      rv = nat_link_submit(l, (nat_tstamp)cycle, pkt, len);
      assert_true(rv >= 0);
      next++;
      nat_link_stats_get(l, &st);
      if (st.queue_len == 100)
        break;
    }
    /* Drain 2/3 of it (all of it every 5th cycle), checking each packet. */
    nat_link_stats_get(l, &st);
    for (uint64_t k = cycle % 5 ? st.queue_len * 2 / 3 : st.queue_len; k > 0;
         k--) {
      ssize_t n = nat_link_pop(l, (nat_tstamp)cycle, out, sizeof out);
      assert_true(n > 0);
      if (dup_pending && pkt_seq(out) == expect - 1) {
        dup_pending = 0; /* the second copy of the previous packet */
        check_pkt(out, (size_t)n, expect - 1, pool_len(expect - 1));
        continue;
      }
      while (pkt_seq(out) != expect) /* lost on overflow: skipped */
        expect++;
      check_pkt(out, (size_t)n, expect, pool_len(expect));
      expect++;
      dup_pending = 1;
    }
  }
  nat_link_stats_get(l, &st);
  assert_true(st.queue_max == 100);
  assert_true(st.duplicated > 0 && st.overflow > 0);
  assert_int_equal(st.submitted, next);
  nat_link_free(l); /* with packets of both kinds queued (ASan checks) */
}

/* 8 Mbit/s: a 1000-byte packet takes 1 ms on the wire; back to back they
 * leave 1 ms apart after the delay. */
static void test_rate_limit(void **state) {
  nat_link_config cfg = {.delay = 10 * MS, .rate_bps = 8000000};
  nat_link *l = new_link(&cfg);
  uint8_t pkt[1000];
  (void)state;
  for (uint32_t i = 0; i < 5; i++)
    nat_link_submit(l, 0, pkt, make_pkt(pkt, i, sizeof pkt));
  for (uint32_t i = 0; i < 5; i++) {
    assert_int_equal(nat_link_get_expiry(l), 10 * MS + (i + 1) * MS);
    assert_int_equal(nat_link_pop(l, NAT_TSTAMP_MAX - 1, NULL, 0), 1000);
  }
  nat_link_free(l);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_bad_config),
      cmocka_unit_test(test_passthrough),
      cmocka_unit_test(test_exact_delay),
      cmocka_unit_test(test_jitter_bounds),
      cmocka_unit_test(test_loss_rate_and_determinism),
      cmocka_unit_test(test_duplicates),
      cmocka_unit_test(test_reorder_rate),
      cmocka_unit_test(test_queue_bound),
      cmocka_unit_test(test_rate_limit),
      cmocka_unit_test(test_storage_reuse),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
