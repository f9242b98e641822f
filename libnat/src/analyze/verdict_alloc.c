/* Port allocation: classification (RFC 4787 section 4.2 "port
 * assignment"), prediction of a sequential NAT's next ports, and the
 * birthday-spray odds. Rules in nat/verdict.h. Pure: no I/O, no clock.
 *
 * The few functions the odds and the chance tests need (log, log1p, exp,
 * expm1, sqrt) are computed here by series: written when the library did
 * not link libm (it does since the birthday spray, nat/birthday.h), and
 * kept so that the figures reports and replays give do not move. The
 * verdict's birthday odds are the with-replacement estimate
 * 1 - (1 - K/n)^m, within a probe of nat/birthday.h's exact
 * nat_bday_odds() for K much smaller than n; the spray's plan uses the
 * exact one. */
#include <math.h> /* HUGE_VAL only: a macro */
#include <stdlib.h>
#include <string.h>

#include "nat/error.h"
#include "verdict_internal.h"

#define DMAX 64 /* largest |delta| of a sequential NAT */
#define KMAX 16 /* largest multiple of delta one step may take */

#define PRESERVE_SHARE  0.75
#define SEQ_SHARE       0.60
#define RANDOM_MAX_SEQ  0.35
#define RANDOM_LARGE    0.60
#define PARITY_MIN      4
#define PRED_ALPHA      0.5
#define DEFAULT_WRAP_LO 1024
/* samples needed before the observed range counts as the NAT's range */
#define WRAP_OBSERVED_MIN 6
/* the chance tests of the random rule ("chance in a range" below): their
 * level, the smallest observed range they apply to, and the most samples
 * whose order is judged by the exact distribution */
#define CHANCE_ALPHA    1e-4
#define CHANCE_SPAN_MIN (4 * DMAX)
#define ORDER_EXACT     64

/* --------------------------------------------------------------- the math
 */

static const double LN2_HI = 6.93147180369123816490e-01;
static const double LN2_LO = 1.90821492927058770002e-10;

/* 2 atanh(z) for |z| < 0.2 by its series. */
static double atanh2(double z) {
  double z2 = z * z, term = z, sum = 0.0;
  int k;
  for (k = 1; k < 60; k += 2) {
    sum += term / k;
    term *= z2;
    if (term < 1e-18 && term > -1e-18)
      break;
  }
  return 2.0 * sum;
}

/* Natural log of x > 0. */
static double nlog(double x) {
  int e = 0;
  while (x > 1.4142135623730951) {
    x *= 0.5;
    e++;
  }
  while (x < 0.7071067811865476) {
    x *= 2.0;
    e--;
  }
  return (double)e * LN2_HI + (double)e * LN2_LO + atanh2((x - 1) / (x + 1));
}

/* log(1 + y), y > -1, accurate for small y. */
static double nlog1p(double y) {
  if (y > -0.25 && y < 0.25)
    return atanh2(y / (2.0 + y));
  return nlog(1.0 + y);
}

/* exp(x) = 2^k (1 + e): returns e = exp(r) - 1 for the reduced r and sets
 * *p2k = 2^k. */
static double exp_split(double x, double *p2k) {
  double term, sum, r, p;
  long k;
  k = (long)(x / (LN2_HI + LN2_LO) + (x >= 0 ? 0.5 : -0.5));
  r = (x - (double)k * LN2_HI) - (double)k * LN2_LO;
  term = r;
  sum = 0.0;
  for (int i = 2; i < 40 && (term > 1e-19 || term < -1e-19); i++) {
    sum += term;
    term *= r / i;
  }
  p = 1.0;
  for (; k > 0; k--)
    p *= 2.0;
  for (; k < 0; k++)
    p *= 0.5;
  *p2k = p;
  return sum;
}

/* exp(x) - 1, accurate for small x. */
static double nexpm1(double x) {
  double sum, p;
  if (x < -745.0)
    return -1.0;
  if (x > 709.0)
    return HUGE_VAL;
  sum = exp_split(x, &p);
  /* exp(x) - 1 = 2^k (sum + 1) - 1 */
  return p == 1.0 ? sum : p * (sum + 1.0) - 1.0;
}

