/* The verdict: every analyzer over one observation log (nat/verdict.h).
 * Pure: no I/O, no clock. */
#include <stdlib.h>
#include <string.h>

#include "nat/error.h"
#include "verdict_internal.h"

void nat_verdict_init(nat_verdict *v) {
  if (v == NULL)
    return;
  memset(v, 0, sizeof *v);
  nat_analyze_init(&v->basic);
  v->self_class = NAT_PEER_CLASSES;
}

void nat_verdict_free(nat_verdict *v) {
  if (v == NULL)
    return;
  nat_analyze_free(&v->basic);
  nat_verdict_init(v);
}

/* ---------------------------------------------------- allocation samples
 */

typedef struct ordered {
  nat_port_sample s;
  size_t idx;
} ordered;

static int cmp_ordered(const void *pa, const void *pb) {
  const ordered *a = pa, *b = pb;
  if (a->s.at != b->s.at)
    return a->s.at < b->s.at ? -1 : 1;
  return a->idx < b->idx ? -1 : a->idx > b->idx;
}

static bool alloc_obs(const nat_obs *o, uint8_t fam) {
  return o->test == NAT_OBS_ALLOCATION && o->status == 0 && o->has_mapped &&
         o->mapped.family == fam;
}

int nat__alloc_samples(const nat_obslog *log, nat_port_sample **out,
                       size_t *n) {
  size_t i, k = 0, cnt = 0, total = nat_obslog_count(log);
  uint8_t fam = NAT_AF_INET;
  ordered *tmp;
  *out = NULL;
  *n = 0;
  for (i = 0; i < total; i++)
    cnt += alloc_obs(nat_obslog_at(log, i), fam);
  if (cnt == 0) {
    fam = NAT_AF_INET6;
    for (i = 0; i < total; i++)
      cnt += alloc_obs(nat_obslog_at(log, i), fam);
  }
  if (cnt == 0)
    return 0;
  tmp = malloc(cnt * sizeof *tmp);
  *out = malloc(cnt * sizeof **out);
  if (tmp == NULL || *out == NULL) {
    free(tmp);
    free(*out);
    *out = NULL;
    return NAT_ENOMEM;
  }
  for (i = 0; i < total; i++) {
    const nat_obs *o = nat_obslog_at(log, i);
    if (!alloc_obs(o, fam))
      continue;
    tmp[k].s.local_port = o->local.port;
    tmp[k].s.mapped_port = o->mapped.port;
    tmp[k].s.at = o->sent_at;
    tmp[k].idx = k;
    k++;
  }
  qsort(tmp, cnt, sizeof *tmp, cmp_ordered);
  for (i = 0; i < cnt; i++)
    (*out)[i] = tmp[i].s;
  free(tmp);
  *n = cnt;
  return 0;
}

/* --------------------------------------------------------------- compute
 */

static bool obs_answered(const nat_obs *o) {
  return o->status == 0 || o->status == NAT_ESTUNERR;
}

/* Reachability and NAT presence from the tests other than basic. */
static void augment_basic(nat_verdict *v, const nat_obslog *log) {
  size_t i, n = nat_obslog_count(log);
  nat_tri nat = NAT_TRI_UNKNOWN;
  for (i = 0; i < n; i++) {
    const nat_obs *o = nat_obslog_at(log, i);
    nat_tri t;
    if (obs_answered(o))
      v->basic.udp_reachable = true;
    if (o->test == NAT_OBS_HAIRPIN)
      continue; /* the answer comes from our own socket */
    t = nat_analyze_obs_nat(o);
    if (t == NAT_TRI_YES || nat == NAT_TRI_YES)
      nat = NAT_TRI_YES;
    else if (t == NAT_TRI_NO)
      nat = NAT_TRI_NO;
  }
  if (v->basic.nat_present == NAT_TRI_UNKNOWN)
    v->basic.nat_present = nat;
}

