/* Port allocation classifier, prediction and birthday odds on synthetic
 * sequences (nat/verdict.h): table-driven cases, a deterministic
 * false-positive check over 1000 random and 1000 jittered sequences, and
 * Tailscale's public birthday figures. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "nat/error.h"
#include "nat/verdict.h"

#define MAXS 64

/* A fixed 64-bit LCG (Knuth's MMIX constants): deterministic "random". */
static uint64_t lcg_state;

static void lcg_seed(uint64_t s) {
  lcg_state = s;
}

static uint32_t lcg(void) {
  lcg_state = lcg_state * 6364136223846793005ULL + 1442695040888963407ULL;
  return (uint32_t)(lcg_state >> 33);
}

/* Uniform in [lo, hi]. */
static uint16_t lcg_port(uint32_t lo, uint32_t hi) {
  return (uint16_t)(lo + lcg() % (hi - lo + 1));
}

typedef enum gen {
  G_PRESERVING,
  G_SEQ,        /* start, delta, range lo/hi for wrap */
  G_SEQ_JITTER, /* +delta with 30 % steps of 2*delta or 3*delta */
  G_SEQ_OUTLIERS,
  G_RANDOM, /* uniform in [lo, hi] */
  G_SAME_SOCKET,
  G_SAME_MAPPED,
  G_HALF
} gen;

/* Fill @p s with @p n samples of kind @p g; local ports are random
 * ephemeral ports (32768..60999) unless preserving. */
static void make(nat_port_sample *s, size_t n, gen g, int32_t start,
                 int32_t delta, int32_t lo, int32_t hi, uint64_t seed) {
  int32_t p = start;
  size_t i;
  lcg_seed(seed);
  for (i = 0; i < n; i++) {
    s[i].local_port = lcg_port(32768, 60999);
    s[i].at = (nat_tstamp)i * NAT_MILLISECONDS;
    switch (g) {
    case G_PRESERVING:
      s[i].mapped_port = s[i].local_port;
      break;
    case G_SEQ:
    case G_SEQ_JITTER:
    case G_SEQ_OUTLIERS:
    case G_HALF:
      if (i > 0) {
        uint32_t r = lcg() % 10;
        int32_t k = g == G_SEQ_JITTER && r < 3 ? (int32_t)(2 + r % 2) : 1;
        p += k * delta;
        if (p > hi)
          p -= hi - lo + 1;
        if (p < lo)
          p += hi - lo + 1;
      }
      s[i].mapped_port = (uint16_t)p;
      if (g == G_SEQ_OUTLIERS && (i == 5 || i == 13))
        s[i].mapped_port = lcg_port(1024, 65535);
      if (g == G_HALF && i >= n / 2)
        s[i].mapped_port = lcg_port(1024, 65535);
      break;
    case G_RANDOM:
      s[i].mapped_port = lcg_port((uint32_t)lo, (uint32_t)hi);
      break;
    case G_SAME_SOCKET:
      s[i].local_port = 40000;
      s[i].mapped_port = 50000;
      break;
    case G_SAME_MAPPED:
      s[i].mapped_port = 50000;
      break;
    }
  }
}

typedef struct acase {
  const char *name;
  gen g;
  size_t n;
  int32_t start, delta, lo, hi;
  uint8_t want;
  int32_t want_delta;
  double min_conf;
} acase;

