/* The basic analyzer: reachability, public addresses, NAT presence
 * (nat/analyze.h). Pure: no I/O, no clock. */
#include <stdlib.h>
#include <string.h>

#include "nat/analyze.h"
#include "nat/error.h"

void nat_analyze_init(nat_analysis *a) {
  if (a != NULL)
    memset(a, 0, sizeof *a);
}

void nat_analyze_free(nat_analysis *a) {
  if (a == NULL)
    return;
  free(a->servers);
  memset(a, 0, sizeof *a);
}

const char *nat_tri_name(nat_tri t) {
  switch (t) {
  case NAT_TRI_NO:
    return "no";
  case NAT_TRI_YES:
    return "yes";
  default:
    return "unknown";
  }
}

nat_tri nat_analyze_obs_nat(const nat_obs *o) {
  if (o == NULL || o->status != 0 || !o->has_mapped)
    return NAT_TRI_UNKNOWN;
  if (o->local.family == NAT_AF_NONE || nat_addr_is_unspecified(&o->local))
    return NAT_TRI_UNKNOWN;
  if (o->local.family != o->mapped.family)
    return NAT_TRI_UNKNOWN; /* a mapped address of another family: odd */
  return nat_addr_equal(&o->local, &o->mapped) ? NAT_TRI_NO : NAT_TRI_YES;
}

/* Where the verdict of each (server_idx, family) is: head[server_idx] is
 * the position of one verdict of that index in nat_analysis.servers (+1,
 * 0 for none) and next[] chains the others (other families), so a
 * lookup costs O(1) whatever the number of servers. */
typedef struct server_lookup {
  size_t *head; /* by server_idx */
  size_t *next; /* by position in servers, grown with it */
  size_t next_cap;
} server_lookup;

static int lookup_init(server_lookup *lk, const nat_obslog *log) {
  size_t i, top = 0;
  for (i = 0; i < log->n; i++)
    if (log->v[i].test == NAT_OBS_BASIC && log->v[i].server_idx >= top)
      top = (size_t)log->v[i].server_idx + 1;
  lk->head = calloc(top ? top : 1, sizeof *lk->head);
  lk->next = NULL;
  lk->next_cap = 0;
  return lk->head == NULL ? NAT_ENOMEM : 0;
}

static void lookup_free(server_lookup *lk) {
  free(lk->head);
  free(lk->next);
}

/* Record that position @p pos holds a verdict of @p server_idx. */
static bool lookup_add(server_lookup *lk, uint16_t server_idx, size_t pos) {
  if (pos >= lk->next_cap) {
    size_t cap = lk->next_cap ? lk->next_cap * 2 : 8;
    size_t *nn = realloc(lk->next, cap * sizeof *nn);
    if (nn == NULL)
      return false;
    lk->next = nn;
    lk->next_cap = cap;
  }
  lk->next[pos] = lk->head[server_idx];
  lk->head[server_idx] = pos + 1;
  return true;
}

/* Find or add the verdict of (server_idx, family). NULL on ENOMEM. */
static nat_server_verdict *verdict_for(nat_analysis *a, server_lookup *lk,
                                       uint16_t server_idx, uint8_t family,
                                       size_t obs_index) {
  size_t p;
  nat_server_verdict *v;
  for (p = lk->head[server_idx]; p != 0; p = lk->next[p - 1]) {
    v = &a->servers[p - 1];
    if (v->family == family)
      return v;
  }
  if (!lookup_add(lk, server_idx, a->nservers))
    return NULL;
  if (a->nservers == a->cap) {
    size_t cap = a->cap ? a->cap * 2 : 8;
    nat_server_verdict *nv;
    if (cap > SIZE_MAX / sizeof *nv)
      return NULL;
    nv = realloc(a->servers, cap * sizeof *nv);
    if (nv == NULL)
      return NULL;
    a->servers = nv;
    a->cap = cap;
  }
  v = &a->servers[a->nservers++];
  memset(v, 0, sizeof *v);
  v->server_idx = server_idx;
  v->family = family;
  v->obs_index = obs_index;
  return v;
}

static bool obs_answered(const nat_obs *o) {
  return o->status == 0 || o->status == NAT_ESTUNERR;
}

/* Fold observation @p o (at index @p idx) into its server verdict. */
static void fold_obs(nat_server_verdict *v, const nat_obs *o, size_t idx) {
  bool first_answer = obs_answered(o) && !v->reachable;
  v->attempts++;
  if (!v->reachable)
    v->obs_index = idx; /* first answer, else the latest failure */
  if (!obs_answered(o))
    return;
  v->reachable = true;
  if (o->status == 0 && (v->rtt == 0 || o->rtt < v->rtt))
    v->rtt = o->rtt;
  if (o->has_other_address)
    v->rfc5780 = true;
  if (first_answer) {
    v->has_mapped = o->has_mapped;
    if (o->has_mapped)
      v->mapped = o->mapped;
    v->nat_present = nat_analyze_obs_nat(o);
  }
}

static nat_tri tri_merge(nat_tri acc, nat_tri t) {
  if (acc == NAT_TRI_YES || t == NAT_TRI_YES)
    return NAT_TRI_YES;
  if (acc == NAT_TRI_NO || t == NAT_TRI_NO)
    return NAT_TRI_NO;
  return NAT_TRI_UNKNOWN;
}

static void fold_family(nat_family_verdict *f, const nat_server_verdict *v) {
  nat_addr ip;
  f->tried++;
  if (!v->reachable)
    return;
  f->answered++;
  f->nat_present = tri_merge(f->nat_present, v->nat_present);
  if (!v->has_mapped)
    return;
  ip = v->mapped;
  ip.port = 0;
  if (f->public_agree == NAT_AGREE_NONE) {
    f->public_agree = NAT_AGREE_SAME;
    f->public_ip = ip;
  } else if (!nat_addr_equal_ip(&f->public_ip, &ip)) {
    f->public_agree = NAT_AGREE_VARIES;
  }
}

/* Fold the basic observations into one verdict per (server, family). */
static int fold_servers(nat_analysis *out, const nat_obslog *log) {
  server_lookup lk;
  size_t i;
  if (lookup_init(&lk, log) != 0)
    return NAT_ENOMEM;
  for (i = 0; i < log->n; i++) {
    const nat_obs *o = &log->v[i];
    nat_server_verdict *v;
    if (o->test != NAT_OBS_BASIC)
      continue;
    v = verdict_for(out, &lk, o->server_idx, nat_obs_family(o), i);
    if (v == NULL) {
      lookup_free(&lk);
      return NAT_ENOMEM;
    }
    fold_obs(v, o, i);
  }
  lookup_free(&lk);
  return 0;
}

int nat_analyze_basic(nat_analysis *out, const nat_obslog *log) {
  size_t i;
  if (out == NULL || log == NULL)
    return NAT_EINVAL;
  nat_analyze_free(out);
  if (fold_servers(out, log) != 0) {
    nat_analyze_free(out);
    return NAT_ENOMEM;
  }
  for (i = 0; i < out->nservers; i++) {
    const nat_server_verdict *v = &out->servers[i];
    if (v->reachable)
      out->udp_reachable = true;
    if (v->family == NAT_AF_INET)
      fold_family(&out->v4, v);
    else if (v->family == NAT_AF_INET6)
      fold_family(&out->v6, v);
  }
  out->nat_present = tri_merge(out->v4.nat_present, out->v6.nat_present);
  return 0;
}