/* exp(x), accurate relative to the result also for very negative x. */
static double nexp(double x) {
  double sum, p;
  if (x < -745.0)
    return 0.0;
  if (x > 709.0)
    return HUGE_VAL;
  sum = exp_split(x, &p);
  return p * (sum + 1.0);
}

static double nsqrt(double x) {
  double g;
  int i;
  if (!(x > 0))
    return 0.0;
  g = nexpm1(0.5 * nlog(x)) + 1.0; /* exp(log(x) / 2), then Newton */
  for (i = 0; i < 8; i++)
    g = 0.5 * (g + x / g);
  return g;
}

double nat_birthday_success(double probes, double open, double range,
                            bool both_hard) {
  if (!(range > 0) || !(probes > 0))
    return 0.0;
  if (both_hard)
    return -nexpm1(probes * probes * nlog1p(-1.0 / (range * range)));
  if (!(open > 0))
    return 0.0;
  if (open >= range)
    return 1.0;
  return -nexpm1(probes * nlog1p(-open / range));
}

double nat_birthday_probes(double p, double open, double range,
                           bool both_hard) {
  double lq;
  if (!(p > 0))
    return 0.0;
  if (!(p < 1) || !(range > 0))
    return HUGE_VAL;
  lq = nlog1p(-p);
  if (both_hard)
    return nsqrt(lq / nlog1p(-1.0 / (range * range)));
  if (!(open > 0))
    return HUGE_VAL;
  if (open >= range)
    return 1.0;
  return lq / nlog1p(-open / range);
}

/* ------------------------------------------------------------ the samples
 */

typedef struct pairkey {
  uint32_t key; /* local port << 16 | mapped port */
  size_t idx;
} pairkey;

static int cmp_pairkey(const void *pa, const void *pb) {
  const pairkey *a = pa, *b = pb;
  if (a->key != b->key)
    return a->key < b->key ? -1 : 1;
  return a->idx < b->idx ? -1 : a->idx > b->idx;
}

/* Copy @p s without the samples that repeat an earlier (local, mapped)
 * pair: those reuse a mapping, they are not allocations. Sorting the
 * pairs finds the first of each in O(n log n). */
static int dedupe(const nat_port_sample *s, size_t n, nat_port_sample **out,
                  size_t *m) {
  size_t i, k = 0;
  nat_port_sample *d;
  pairkey *pk;
  bool *keep;
  *out = NULL;
  *m = 0;
  if (n == 0)
    return 0;
  if (n > SIZE_MAX / sizeof *pk)
    return NAT_ENOMEM;
  d = malloc(n * sizeof *d);
  pk = malloc(n * sizeof *pk);
  keep = calloc(n, sizeof *keep);
  if (d == NULL || pk == NULL || keep == NULL) {
    free(d);
    free(pk);
    free(keep);
    return NAT_ENOMEM;
  }
  for (i = 0; i < n; i++) {
    pk[i].key = (uint32_t)s[i].local_port << 16 | s[i].mapped_port;
    pk[i].idx = i;
  }
  qsort(pk, n, sizeof *pk, cmp_pairkey);
  for (i = 0; i < n; i++)
    keep[pk[i].idx] = i == 0 || pk[i].key != pk[i - 1].key;
  for (i = 0; i < n; i++)
    if (keep[i])
      d[k++] = s[i];
  free(pk);
  free(keep);
  *out = d;
  *m = k;
  return 0;
}

typedef struct actx {
  const nat_port_sample *s;
  size_t n;
  int32_t lo, hi; /* observed mapped range */
} actx;

/* k in 1..KMAX if @p step == k * @p d, else 0. */
static int32_t mult_of(int32_t step, int32_t d) {
  int32_t k;
  if (step == 0 || d == 0 || (step > 0) != (d > 0) || step % d != 0)
    return 0;
  k = step / d;
  return k <= KMAX ? k : 0;
}