static const acase cases[] = {
    {"preserving", G_PRESERVING, 12, 0, 0, 0, 0, NAT_PA_PRESERVING, 0, 0.85},
    {"+1", G_SEQ, 20, 20000, 1, 1024, 65535, NAT_PA_SEQUENTIAL, 1, 0.9},
    {"+2", G_SEQ, 20, 30000, 2, 1024, 65535, NAT_PA_SEQUENTIAL, 2, 0.9},
    {"-1", G_SEQ, 20, 40000, -1, 1024, 65535, NAT_PA_SEQUENTIAL, -1, 0.9},
    {"+1 wrap 65535->1024", G_SEQ, 12, 65530, 1, 1024, 65535, NAT_PA_SEQUENTIAL,
     1, 0.85},
    {"+1 wrap 20999->20000", G_SEQ, 12, 20994, 1, 20000, 20999,
     NAT_PA_SEQUENTIAL, 1, 0.85},
    {"-1 wrap 1024->65535", G_SEQ, 12, 1027, -1, 1024, 65535, NAT_PA_SEQUENTIAL,
     -1, 0.85},
    {"+1 jitter 30 %", G_SEQ_JITTER, 20, 20000, 1, 1024, 65535,
     NAT_PA_SEQUENTIAL, 1, 0.9},
    {"+4 jitter 30 %", G_SEQ_JITTER, 20, 20000, 4, 1024, 65535,
     NAT_PA_SEQUENTIAL, 4, 0.9},
    {"+1 two outliers", G_SEQ_OUTLIERS, 20, 20000, 1, 1024, 65535,
     NAT_PA_SEQUENTIAL, 1, 0.8},
    {"linux random 1024-65535", G_RANDOM, 20, 0, 0, 1024, 65535, NAT_PA_RANDOM,
     0, 0.8},
    {"random 20000-20999", G_RANDOM, 20, 0, 0, 20000, 20999, NAT_PA_RANDOM, 0,
     0.8},
    {"2 samples", G_SEQ, 2, 20000, 1, 1024, 65535, NAT_PA_UNKNOWN, 0, 0},
    {"one socket reused", G_SAME_SOCKET, 8, 0, 0, 0, 0, NAT_PA_UNKNOWN, 0, 0},
    {"one mapped port for all", G_SAME_MAPPED, 8, 0, 0, 0, 0, NAT_PA_UNKNOWN, 0,
     0},
    {"half sequential half random", G_HALF, 20, 20000, 1, 1024, 65535,
     NAT_PA_UNKNOWN, 0, 0},
};

static void test_table(void **state) {
  size_t i;
  (void)state;
  for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    const acase *c = &cases[i];
    nat_port_sample s[MAXS];
    nat_alloc_verdict v;
    make(s, c->n, c->g, c->start, c->delta, c->lo, c->hi, 1000 + i);
    assert_int_equal(nat_alloc_classify(s, c->n, &v), 0);
    if (v.kind != c->want ||
        (c->want == NAT_PA_SEQUENTIAL && v.delta != c->want_delta)) {
      print_error("case '%s': got %s delta %d conf %.2f\n", c->name,
                  nat_pa_kind_name(v.kind), (int)v.delta, v.confidence);
      fail();
    }
    if (v.confidence < c->min_conf || v.confidence > 1.0) {
      print_error("case '%s': confidence %.3f\n", c->name, v.confidence);
      fail();
    }
  }
}

