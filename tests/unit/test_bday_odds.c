/* The birthday spray's odds (nat/birthday.h, odds.c): the exact chance of
 * a hit, its inverse, the both-hard estimate and the Wilson interval,
 * against figures computed independently (Python's math.log1p/expm1 over
 * the same product, math.fsum) and against the figures of issue 11:
 * K = 256 over 64512 ports: about 174 probes for 50 %, 1024 for 98 %,
 * 2048 for 99.9 %; K = 256 in 4096 ports: about 70 for 99 %; both hard:
 * about 170,000 probes a side for 99.9 %. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h> /* NAN */

#include "nat/birthday.h"

#define FULL 64512u /* 1024-65535 */

/* |got - want| <= tol * max(|want|, tiny) */
#define assert_rel(got, want, tol) check_rel(got, want, tol, __LINE__)
static void check_rel(double got, double want, double tol, int line) {
  double d = got - want, w = want < 0 ? -want : want;
  if (d < 0)
    d = -d;
  if (w < 1e-300)
    w = 1e-300;
  if (!(d <= tol * w))
    fail_msg("line %d: got %.17g, want %.17g (rel %.3g > %.3g)", line, got,
             want, d / w, tol);
}

static void test_issue_figures(void **state) {
  (void)state;
  /* the fewest probes, exactly, and the issue's round figures */
  uint32_t m50 = nat_bday_probes_for(FULL, 256, 0.5);
  uint32_t m98 = nat_bday_probes_for(FULL, 256, 0.98);
  uint32_t m999 = nat_bday_probes_for(FULL, 256, 0.999);
  assert_int_equal(m50, 175);
  assert_int_equal(m98, 977);
  assert_int_equal(m999, 1715);
  assert_in_range(m50, 170, 180); /* "about 174" */
  assert_true(m98 <= 1024);       /* 1024 probes give 98 % */
  assert_true(m999 <= 2048);      /* 2048 probes give 99.9 % */
  assert_rel(nat_bday_odds(FULL, 256, 174), 0.4998168737042461, 1e-12);
  assert_rel(nat_bday_odds(FULL, 256, 175), 0.5018, 1e-3);
  assert_rel(nat_bday_odds(FULL, 256, 1024), 0.9834979339784977, 1e-12);
  assert_rel(nat_bday_odds(FULL, 256, 2048), 0.9997452974038017, 1e-12);
  assert_rel(nat_bday_odds(FULL, 256, 1000), 0.9818179237112219, 1e-12);
  /* the default budget reaches 99.9 % */
  assert_true(nat_bday_odds(FULL, NAT_BDAY_SOCKETS_DEFAULT,
                            NAT_BDAY_PROBES_DEFAULT) >= 0.999);
  /* K = 256 in a 4096-port block: about 70 for 99 % */
  assert_int_equal(nat_bday_probes_for(4096, 256, 0.99), 71);
  assert_rel(nat_bday_odds(4096, 256, 70), 0.9895114249189235, 1e-12);
  assert_true(nat_bday_odds(4096, 256, 71) >= 0.99);
}

/* The table of docs/birthday.md (probes for 50/90/99/99.9 %). */
static void test_table(void **state) {
  (void)state;
  static const uint32_t k[3] = {64, 128, 256}, n[3] = {FULL, 4096, 1000};
  static const double p[4] = {0.5, 0.9, 0.99, 0.999};
  static const uint32_t want[3][3][4] = {
      {{695, 2279, 4477, 6598}, {44, 144, 283, 416}, {11, 35, 68, 100}},
      {{349, 1149, 2278, 3386}, {22, 72, 143, 212}, {6, 17, 34, 50}},
      {{175, 577, 1148, 1715}, {11, 36, 71, 106}, {3, 8, 16, 24}}};
  for (int a = 0; a < 3; a++)
    for (int b = 0; b < 3; b++)
      for (int c = 0; c < 4; c++) {
        uint32_t m = nat_bday_probes_for(n[b], k[a], p[c]);
        assert_int_equal(m, want[a][b][c]);
        /* fewest: m reaches p, m - 1 does not */
        assert_true(nat_bday_odds(n[b], k[a], m) >= p[c]);
        assert_true(nat_bday_odds(n[b], k[a], m - 1) < p[c]);
      }
}

/* Small m is summed term by term, larger m in log space: both agree with
 * the reference and with each other where they meet (32 / 33 probes). */
static void test_small_and_large(void **state) {
  (void)state;
  assert_rel(nat_bday_odds(FULL, 256, 1), 256.0 / FULL, 1e-15);
  assert_rel(nat_bday_odds(FULL, 256, 2), 0.00792082216567963, 1e-13);
  assert_rel(nat_bday_odds(FULL, 256, 5), 0.019685028530295575, 1e-13);
  assert_rel(nat_bday_odds(FULL, 256, 32), 0.11950179493243927, 1e-13);
  assert_rel(nat_bday_odds(FULL, 256, 33), 0.12299756944387376, 1e-13);
  assert_rel(nat_bday_odds(FULL, 256, 100), 0.32828480827756057, 1e-13);
  assert_rel(nat_bday_odds(1000, 256, 2), 0.44665465465465465, 1e-14);
  assert_rel(nat_bday_odds(1000, 256, 5), 0.7728226359763282, 1e-13);
  assert_rel(nat_bday_odds(1000, 256, 32), 0.9999347864847412, 1e-13);
  assert_rel(nat_bday_odds(1000, 256, 33), 0.9999520330342311, 1e-13);
  assert_rel(nat_bday_odds(FULL, 1, 1), 1.5500992063492063e-05, 1e-15);
  /* exact: two ports, one mapped, one probe: 1/2; two probes: 1 */
  assert_rel(nat_bday_odds(2, 1, 1), 0.5, 0);
  assert_rel(nat_bday_odds(2, 1, 2), 1.0, 0);
  /* three ports, one mapped: 1/3, 2/3 */
  assert_rel(nat_bday_odds(3, 1, 1), 1.0 / 3.0, 1e-15);
  assert_rel(nat_bday_odds(3, 1, 2), 2.0 / 3.0, 1e-15);
  /* increasing in m and in k */
  double prev = 0;
  for (uint32_t m = 1; m <= 4000; m += 37) {
    double p = nat_bday_odds(FULL, 64, m);
    assert_true(p > prev);
    assert_true(nat_bday_odds(FULL, 65, m) > p);
    prev = p;
  }
}