/* The multiple of @p d that takes port @p a to port @p b, across the end
 * of a range if need be (*wrapped set), or 0. */
static int32_t step_k(const actx *c, uint16_t a, uint16_t b, int32_t d,
                      bool *wrapped) {
  const int32_t spans[4] = {c->hi - c->lo + 1, 65536, 65536 - 1024,
                            65536 - 49152};
  int32_t s = (int32_t)b - (int32_t)a, k;
  size_t i;
  *wrapped = false;
  k = mult_of(s, d);
  if (k != 0 || s == 0 || (d > 0 && s > 0) || (d < 0 && s < 0))
    return k; /* a wrap goes against the direction of d */
  /* with few samples the observed extremes define the span, so a jump
   * from the highest to the lowest would always look like a wrap */
  for (i = c->n >= WRAP_OBSERVED_MIN ? 0 : 1; i < 4; i++) {
    k = mult_of(d > 0 ? s + spans[i] : s - spans[i], d);
    if (k != 0) {
      *wrapped = true;
      return k;
    }
  }
  return 0;
}

typedef struct walk_res {
  size_t good, exact, bad;
  bool wrapped;
  size_t count[KMAX + 1]; /* good steps by multiple of d */
} walk_res;

/* Walk the samples with delta @p d: a sample that follows the last
 * consistent one by k*d is good; a lone outlier is skipped; a new run
 * that continues from a sample re-anchors there. */
static void walk(const actx *c, int32_t d, walk_res *w) {
  size_t i, last = 0;
  bool wr;
  memset(w, 0, sizeof *w);
  for (i = 1; i < c->n; i++) {
    int32_t k = step_k(c, c->s[last].mapped_port, c->s[i].mapped_port, d, &wr);
    if (k != 0) {
      w->good++;
      w->count[k]++;
      if (k == 1)
        w->exact++;
      if (wr)
        w->wrapped = true;
      last = i;
      continue;
    }
    w->bad++;
    if (i + 1 < c->n &&
        step_k(c, c->s[i].mapped_port, c->s[i + 1].mapped_port, d, &wr) &&
        !step_k(c, c->s[last].mapped_port, c->s[i + 1].mapped_port, d, &wr))
      last = i;
  }
}

/* The candidate deltas: every small step seen (raw or across the end of
 * the observed range). */
static void candidates(const actx *c, bool seen[2 * DMAX + 1]) {
  size_t i;
  int32_t span = c->n >= WRAP_OBSERVED_MIN ? c->hi - c->lo + 1 : 64512;
  memset(seen, 0, (2 * DMAX + 1) * sizeof seen[0]);
  for (i = 1; i < c->n; i++) {
    int32_t s = (int32_t)c->s[i].mapped_port - (int32_t)c->s[i - 1].mapped_port;
    int32_t v[3] = {s, s + span, s - span};
    int j;
    for (j = 0; j < 3; j++)
      if (v[j] != 0 && v[j] >= -DMAX && v[j] <= DMAX)
        seen[v[j] + DMAX] = true;
  }
}

/* The best delta and its walk; false if no candidate. */
static bool best_delta(const actx *c, int32_t *d_out, walk_res *best) {
  bool seen[2 * DMAX + 1];
  double best_score = -1.0;
  int32_t d;
  candidates(c, seen);
  for (d = 1; d <= DMAX; d++) {
    int sign;
    for (sign = 1; sign >= -1; sign -= 2) {
      int32_t dd = sign * d;
      walk_res w;
      double score;
      if (!seen[dd + DMAX])
        continue;
      walk(c, dd, &w);
      score = (double)w.good + 0.5 * (double)w.exact;
      if (score > best_score) {
        best_score = score;
        *best = w;
        *d_out = dd;
      }
    }
  }
  return best_score >= 0;
}

/* Steps too large for a sequential NAT: beyond *lim = DMAX, or a quarter
 * of the observed range when that is less. */