static void test_details(void **state) {
  nat_port_sample s[MAXS];
  nat_alloc_verdict v;
  (void)state;
  /* range, samples, confidence of a clean +1 run of 20 */
  make(s, 20, G_SEQ, 20000, 1, 1024, 65535, 7);
  assert_int_equal(nat_alloc_classify(s, 20, &v), 0);
  assert_int_equal(v.lo, 20000);
  assert_int_equal(v.hi, 20019);
  assert_int_equal(v.samples, 20);
  assert_true(v.confidence > 0.94 && v.confidence < 0.96); /* 1 * (1-1/20) */
  /* wrap: the observed range spans the wrap */
  make(s, 12, G_SEQ, 65530, 1, 1024, 65535, 7);
  assert_int_equal(nat_alloc_classify(s, 12, &v), 0);
  assert_int_equal(v.lo, 1024);
  assert_int_equal(v.hi, 65535);
  /* preserving: parity trivially yes */
  make(s, 12, G_PRESERVING, 0, 0, 0, 0, 7);
  assert_int_equal(nat_alloc_classify(s, 12, &v), 0);
  assert_int_equal(v.parity, NAT_TRI_YES);
  /* one collision out of 12 still preserving */
  s[4].mapped_port = (uint16_t)(s[4].local_port + 1);
  assert_int_equal(nat_alloc_classify(s, 12, &v), 0);
  assert_int_equal(v.kind, NAT_PA_PRESERVING);
  /* random ports that keep the local parity: parity yes, not preserving */
  make(s, 12, G_RANDOM, 0, 0, 1024, 65535, 7);
  for (size_t i = 0; i < 12; i++)
    s[i].mapped_port =
        (uint16_t)((s[i].mapped_port & ~1u) | (s[i].local_port & 1u));
  assert_int_equal(nat_alloc_classify(s, 12, &v), 0);
  assert_int_equal(v.kind, NAT_PA_RANDOM);
  assert_int_equal(v.parity, NAT_TRI_YES);
  s[3].mapped_port ^= 1u;
  assert_int_equal(nat_alloc_classify(s, 12, &v), 0);
  assert_int_equal(v.parity, NAT_TRI_NO);
  /* fewer than 4 samples: parity unknown */
  assert_int_equal(nat_alloc_classify(s, 3, &v), 0);
  assert_int_equal(v.parity, NAT_TRI_UNKNOWN);
  /* a reused socket is one allocation: samples counts allocations */
  make(s, 8, G_SAME_SOCKET, 0, 0, 0, 0, 7);
  assert_int_equal(nat_alloc_classify(s, 8, &v), 0);
  assert_int_equal(v.samples, 1);
  /* arguments */
  assert_int_equal(nat_alloc_classify(NULL, 3, &v), NAT_EINVAL);
  assert_int_equal(nat_alloc_classify(s, 3, NULL), NAT_EINVAL);
  assert_int_equal(nat_alloc_classify(NULL, 0, &v), 0);
  assert_int_equal(v.kind, NAT_PA_UNKNOWN);
}

/* 1000 sequences of 20 uniform ports: never sequential; 1000 jittered
 * +1 sequences (with wraparound): always sequential with delta 1. */
static void test_false_positives(void **state) {
  size_t t, seq = 0, rnd = 0, ok = 0;
  (void)state;
  for (t = 0; t < 1000; t++) {
    nat_port_sample s[20];
    nat_alloc_verdict v;
    make(s, 20, G_RANDOM, 0, 0, 1024, 65535, 50000 + t);
    assert_int_equal(nat_alloc_classify(s, 20, &v), 0);
    seq += v.kind == NAT_PA_SEQUENTIAL;
    rnd += v.kind == NAT_PA_RANDOM;
  }
  assert_int_equal(seq, 0);
  assert_true(rnd >= 990);
  for (t = 0; t < 1000; t++) {
    nat_port_sample s[20];
    nat_alloc_verdict v;
    lcg_seed(90000 + t);
    make(s, 20, G_SEQ_JITTER, (int32_t)lcg_port(1024, 65535), 1, 1024, 65535,
         90000 + t);
    assert_int_equal(nat_alloc_classify(s, 20, &v), 0);
    ok += v.kind == NAT_PA_SEQUENTIAL && v.delta == 1;
  }
  assert_int_equal(ok, 1000);
}

static double sum_prob(const nat_prediction *p) {
  double sum = 0;
  for (size_t i = 0; i < p->n; i++)
    sum += p->prob[i];
  return sum;
}