void nat__evidence_nat(nat_verdict *v, const nat_obslog *log) {
  size_t i, n = nat_obslog_count(log);
  nat_tri want = v->basic.nat_present;
  nat__addrbuf b0, b1, b2;
  nat__why why;
  nat__why_set(&why, "no answered request from a known local address: "
                     "mapped and local cannot be compared");
  for (i = 0; i < n && want != NAT_TRI_UNKNOWN; i++) {
    const nat_obs *o = nat_obslog_at(log, i);
    if (o->test == NAT_OBS_HAIRPIN || nat_analyze_obs_nat(o) != want)
      continue;
    if (want == NAT_TRI_NO)
      nat__why_set(&why,
                   "the server saw the request's own source address: no "
                   "translation (%s)",
                   nat__addr_text(&o->local, b0));
    else
      nat__why_set(&why, "%s saw %s for local %s: the address is translated",
                   nat__addr_text(&o->server, b0),
                   nat__addr_text(&o->mapped, b1),
                   nat__addr_text(&o->local, b2));
    why.conf = 1.0;
    break;
  }
  nat__evidence_set(v, NAT_FACT_NAT, why.conf, why.line);
}

static void explain_reach(nat_verdict *v, const nat_obslog *log) {
  size_t i, n = nat_obslog_count(log), answered = 0;
  const nat_obs *pub = NULL;
  char ip[NAT_ADDR_STRLEN];
  for (i = 0; i < n; i++) {
    const nat_obs *o = nat_obslog_at(log, i);
    answered += obs_answered(o);
    if (pub == NULL && o->status == 0 && o->has_mapped &&
        o->test != NAT_OBS_HAIRPIN)
      pub = o;
  }
  if (pub == NULL) {
    nat__explain_add(v,
                     "reachability: %zu of %zu STUN requests answered; no "
                     "public address seen",
                     answered, n);
    return;
  }
  nat__explain_add(v,
                   "reachability: %zu of %zu STUN requests answered; public "
                   "address %s; NAT present: %s",
                   answered, n, nat_addr_format_ip(&pub->mapped, ip, sizeof ip),
                   nat_tri_name(v->basic.nat_present));
}

/* The allocation test's fresh sockets did not decide (verdict @p a):
 * the rules for few samples over every allocation of the log
 * (nat/verdict.h). On a verdict *s and *n become the samples it rests
 * on. */
static int alloc_fallback(const nat_obslog *log, nat_alloc_verdict *a,
                          nat_port_sample **s, size_t *n, nat__why *why) {
  nat_port_sample *f;
  nat_alloc_verdict fa;
  nat__why w;
  size_t nf;
  int rc = nat__alloc_samples_any(log, &f, &nf);
  if (rc == 0)
    rc = nat__alloc_few(f, nf, &fa, &w);
  if (rc != 0 || fa.kind == NAT_PA_UNKNOWN) {
    if (rc == 0 && a->samples < 3)
      nat__why_set(why, "%zu new mappings from fresh sockets, 3 needed; %s",
                   a->samples, w.line);
    free(f);
    return rc;
  }
  *a = fa;
  *why = w;
  free(*s);
  *s = f;
  *n = nf;
  return 0;
}

/* Allocation as the verdict decides it, with its reason and confidence;
 * @p pred (may be NULL) gets the prediction when sequential. */
static int allocation(const nat_obslog *log, nat_alloc_verdict *a,
                      nat_prediction *pred, nat__why *why) {
  nat_port_sample *s;
  size_t n;
  int rc = nat__alloc_samples(log, &s, &n);
  if (rc != 0)
    return rc;
  rc = nat_alloc_classify(s, n, a);
  if (rc == 0)
    nat__alloc_line(a, why);
  if (rc == 0 && a->kind == NAT_PA_UNKNOWN)
    rc = alloc_fallback(log, a, &s, &n, why);
  if (rc == 0 && a->kind == NAT_PA_SEQUENTIAL && pred != NULL)
    rc = nat_alloc_predict(a, s, n, NAT_PREDICT_MAX, pred);
  if (rc == 0 && a->kind == NAT_PA_UNKNOWN)
    why->conf = 0.0;
  free(s);
  return rc;
}

int nat_analyze_allocation(const nat_obslog *log, nat_alloc_verdict *out,
                           nat_prediction *pred) {
  nat__why why;
  int rc;
  if (pred != NULL)
    memset(pred, 0, sizeof *pred);
  if (log == NULL || out == NULL) {
    if (out != NULL)
      memset(out, 0, sizeof *out);
    return NAT_EINVAL;
  }
  rc = allocation(log, out, pred, &why);
  if (rc != 0)
    memset(out, 0, sizeof *out);
  return rc;
}