static size_t large_steps(const actx *c, int32_t *lim) {
  int32_t span = c->hi - c->lo + 1;
  size_t i, large = 0;
  *lim = span / 4 < DMAX ? span / 4 : DMAX;
  for (i = 1; i < c->n; i++) {
    int32_t s = (int32_t)c->s[i].mapped_port - (int32_t)c->s[i - 1].mapped_port;
    if (s > *lim || s < -*lim)
      large++;
  }
  return large;
}

/* ------------------------------------------------------ chance in a range
 *
 * The random rule's two thresholds are fixed shares, right for the whole
 * port space, where a uniform port lands within DMAX of the previous one,
 * or a few multiples of some delta from it, once in hundreds of steps. In
 * a small range they are not: among uniform ports in 1000, a step is
 * within 64 one time in 8, so 7 small steps of 15 (the rule allows 6)
 * come in 1 series of 800, and 3 of 7 in 1 of 20; one of the 128 deltas
 * now and then explains 35 % of the steps. Such series were "unknown".
 *
 * So, from WRAP_OBSERVED_MIN samples and an observed range of
 * CHANCE_SPAN_MIN ports on, a series that fails a threshold is still
 * random if what fails it is no more than uniform draws from the observed
 * range give by chance (P(at least as many) >= CHANCE_ALPHA):
 *  - the best delta's good steps, and its exact ones: against the
 *    likeliest delta's chance per step, for the 2 * DMAX deltas and both
 *    counts (a union bound);
 *  - the small steps: against their chance per step; and the steps must
 *    then not go one way more often than in a random order (the ascents of
 *    a random permutation), since a sequential NAT whose gaps hide its
 *    delta still steps one way.
 * Below CHANCE_SPAN_MIN ports, "small" is a quarter of the range, which
 * uniform draws hit too often for the count to tell a NAT that keeps to a
 * neighbourhood from a random one: the fixed thresholds stand there. The
 * chances per step are upper bounds (the observed range is narrower than
 * the NAT's; the walk's chance is doubled for its re-anchoring), so the
 * tests lean to random only as far as chance does. */

/* P(X >= k) for X ~ Binomial(m, p). */
static double binom_tail(size_t m, size_t k, double p) {
  double lt = 0.0, term, sum = 0.0, r;
  size_t i, j, kk;
  if (k == 0 || p >= 1.0)
    return 1.0;
  if (k > m || !(p > 0.0))
    return 0.0;
  kk = k < m - k ? k : m - k; /* log C(m, k) */
  for (i = 1; i <= kk; i++)
    lt += nlog((double)(m - kk + i) / (double)i);
  lt += (double)k * nlog(p) + (double)(m - k) * nlog1p(-p);
  term = nexp(lt);
  r = p / (1.0 - p);
  for (j = k; j <= m; j++) {
    sum += term;
    if (j == m || ((double)j > (double)m * p && term < sum * 1e-17))
      break;
    term *= (double)(m - j) / (double)(j + 1) * r;
  }
  return sum < 1.0 ? sum : 1.0;
}

/* Probability that two ports drawn uniformly from the observed range
 * differ by @p v. */
static double diff_prob(const actx *c, int32_t v) {
  double span = (double)(c->hi - c->lo + 1), a = v < 0 ? -(double)v : v;
  return a < span ? (span - a) / (span * span) : 0.0;
}

/* Chance that a uniform port follows a given one by k*d, k = 1..@p kmax
 * (any of step_k's wraps), doubled because a bad step lets the walk
 * re-anchor on the sample after it. */
static double fit_chance(const actx *c, int32_t d, int32_t kmax) {
  const int32_t spans[4] = {c->hi - c->lo + 1, 65536, 65536 - 1024,
                            65536 - 49152};
  double q = 0.0;
  int32_t k;
  size_t i;
  for (k = 1; k <= kmax; k++) {
    q += diff_prob(c, k * d);
    for (i = c->n >= WRAP_OBSERVED_MIN ? 0 : 1; i < 4; i++)
      q += diff_prob(c, d > 0 ? k * d - spans[i] : k * d + spans[i]);
  }
  return 2.0 * q < 1.0 ? 2.0 * q : 1.0;
}