static void test_edges(void **state) {
  (void)state;
  /* no mapped port, or no probe: never */
  assert_true(nat_bday_odds(FULL, 0, 1000) == 0.0);
  assert_true(nat_bday_odds(FULL, 256, 0) == 0.0);
  assert_true(nat_bday_odds(0, 0, 0) == 0.0);
  /* more probes than unmapped ports: certain */
  assert_true(nat_bday_odds(1000, 256, 745) == 1.0);
  assert_rel(nat_bday_odds(10, 3, 7), 119.0 / 120.0, 1e-15); /* 1 - 1/C(10,3) */
  assert_true(nat_bday_odds(1000, 256, 65535) == 1.0);
  /* every port mapped (k >= n): the first probe hits */
  assert_true(nat_bday_odds(100, 100, 1) == 1.0);
  assert_true(nat_bday_odds(100, 200, 1) == 1.0);
  assert_int_equal(nat_bday_probes_for(100, 100, 0.5), 1);
  assert_int_equal(nat_bday_probes_for(100, 200, 0.999), 1);
  /* p out of range, or nothing to hit: 0 (never reached) */
  assert_int_equal(nat_bday_probes_for(FULL, 0, 0.5), 0);
  assert_int_equal(nat_bday_probes_for(FULL, 256, 0.0), 0);
  assert_int_equal(nat_bday_probes_for(FULL, 256, 1.0), 0);
  assert_int_equal(nat_bday_probes_for(FULL, 256, -1.0), 0);
  assert_int_equal(nat_bday_probes_for(FULL, 256, NAN), 0);
  /* p just below 1 is reached at the latest at n - k + 1 */
  assert_int_equal(nat_bday_probes_for(10, 3, 0.995), 8);
  assert_int_equal(nat_bday_probes_for(10, 1, 0.95), 10);
  assert_int_equal(nat_bday_probes_for(10, 1, 0.85), 9);
}

static void test_both_hard(void **state) {
  (void)state;
  uint64_t m = nat_bday_probes_for_both(FULL, 0.999);
  assert_int_equal(m, 169555);
  assert_in_range(m, 165000, 175000); /* "about 170,000 probes a side" */
  assert_rel(nat_bday_odds_both(FULL, m), 0.999, 1e-6);
  assert_true(nat_bday_odds_both(FULL, m) >= 0.999);
  assert_true(nat_bday_odds_both(FULL, m - 1) < 0.999);
  assert_rel(nat_bday_odds_both(FULL, 100000), 0.909536384683063, 1e-12);
  assert_rel(nat_bday_odds_both(FULL, 10), 2.4028075209456934e-08, 1e-9);
  /* the spray's own budget, both hard: hopeless */
  assert_true(nat_bday_odds_both(FULL, NAT_BDAY_PROBES_MAX) < 0.07);
  assert_true(nat_bday_odds_both(FULL, 0) == 0.0);
  assert_true(nat_bday_odds_both(0, 10) == 0.0);
  assert_true(nat_bday_odds_both(1, 1) == 1.0);
  assert_int_equal(nat_bday_probes_for_both(FULL, 0.0), 0);
  assert_int_equal(nat_bday_probes_for_both(FULL, 1.0), 0);
  /* n sqrt(ln 2) for 50 %: 53709.1 */
  assert_int_equal(nat_bday_probes_for_both(FULL, 0.5), 53710);
}

static void test_wilson(void **state) {
  (void)state;
  double lo, hi;
  nat_bday_wilson(50, 100, &lo, &hi);
  assert_rel(lo, 0.4038315303659956, 1e-12);
  assert_rel(hi, 0.5961684696340044, 1e-12);
  nat_bday_wilson(0, 10, &lo, &hi);
  assert_true(lo == 0.0);
  assert_rel(hi, 0.2775327998628892, 1e-12);
  nat_bday_wilson(10, 10, &lo, &hi);
  assert_rel(lo, 0.7224672001371107, 1e-12);
  assert_true(hi == 1.0);
  nat_bday_wilson(9990, 10000, &lo, &hi);
  assert_rel(lo, 0.9981600556125619, 1e-12);
  assert_rel(hi, 0.9994567140135028, 1e-12);
  /* no trials: no information */
  nat_bday_wilson(0, 0, &lo, &hi);
  assert_true(lo == 0.0 && hi == 1.0);
  nat_bday_wilson(3, 7, NULL, NULL); /* outputs optional */
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_issue_figures),   cmocka_unit_test(test_table),
      cmocka_unit_test(test_small_and_large), cmocka_unit_test(test_edges),
      cmocka_unit_test(test_both_hard),       cmocka_unit_test(test_wilson),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