static void test_predict(void **state) {
  nat_port_sample s[MAXS];
  nat_alloc_verdict v;
  nat_prediction p;
  size_t i;
  (void)state;
  /* clean +1: last + 1 on top, far above the rest */
  make(s, 20, G_SEQ, 20000, 1, 1024, 65535, 3);
  assert_int_equal(nat_alloc_classify(s, 20, &v), 0);
  assert_int_equal(nat_alloc_predict(&v, s, 20, 8, &p), 0);
  assert_int_equal(p.n, 8);
  assert_int_equal(p.port[0], 20020);
  assert_true(p.prob[0] > 0.9);
  for (i = 1; i < p.n; i++)
    assert_true(p.prob[i] < p.prob[0] / 10);
  assert_true(sum_prob(&p) <= 1.0 + 1e-9);
  /* jitter: probability spread over +1, +2, +3 */
  make(s, 40, G_SEQ_JITTER, 20000, 1, 1024, 65535, 11);
  assert_int_equal(nat_alloc_classify(s, 40, &v), 0);
  assert_int_equal(v.kind, NAT_PA_SEQUENTIAL);
  assert_int_equal(nat_alloc_predict(&v, s, 40, NAT_PREDICT_MAX, &p), 0);
  assert_int_equal(p.port[0], s[39].mapped_port + 1);
  assert_true(p.prob[0] > 0.5 && p.prob[0] < 0.85);
  {
    bool seen2 = false, seen3 = false;
    for (i = 1; i < 3; i++) {
      seen2 |= p.port[i] == s[39].mapped_port + 2 && p.prob[i] > 0.05;
      seen3 |= p.port[i] == s[39].mapped_port + 3 && p.prob[i] > 0.05;
    }
    assert_true(seen2 && seen3);
  }
  assert_true(sum_prob(&p) <= 1.0 + 1e-9);
  /* -2 wraps below the observed range into it when a wrap was seen */
  make(s, 12, G_SEQ, 20004, -2, 20000, 20999, 5);
  assert_int_equal(nat_alloc_classify(s, 12, &v), 0);
  assert_int_equal(v.kind, NAT_PA_SEQUENTIAL);
  assert_int_equal(v.delta, -2);
  assert_int_equal(nat_alloc_predict(&v, s, 12, 2, &p), 0);
  assert_int_equal(p.port[0], s[11].mapped_port - 2);
  /* +1 at the top of the port space wraps to 1024 */
  make(s, 6, G_SEQ, 65530, 1, 1024, 65535, 5);
  assert_int_equal(nat_alloc_classify(s, 6, &v), 0);
  assert_int_equal(nat_alloc_predict(&v, s, 6, 2, &p), 0);
  assert_int_equal(p.port[0], 1024);
  assert_int_equal(p.port[1], 1025);
  /* not sequential, bad max */
  make(s, 20, G_RANDOM, 0, 0, 1024, 65535, 5);
  assert_int_equal(nat_alloc_classify(s, 20, &v), 0);
  assert_int_equal(nat_alloc_predict(&v, s, 20, 4, &p), NAT_EINVAL);
  v.kind = NAT_PA_SEQUENTIAL;
  v.delta = 1;
  assert_int_equal(nat_alloc_predict(&v, s, 20, 0, &p), NAT_EINVAL);
  assert_int_equal(nat_alloc_predict(&v, s, 20, NAT_PREDICT_MAX + 1, &p),
                   NAT_EINVAL);
  assert_int_equal(nat_alloc_predict(&v, NULL, 20, 4, &p), NAT_EINVAL);
}

static void near(double got, double want, double tol) {
  if (got < want - tol || got > want + tol) {
    print_error("got %f, want %f +- %f\n", got, want, tol);
    fail();
  }
}