/* The best delta's walk @p w (its good steps, and its exact ones) is no
 * better than one of the 2 * DMAX deltas does by chance. */
static bool fits_by_chance(const actx *c, const walk_res *w) {
  double qg = 0.0, qe = 0.0, t, e;
  int32_t d;
  for (d = -DMAX; d <= DMAX; d++) { /* the likeliest delta bounds all */
    double g = d ? fit_chance(c, d, KMAX) : 0.0,
           x = d ? fit_chance(c, d, 1) : 0.0;
    qg = g > qg ? g : qg;
    qe = x > qe ? x : qe;
  }
  t = binom_tail(c->n - 1, w->good, qg);
  e = binom_tail(c->n - 1, w->exact, qe);
  return 2.0 * 2.0 * DMAX * (t < e ? t : e) >= CHANCE_ALPHA;
}

/* The steps of at most @p lim are no more than chance gives. */
static bool small_by_chance(const actx *c, size_t small, int32_t lim) {
  double p = 0.0;
  int32_t v;
  for (v = -lim; v <= lim; v++)
    p += diff_prob(c, v);
  return binom_tail(c->n - 1, small, p) >= CHANCE_ALPHA;
}

/* P(A >= a) for the ascents A of a uniformly random order of @p n
 * distinct values (the Eulerian distribution, exact up to ORDER_EXACT
 * values; beyond, the binomial bound, which is wider). */
static double ascent_tail(size_t n, size_t a) {
  double p[ORDER_EXACT] = {1.0}, sum = 0.0;
  size_t j, k;
  if (n > ORDER_EXACT)
    return binom_tail(n - 1, a, 0.5);
  for (j = 2; j <= n; j++) /* p[k] = P(k ascents among j values) */
    for (k = j - 1; k < j; k--)
      p[k] = ((double)(k + 1) * (k < j - 1 ? p[k] : 0.0) +
              (double)(j - k) * (k > 0 ? p[k - 1] : 0.0)) /
             (double)j;
  for (k = a; k < n; k++)
    sum += p[k];
  return sum;
}

/* The steps go one way no more often than chance orders them: a
 * sequential NAT's steps, gaps included, all go the way of its delta. */
static bool order_by_chance(const actx *c) {
  size_t i, up = 0, down = 0;
  for (i = 1; i < c->n; i++) {
    up += c->s[i].mapped_port > c->s[i - 1].mapped_port;
    down += c->s[i].mapped_port < c->s[i - 1].mapped_port;
  }
  return 2.0 * ascent_tail(up + down + 1, up > down ? up : down) >=
         CHANCE_ALPHA;
}

static void classify_deduped(const actx *c, nat_alloc_verdict *out) {
  size_t i, same = 0, par = 0;
  size_t nlarge;
  double disc = 1.0 - 1.0 / (double)c->n, share, large;
  int32_t d = 0, lim;
  bool chance;
  walk_res w;
  memset(&w, 0, sizeof w);
  for (i = 0; i < c->n; i++) {
    if (c->s[i].mapped_port == c->s[i].local_port)
      same++;
    if ((c->s[i].mapped_port & 1) == (c->s[i].local_port & 1))
      par++;
  }
  if (c->n >= PARITY_MIN)
    out->parity = par == c->n ? NAT_TRI_YES : NAT_TRI_NO;
  if ((double)same / (double)c->n >= PRESERVE_SHARE) {
    out->kind = NAT_PA_PRESERVING;
    out->confidence = (double)same / (double)c->n * disc;
    out->parity = NAT_TRI_YES;
    return;
  }
  share = 0.0;
  if (best_delta(c, &d, &w))
    share = (double)w.good / (double)(c->n - 1);
  if (share >= SEQ_SHARE && w.good >= 2) {
    out->kind = NAT_PA_SEQUENTIAL;
    out->delta = d;
    out->confidence = share * disc;
    return;
  }
  nlarge = large_steps(c, &lim);
  large = (double)nlarge / (double)(c->n - 1);
  chance = c->n >= WRAP_OBSERVED_MIN && c->hi - c->lo + 1 >= CHANCE_SPAN_MIN;
  if ((share < RANDOM_MAX_SEQ || (chance && fits_by_chance(c, &w))) &&
      (large >= RANDOM_LARGE ||
       (chance && small_by_chance(c, c->n - 1 - nlarge, lim) &&
        order_by_chance(c)))) {
    out->kind = NAT_PA_RANDOM;
    out->confidence = large * disc;
  }
}

