/* libnat -- the birthday spray's odds (nat/birthday.h): the exact chance
 * that m distinct probes hit one of K mapped ports among N, its inverse,
 * the both-hard estimate and the Wilson interval the simulation reports.
 * Pure: no I/O, no clock.
 *
 * The library does not link libm, so the few functions needed here (log,
 * log1p, expm1, sqrt) are computed below from the bits of the double and
 * short series; each is accurate to a few ulp over the arguments the odds
 * give them (checked against libm in tests/unit/test_bday_odds.c). */
#include <stdint.h>
#include <string.h>

#include "nat/birthday.h"

/* Below this many probes the chance is summed term by term (the chance
 * that probe j is the first hit), without logarithms: exact to rounding. */
#define DIRECT_MAX 32

static const double LN2_HI = 6.93147180369123816490e-01;
static const double LN2_LO = 1.90821492927058770002e-10;
static const double SQRT2 = 1.41421356237309504880;

/* 2^k for -1074 <= k <= 1023 (0 below), built from the exponent bits. */
static double pow2i(int k) {
  uint64_t bits;
  double d;
  if (k < -1074)
    return 0.0;
  if (k < -1022) /* subnormal: 2^(k + 64) * 2^-64 */
    return pow2i(k + 64) * 5.42101086242752217004e-20;
  if (k > 1023)
    k = 1023;
  bits = (uint64_t)(k + 1023) << 52;
  memcpy(&d, &bits, sizeof d);
  return d;
}

/* 2 atanh(z) = log((1 + z) / (1 - z)) for |z| <= 0.18, by its series. */
static double log_ratio_series(double z) {
  double z2 = z * z, power = z, sum = 0.0;
  for (unsigned k = 1; k < 64; k += 2) {
    double term = power / (double)k;
    sum += term;
    if (term < 1e-20 && term > -1e-20)
      break;
    power *= z2;
  }
  return 2.0 * sum;
}

/* Natural log of a positive normal x: x = 2^e * f, f in [sqrt(1/2),
 * sqrt(2)), log x = e ln 2 + 2 atanh((f - 1) / (f + 1)). */
static double ln(double x) {
  uint64_t bits;
  double f;
  int e;
  memcpy(&bits, &x, sizeof bits);
  e = (int)((bits >> 52) & 0x7ff) - 1023;
  bits = (bits & 0x000fffffffffffffULL) | 0x3ff0000000000000ULL;
  memcpy(&f, &bits, sizeof f);
  if (f > SQRT2) {
    f *= 0.5;
    e++;
  }
  return (double)e * LN2_HI +
         ((double)e * LN2_LO + log_ratio_series((f - 1.0) / (f + 1.0)));
}

/* log(1 + y) for y > -1, accurate also for small |y|. */
static double ln1p(double y) {
  if (y > -0.25 && y < 0.25)
    return log_ratio_series(y / (2.0 + y));
  return ln(1.0 + y);
}

/* exp(x) - 1, accurate also for small |x|: x = k ln 2 + r, |r| <= ln 2 / 2,
 * exp(x) - 1 = 2^k (expm1(r) + 1) - 1 with expm1(r) by its series. */
static double expm1_(double x) {
  double r, term, sum, p;
  long k;
  if (x < -745.0)
    return -1.0;
  if (x > 709.0)
    x = 709.0;
  k = (long)(x / LN2_HI + (x >= 0 ? 0.5 : -0.5));
  r = (x - (double)k * LN2_HI) - (double)k * LN2_LO;
  term = r;
  sum = 0.0;
  for (unsigned i = 2; i < 40; i++) {
    sum += term;
    if (term < 1e-20 && term > -1e-20)
      break;
    term *= r / (double)i;
  }
  if (k == 0)
    return sum;
  p = pow2i((int)k);
  return p * sum + (p - 1.0);
}

/* Square root of x >= 0: a guess from the halved exponent, then Newton. */
static double sqrt_(double x) {
  uint64_t bits;
  double g;
  if (!(x > 0.0))
    return 0.0;
  memcpy(&bits, &x, sizeof bits);
  bits = (bits >> 1) + (0x3ffULL << 51); /* about 2^(e/2) */
  memcpy(&g, &bits, sizeof g);
  for (int i = 0; i < 8; i++)
    g = 0.5 * (g + x / g);
  return g;
}

/* The smallest integer >= v, for 0 <= v < 2^63. */
static uint64_t ceil_u64(double v) {
  uint64_t t = (uint64_t)v;
  return (double)t < v ? t + 1 : t;
}

/* log((n-k-i) / (n-i)): the log of the chance that probe i (0-based)
 * misses when the i before it missed too; n - k - i > 0. */
static double log_miss(uint32_t n, uint32_t k, uint32_t i) {
  double left = (double)(n - i);
  double y = (double)k / left;
  if (y < 0.25)
    return ln1p(-y);
  return ln((double)(n - k - i) / left);
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
  return -expm1_(s);
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
    if (-expm1_(s) >= p) {
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
  return -expm1_(mm * ln1p(-1.0 / nn));
}

uint64_t nat_bday_probes_for_both(uint32_t n, double p) {
  if (!(p > 0.0) || !(p < 1.0))
    return 0;
  return ceil_u64((double)n * sqrt_(-ln1p(-p)));
}

void nat_bday_wilson(uint32_t hits, uint32_t n, double *lo, double *hi) {
  const double z = 1.959963984540054, z2 = z * z;
  double l = 0.0, h = 1.0;
  if (n > 0) {
    double nn = (double)n, x = (double)(hits > n ? n : hits);
    double ph = x / nn, den = 1.0 + z2 / nn;
    double mid = (ph + z2 / (2.0 * nn)) / den;
    double half = z * sqrt_(ph * (1.0 - ph) / nn + z2 / (4.0 * nn * nn)) / den;
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