/* Tailscale's public figures, with NAT_BIRTHDAY_RANGE (1024..65535). */
static void test_birthday_anchors(void **state) {
  const double R = NAT_BIRTHDAY_RANGE;
  double n;
  (void)state;
  near(nat_birthday_success(174, 256, R, false), 0.50, 0.01);
  near(nat_birthday_success(256, 256, R, false), 0.64, 0.01);
  near(nat_birthday_success(1024, 256, R, false), 0.98, 0.005);
  assert_true(nat_birthday_success(2048, 256, R, false) >= 0.999);
  n = nat_birthday_probes(0.5, 1, R, true);
  near(n, 54000, 54000 * 0.02);
  n = nat_birthday_probes(0.999, 1, R, true);
  near(n, 170000, 170000 * 0.02);
  near(nat_birthday_success(54000, 0, R, true), 0.5, 0.01);
  near(nat_birthday_success(170000, 0, R, true), 0.999, 0.0005);
  /* inverse of each other */
  n = nat_birthday_probes(0.99, 256, R, false);
  near(nat_birthday_success(n, 256, R, false), 0.99, 1e-9);
  n = nat_birthday_probes(0.9, 256, R, true);
  near(nat_birthday_success(n, 256, R, true), 0.9, 1e-9);
  /* the exact small-odds closed form: 1 - (1 - 1/4)^2 */
  near(nat_birthday_success(2, 1, 4, false), 1 - 0.75 * 0.75, 1e-12);
  /* edges */
  assert_true(nat_birthday_success(0, 256, R, false) == 0.0);
  assert_true(nat_birthday_success(10, 0, R, false) == 0.0);
  assert_true(nat_birthday_success(10, 256, 0, false) == 0.0);
  assert_true(nat_birthday_success(1, 300, 256, false) == 1.0);
  assert_true(nat_birthday_probes(0, 256, R, false) == 0.0);
  assert_true(nat_birthday_probes(1, 256, R, false) > 1e300);
  assert_true(nat_birthday_probes(0.5, 0, R, false) > 1e300);
  /* monotonic in probes */
  assert_true(nat_birthday_success(100, 256, R, false) <
              nat_birthday_success(101, 256, R, false));
}

/* Reused mappings are dropped before classifying: a long sequence that
 * repeats a core of allocations (a replay of the same run many times)
 * classifies and predicts exactly like the core; and a long sequence of
 * distinct samples is classified in O(n log n), not O(n^2). */
static void test_repeated_core(void **state) {
  enum { CORE = 24, COPIES = 4000 };
  nat_port_sample core[CORE], *big;
  nat_alloc_verdict a1, a2;
  nat_prediction p1, p2;
  size_t i, n = (size_t)CORE * COPIES;
  (void)state;
  make(core, CORE, G_SEQ_JITTER, 20000, 2, 1024, 65535, 7);
  big = test_malloc(n * sizeof *big);
  for (i = 0; i < n; i++) {
    big[i] = core[i % CORE];
    big[i].at = (nat_tstamp)i;
  }
  assert_int_equal(nat_alloc_classify(core, CORE, &a1), 0);
  assert_int_equal(nat_alloc_classify(big, n, &a2), 0);
  assert_int_equal(a1.kind, NAT_PA_SEQUENTIAL);
  assert_memory_equal(&a1, &a2, sizeof a1);
  assert_int_equal(nat_alloc_predict(&a1, core, CORE, 8, &p1), 0);
  assert_int_equal(nat_alloc_predict(&a2, big, n, 8, &p2), 0);
  assert_memory_equal(&p1, &p2, sizeof p1);
  /* all distinct: a long sequential run from fresh sockets */
  for (i = 0; i < n; i++) {
    big[i].local_port = (uint16_t)(32768 + i % 28000);
    big[i].mapped_port = (uint16_t)(1024 + i % 64512);
  }
  assert_int_equal(nat_alloc_classify(big, n, &a2), 0);
  assert_int_equal(a2.samples, n);
  assert_int_equal(a2.kind, NAT_PA_SEQUENTIAL);
  assert_int_equal(a2.delta, 1);
  test_free(big);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_table),
      cmocka_unit_test(test_details),
      cmocka_unit_test(test_false_positives),
      cmocka_unit_test(test_predict),
      cmocka_unit_test(test_birthday_anchors),
      cmocka_unit_test(test_repeated_core),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
