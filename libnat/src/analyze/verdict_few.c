/* Port allocation from few samples (nat/verdict.h, "Allocation from few
 * samples"): when the allocation test's fresh sockets do not decide,
 * every answered observation of the family gives allocations, one per
 * distinct (local socket, mapped address) pair, and the verdict follows
 * by likelihood. Pure: no I/O, no clock. */
#include <stdlib.h>
#include <string.h>

#include "base/addr_internal.h"
#include "nat/error.h"
#include "verdict_internal.h"

/* Ports a random allocator draws from (nat/verdict.h). */
#define FEW_RANGE 64512.0
/* The largest step a sequential allocator with jitter takes: KMAX (16)
 * multiples of the largest delta DMAX (64), as nat_alloc_classify()
 * allows. */
#define FEW_JITTER_MAX (16 * 64)
/* The chance that one step of a sequential allocator is larger than
 * that (a wrap, or a burst of other hosts' allocations). */
#define FEW_JUMP       0.1
#define FEW_RANDOM_MIN 4
#define FEW_LARGE_MIN  2

typedef struct pair {
  nat_addr local, mapped;
  nat_tstamp at;
  size_t idx;
} pair;

static int cmp_time(const pair *a, const pair *b) {
  if (a->at != b->at)
    return a->at < b->at ? -1 : 1;
  return a->idx < b->idx ? -1 : a->idx > b->idx;
}

static int cmp_pair(const void *pa, const void *pb) {
  const pair *a = pa, *b = pb;
  int c = nat__addr_cmp(&a->local, &b->local);
  if (c == 0)
    c = nat__addr_cmp(&a->mapped, &b->mapped);
  return c != 0 ? c : cmp_time(a, b);
}

static int cmp_pair_time(const void *pa, const void *pb) {
  return cmp_time(pa, pb);
}

static bool few_obs(const nat_obs *o, uint8_t fam) {
  return (o->test == NAT_OBS_BASIC || o->test == NAT_OBS_MAPPING ||
          o->test == NAT_OBS_FILTERING || o->test == NAT_OBS_ALLOCATION) &&
         nat__answered_mapped(o) && o->mapped.family == fam &&
         o->local.family == fam && o->local.port != 0 &&
         nat__addr_ip_len(&o->mapped) > 0;
}

static size_t few_count(const nat_obslog *log, uint8_t fam) {
  size_t i, n = nat_obslog_count(log), cnt = 0;
  for (i = 0; i < n; i++)
    cnt += few_obs(nat_obslog_at(log, i), fam);
  return cnt;
}

int nat__alloc_samples_any(const nat_obslog *log, nat_port_sample **out,
                           size_t *n) {
  size_t i, k = 0, m = 0, total = nat_obslog_count(log);
  uint8_t fam = NAT_AF_INET;
  size_t cnt = few_count(log, fam);
  pair *p;
  *out = NULL;
  *n = 0;
  if (cnt == 0)
    cnt = few_count(log, fam = NAT_AF_INET6);
  if (cnt == 0)
    return 0;
  p = malloc(cnt * sizeof *p);
  *out = malloc(cnt * sizeof **out);
  if (p == NULL || *out == NULL) {
    free(p);
    free(*out);
    *out = NULL;
    return NAT_ENOMEM;
  }
  for (i = 0; i < total; i++) {
    const nat_obs *o = nat_obslog_at(log, i);
    if (!few_obs(o, fam))
      continue;
    p[k].local = o->local;
    p[k].mapped = o->mapped;
    p[k].at = o->sent_at;
    p[k].idx = k;
    k++;
  }
  qsort(p, cnt, sizeof *p, cmp_pair); /* the first of each pair */
  for (i = 0; i < cnt; i++)
    if (i == 0 || nat__addr_cmp(&p[i].local, &p[m - 1].local) != 0 ||
        nat__addr_cmp(&p[i].mapped, &p[m - 1].mapped) != 0)
      p[m++] = p[i];
  qsort(p, m, sizeof *p, cmp_pair_time);
  for (i = 0; i < m; i++) {
    (*out)[i].local_port = p[i].local.port;
    (*out)[i].mapped_port = p[i].mapped.port;
    (*out)[i].at = p[i].at;
  }
  free(p);
  *n = m;
  return 0;
}

/* (1/FEW_RANGE)^n: the chance a random allocator preserves n ports. */
static double pow_range(size_t n) {
  double p = 1.0;
  size_t i;
  for (i = 0; i < n && p > 0.0; i++)
    p /= FEW_RANGE;
  return p;
}

static void range_of(const nat_port_sample *s, size_t n, nat_alloc_verdict *a) {
  size_t i;
  a->lo = 65535;
  a->hi = 0;
  for (i = 0; i < n; i++) {
    a->lo = s[i].mapped_port < a->lo ? s[i].mapped_port : a->lo;
    a->hi = s[i].mapped_port > a->hi ? s[i].mapped_port : a->hi;
  }
}