static void range_of(const nat_port_sample *s, size_t n, int32_t *lo,
                     int32_t *hi) {
  size_t i;
  *lo = 65535;
  *hi = 0;
  for (i = 0; i < n; i++) {
    if (s[i].mapped_port < *lo)
      *lo = s[i].mapped_port;
    if (s[i].mapped_port > *hi)
      *hi = s[i].mapped_port;
  }
}

int nat_alloc_classify(const nat_port_sample *s, size_t n,
                       nat_alloc_verdict *out) {
  nat_port_sample *d;
  actx c;
  int rc;
  if (out == NULL || (s == NULL && n > 0))
    return NAT_EINVAL;
  memset(out, 0, sizeof *out);
  rc = dedupe(s, n, &d, &c.n);
  if (rc != 0)
    return rc;
  c.s = d;
  out->samples = c.n;
  if (c.n > 0) {
    range_of(d, c.n, &c.lo, &c.hi);
    out->lo = (uint16_t)c.lo;
    out->hi = (uint16_t)c.hi;
  }
  if (c.n >= 3)
    classify_deduped(&c, out);
  free(d);
  return 0;
}

/* ------------------------------------------------------------- prediction
 */

/* Bring @p p into [lo, hi] by whole spans. */
static uint16_t wrap_into(int32_t p, int32_t lo, int32_t hi) {
  int32_t span = hi - lo + 1;
  while (p > hi)
    p -= span;
  while (p < lo)
    p += span;
  return (uint16_t)p;
}

static void sort_by_prob(nat_prediction *out) {
  size_t i, j;
  for (i = 1; i < out->n; i++) {
    double pr = out->prob[i];
    uint16_t po = out->port[i];
    for (j = i; j > 0 && out->prob[j - 1] < pr; j--) {
      out->prob[j] = out->prob[j - 1];
      out->port[j] = out->port[j - 1];
    }
    out->prob[j] = pr;
    out->port[j] = po;
  }
}

int nat_alloc_predict(const nat_alloc_verdict *a, const nat_port_sample *s,
                      size_t n, size_t max, nat_prediction *out) {
  nat_port_sample *d;
  actx c;
  walk_res w;
  double prior = 0.0, den;
  int32_t lo, hi, last;
  size_t k;
  int rc;
  if (out != NULL)
    memset(out, 0, sizeof *out);
  if (a == NULL || s == NULL || out == NULL || n == 0 || max == 0 ||
      max > NAT_PREDICT_MAX || a->kind != NAT_PA_SEQUENTIAL || a->delta == 0 ||
      a->delta > DMAX || a->delta < -DMAX)
    return NAT_EINVAL;
  rc = dedupe(s, n, &d, &c.n);
  if (rc != 0)
    return rc;
  c.s = d;
  range_of(d, c.n, &c.lo, &c.hi);
  walk(&c, a->delta, &w);
  last = d[c.n - 1].mapped_port;
  if (w.wrapped) {
    lo = c.lo;
    hi = c.hi;
  } else {
    lo = c.lo < DEFAULT_WRAP_LO ? 1 : DEFAULT_WRAP_LO;
    hi = 65535;
  }
  free(d);
  for (k = 1; k <= max; k++)
    prior += PRED_ALPHA / (double)k;
  den = (double)(w.good + w.bad) + prior;
  for (k = 1; k <= max; k++) {
    double cnt = k <= KMAX ? (double)w.count[k] : 0.0;
    out->port[out->n] = wrap_into(last + (int32_t)k * a->delta, lo, hi);
    out->prob[out->n] = (cnt + PRED_ALPHA / (double)k) / den;
    out->n++;
  }
  sort_by_prob(out);
  return 0;
}
