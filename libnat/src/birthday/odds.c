/* libnat -- the birthday odds (nat/birthday.h). Pure. (The lead's
 * interim version; replaced by the odds helper's.) */
#include <math.h>

#include "nat/birthday.h"

double nat_bday_odds(uint32_t n, uint32_t k, uint32_t m) {
  double miss = 0.0;
  if (k == 0 || m == 0 || n == 0)
    return 0.0;
  if (k >= n || m > n - k)
    return 1.0;
  for (uint32_t i = 0; i < m; i++)
    miss += log1p(-(double)k / (double)(n - i));
  return 1.0 - exp(miss);
}

uint32_t nat_bday_probes_for(uint32_t n, uint32_t k, double p) {
  double miss = 0.0, target;
  if (k == 0 || n == 0 || !(p > 0.0 && p < 1.0))
    return 0;
  if (k >= n)
    return 1;
  target = log1p(-p);
  for (uint32_t i = 0; i < n - k; i++) {
    miss += log1p(-(double)k / (double)(n - i));
    if (miss <= target)
      return i + 1;
  }
  return n - k + 1;
}

double nat_bday_odds_both(uint32_t n, uint64_t m) {
  double nn = (double)n * (double)n;
  if (n == 0 || m == 0)
    return 0.0;
  return -expm1((double)m * (double)m * log1p(-1.0 / nn));
}

uint64_t nat_bday_probes_for_both(uint32_t n, double p) {
  if (!(p > 0.0 && p < 1.0))
    return 0;
  return (uint64_t)ceil((double)n * sqrt(-log1p(-p)));
}

void nat_bday_wilson(uint32_t hits, uint32_t n, double *lo, double *hi) {
  const double z = 1.959963984540054;
  double ph, d, c, h;
  if (n == 0) {
    *lo = 0.0;
    *hi = 1.0;
    return;
  }
  ph = (double)hits / n;
  d = 1.0 + z * z / n;
  c = (ph + z * z / (2.0 * n)) / d;
  h = z * sqrt(ph * (1.0 - ph) / n + z * z / (4.0 * (double)n * n)) / d;
  *lo = c - h < 0.0 ? 0.0 : c - h;
  *hi = c + h > 1.0 ? 1.0 : c + h;
}
