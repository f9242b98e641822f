/* libnat -- the birthday spray's odds (nat/birthday.h): the exact chance
 * that m distinct probes hit one of K mapped ports among N, its inverse,
 * the both-hard estimate and the Wilson interval the simulation reports.
 * Pure: no I/O, no clock.
 *
 * The product is summed in log space with log1p (a miss chance close to 1
 * keeps its precision), and the chance of a hit taken as -expm1 of the
 * sum (a small chance keeps its precision); below DIRECT_MAX probes it is
 * summed term by term instead, without logarithms. */
#include <math.h>
#include <stdint.h>

#include "nat/birthday.h"

/* Below this many probes the chance is summed term by term (the chance
 * that probe j is the first hit), without logarithms: exact to rounding. */
#define DIRECT_MAX 32

/* log((n-k-i) / (n-i)): the log of the chance that probe i (0-based)
 * misses when the i before it missed too; n - k - i > 0. */
static double log_miss(uint32_t n, uint32_t k, uint32_t i) {
  double left = (double)(n - i);
  double y = (double)k / left;
  if (y < 0.25)
    return log1p(-y);
  return log((double)(n - k - i) / left);
}

double nat_bday_odds(uint32_t n, uint32_t k, uint32_t m) {
  if (k == 0 || m == 0)
    return 0.0;
  if (k >= n || m > n - k)
    return 1.0;
  if (m <= DIRECT_MAX) {
    /* sum over j of P(probes 0..j-1 miss, probe j hits) */
    double miss = 1.0, hit = 0.0;
    for (uint32_t j = 0; j < m; j++) {
      hit += miss * (double)k / (double)(n - j);
      miss *= (double)(n - k - j) / (double)(n - j);
    }
    return hit;
  }
  double s = 0.0;
  for (uint32_t i = 0; i < m; i++)
    s += log_miss(n, k, i);
  return -expm1(s);
}

uint32_t nat_bday_probes_for(uint32_t n, uint32_t k, double p) {
  if (k == 0 || !(p > 0.0) || !(p < 1.0))
    return 0;
  if (k >= n)
    return 1;
  /* the log of the miss chance, one probe at a time, up to m = n - k + 1
   * (where the odds are 1) */
  double s = 0.0;
  uint32_t m = n - k + 1;
  for (uint32_t i = 0; i < n - k; i++) {
    s += log_miss(n, k, i);
    if (-expm1(s) >= p) {
      m = i + 1;
      break;
    }
  }
  /* agree with nat_bday_odds() exactly where the two sums round apart */
  while (m > 1 && nat_bday_odds(n, k, m - 1) >= p)
    m--;
  while (m <= n - k && nat_bday_odds(n, k, m) < p)
    m++;
  return m;
}

double nat_bday_odds_both(uint32_t n, uint64_t m) {
  if (n == 0 || m == 0)
    return 0.0;
  if (n == 1)
    return 1.0;
  double nn = (double)n * (double)n, mm = (double)m * (double)m;
  return -expm1(mm * log1p(-1.0 / nn));
}

uint64_t nat_bday_probes_for_both(uint32_t n, double p) {
  if (!(p > 0.0) || !(p < 1.0))
    return 0;
  return (uint64_t)ceil((double)n * sqrt(-log1p(-p)));
}

void nat_bday_wilson(uint32_t hits, uint32_t n, double *lo, double *hi) {
  const double z = 1.959963984540054, z2 = z * z;
  double l = 0.0, h = 1.0;
  if (n > 0) {
    double nn = (double)n, x = (double)(hits > n ? n : hits);
    double ph = x / nn, den = 1.0 + z2 / nn;
    double mid = (ph + z2 / (2.0 * nn)) / den;
    double half = z * sqrt(ph * (1.0 - ph) / nn + z2 / (4.0 * nn * nn)) / den;
    l = mid - half;
    h = mid + half;
    if (l < 0.0 || x == 0.0)
      l = 0.0;
    if (h > 1.0 || x == nn)
      h = 1.0;
  }
  if (lo)
    *lo = l;
  if (hi)
    *hi = h;
}