typedef struct first_key {
  uint16_t port;
  size_t idx;
} first_key;

static int cmp_first(const void *pa, const void *pb) {
  const first_key *a = pa, *b = pb;
  if (a->port != b->port)
    return a->port < b->port ? -1 : 1;
  return a->idx < b->idx ? -1 : a->idx > b->idx;
}

/* The first mapping of every local port (socket) kept that port, for two
 * local ports or more: *k gets how many. A socket's later mappings (other
 * destinations of a non-EI mapping) find its port taken by the first, so
 * they do not count against. False also when memory runs out. */
static bool few_preserving(const nat_port_sample *s, size_t n, size_t *k) {
  first_key *f;
  size_t i;
  bool ok = true;
  *k = 0;
  if (n < 2 || (f = malloc(n * sizeof *f)) == NULL)
    return false;
  for (i = 0; i < n; i++) {
    f[i].port = s[i].local_port;
    f[i].idx = i;
  }
  qsort(f, n, sizeof *f, cmp_first);
  for (i = 0; i < n && ok; i++) {
    if (i > 0 && f[i].port == f[i - 1].port)
      continue; /* not the socket's first mapping */
    ok = s[f[i].idx].mapped_port == f[i].port;
    (*k)++;
  }
  free(f);
  return ok && *k >= 2;
}

/* Preserved ports, and steps larger than a sequential allocator's. */
static void few_counts(const nat_port_sample *s, size_t n, size_t *same,
                       size_t *large) {
  size_t i;
  *same = *large = 0;
  for (i = 0; i < n; i++) {
    int32_t d =
        i ? (int32_t)s[i].mapped_port - (int32_t)s[i - 1].mapped_port : 0;
    *same += s[i].mapped_port == s[i].local_port;
    *large += d > FEW_JITTER_MAX || d < -FEW_JITTER_MAX;
  }
}

static double pow_jump(size_t large) {
  double p = 1.0;
  size_t i;
  for (i = 0; i < large; i++)
    p *= FEW_JUMP;
  return p;
}

/* The classifier's verdict on @p n >= 3 allocations, with random held to
 * the rule of few samples. */
static int few_classified(const nat_port_sample *s, size_t n,
                          nat_alloc_verdict *a, nat__why *why) {
  size_t same, large;
  int rc = nat_alloc_classify(s, n, a);
  if (rc != 0)
    return rc;
  few_counts(s, n, &same, &large);
  if (a->kind == NAT_PA_SEQUENTIAL) {
    nat__why_set(why,
                 "%zu allocations (every socket and destination) in ports "
                 "%u-%u, steps multiples of %+d -> sequential",
                 a->samples, a->lo, a->hi, (int)a->delta);
    why->conf = a->confidence;
    return 0;
  }
  if (a->kind == NAT_PA_PRESERVING) {
    nat__why_set(why,
                 "%zu allocations (every socket and destination), most with "
                 "public port == local port -> preserving",
                 a->samples);
    why->conf = a->confidence;
    return 0;
  }
  if (a->kind == NAT_PA_RANDOM && a->samples >= FEW_RANDOM_MIN && same == 0 &&
      large >= FEW_LARGE_MIN) {
    a->confidence = 1.0 - pow_jump(large);
    nat__why_set(why,
                 "%zu allocations (every socket and destination) in ports "
                 "%u-%u, none preserved, %zu steps beyond %d ports that a "
                 "sequential allocator takes 1 time in 10 -> random",
                 a->samples, a->lo, a->hi, large, FEW_JITTER_MAX);
    why->conf = a->confidence;
    return 0;
  }
  memset(a, 0, sizeof *a);
  return 0;
}

static void few_unknown(size_t n, nat__why *why) {
  nat__why_set(why,
               "%zu allocations over all sockets fit no rule (need 2 "
               "preserved ports from 2 sockets, 3 on one step, or %d "
               "unpreserved for random) -> unknown",
               n, FEW_RANDOM_MIN);
}

int nat__alloc_few(const nat_port_sample *s, size_t n, nat_alloc_verdict *a,
                   nat__why *why) {
  size_t k;
  memset(a, 0, sizeof *a);
  few_unknown(n, why);
  if (few_preserving(s, n, &k)) {
    a->kind = NAT_PA_PRESERVING;
    a->samples = n;
    a->parity = k == n ? NAT_TRI_YES : NAT_TRI_UNKNOWN;
    range_of(s, n, a);
    a->confidence = 1.0 - pow_range(k);
    nat__why_set(why,
                 "public port == local port for the first mapping of all "
                 "%zu local ports (a random allocator over %.0f ports does "
                 "that with probability %.1e) -> preserving",
                 k, FEW_RANGE, pow_range(k));
    why->conf = a->confidence;
    return 0;
  }
  if (n < 3)
    return 0;
  if (few_classified(s, n, a, why) != 0)
    return NAT_ENOMEM;
  if (a->kind == NAT_PA_UNKNOWN)
    few_unknown(n, why);
  return 0;
}