static int compute_alloc(nat_verdict *v, const nat_obslog *log) {
  nat__why why;
  int rc = allocation(log, &v->alloc, &v->prediction, &why);
  if (rc == 0)
    nat__evidence_set(v, NAT_FACT_ALLOCATION, why.conf, why.line);
  return rc;
}

static void classify_self(nat_verdict *v) {
  v->difficulty = 0;
  v->self_class = NAT_PEER_CLASSES;
  if (!v->basic.udp_reachable)
    return;
  if (v->mapping == NAT_BEH_EI) {
    v->difficulty = 1;
    v->self_class = NAT_PEER_EASY;
    return;
  }
  if (v->mapping == NAT_BEH_UNKNOWN && v->mapping_varies != NAT_TRI_YES)
    return;
  v->difficulty = 2;
  if (v->alloc.kind == NAT_PA_SEQUENTIAL || v->alloc.kind == NAT_PA_PRESERVING)
    v->self_class = NAT_PEER_HARD_SEQUENTIAL;
  else if (v->alloc.kind == NAT_PA_RANDOM)
    v->self_class = NAT_PEER_HARD_RANDOM;
}

static void compute_behaviour(nat_verdict *v, nat__vindex *ix) {
  const nat_obslog *log = ix->log;
  nat__why why, reason;
  nat_tstamp lo, hi;
  v->mapping =
      (uint8_t)nat__mapping(ix, &v->rfc5780_used, &v->mapping_varies, &why);
  nat__explain_add(v, "%s", why.line);
  /* a mapping conclusion compares mapped addresses the servers reported:
   * exact under the model (nat/verdict.h) */
  nat__evidence_set(v, NAT_FACT_MAPPING,
                    v->mapping != NAT_BEH_UNKNOWN ? 1.0 : 0.0, why.line);
  v->filtering = (uint8_t)nat__filtering(ix, &v->filtering_unsupported, &why);
  nat__explain_add(v, "%s", why.line);
  nat__evidence_set(v, NAT_FACT_FILTERING,
                    v->filtering != NAT_BEH_UNKNOWN ? why.conf : 0.0, why.line);
  v->hairpinning = nat__hairpin(log, &why);
  nat__explain_add(v, "%s", why.line);
  nat__evidence_set(v, NAT_FACT_HAIRPIN,
                    v->hairpinning != NAT_TRI_UNKNOWN ? why.conf : 0.0,
                    why.line);
  v->pooling = (uint8_t)nat__pooling(ix, &why);
  nat__explain_add(v, "%s", why.line);
  v->double_nat = nat__double_nat(log, &why, &reason, &v->carrier_nat);
  memcpy(v->double_nat_reason, reason.line, sizeof v->double_nat_reason);
  nat__explain_add(v, "%s", why.line);
  if (nat__lifetime(log, &lo, &hi, &why)) {
    v->lifetime_min = lo;
    v->lifetime_max = hi;
    nat__explain_add(v, "%s", why.line);
  }
}

/* Every analyzer is linear in the log over the index (built in
 * O(n log n)), so a replay of a long capture costs little more than
 * reading it. */
int nat_verdict_compute(nat_verdict *v, const nat_obslog *log) {
  nat__vindex ix;
  int rc;
  if (v == NULL || log == NULL)
    return NAT_EINVAL;
  nat_verdict_free(v);
  rc = nat_analyze_basic(&v->basic, log);
  if (rc == 0)
    rc = nat__vindex_build(&ix, log);
  if (rc != 0) {
    nat_verdict_free(v);
    return rc;
  }
  v->observations = nat_obslog_count(log);
  augment_basic(v, log);
  nat__evidence_nat(v, log);
  explain_reach(v, log);
  compute_behaviour(v, &ix);
  nat__vindex_free(&ix);
  rc = compute_alloc(v, log);
  if (rc != 0) {
    nat_verdict_free(v);
    return rc;
  }
  classify_self(v);
  nat__verdict_strategies(v);
  nat__verdict_explain_tail(v);
  return 0;
}
