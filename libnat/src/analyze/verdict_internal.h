/* libnat -- private declarations shared by the verdict files (verdict.c,
 * verdict_behavior.c, verdict_mapping.c, verdict_filtering.c, verdict_path.c,
 * double_nat.c,
 * verdict_alloc.c, verdict_explain.c, verdict_index.c). */
#ifndef NAT_VERDICT_INTERNAL_H
#define NAT_VERDICT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nat/verdict.h"

/* Address text for the explanation lines. */
typedef char nat__addrbuf[NAT_ADDR_STRLEN];

static inline const char *nat__addr_text(const nat_addr *a, nat__addrbuf b) {
  return nat_addr_format(a, b, NAT_ADDR_STRLEN);
}

/* An answer that carries a mapped address. */
static inline bool nat__answered_mapped(const nat_obs *o) {
  return o->status == 0 && o->has_mapped;
}

/* The loss model of the verdict's confidences (nat/verdict.h): each
 * transmission, or its answer, is lost independently with probability
 * NAT__LOSS, so a silence after @p tries transmissions is a real drop with
 * probability 1 - NAT__LOSS^tries. NAT__MIN_TRIES transmissions are the
 * fewest a silence is rated on (0.999). */
#define NAT__LOSS      0.1
#define NAT__MIN_TRIES 3u

static inline double nat__loss_conf(unsigned tries) {
  double p = 1.0;
  unsigned i;
  for (i = 0; i < tries && p > 0.0; i++)
    p *= NAT__LOSS;
  return 1.0 - p;
}

/* Change-request flags (RFC 5780 section 7.2). */
#define NAT__CHANGE_IP   0x04u
#define NAT__CHANGE_PORT 0x02u

/* One analyzer's verdict with the line explaining it, and the
 * confidence of a conclusion (nat_conclusion; nat__why_set() makes it 0,
 * the analyzer sets it when it concludes). */
typedef struct nat__why {
  char line[NAT_EXPLAIN_LEN];
  double conf;
} nat__why;

/* ------------------------------------------------------------ the index
 *
 * Built once per verdict (verdict_index.c) so that every analyzer is
 * linear in the log after an O(n log n) build: observations are grouped
 * by equal addresses (nat_addr_equal / nat_addr_equal_ip) through ids
 * assigned by sorting, the observations of each local socket are listed
 * in log order, and each server's alternate address is found once.
 * An id is NAT__NONE where the address has no IP (family neither IPv4
 * nor IPv6): such an address equals nothing, not even itself. */

#define NAT__NONE UINT32_MAX

/* The earliest element of a group whose attribute differs from a given
 * value, when equality is an equivalence on valid values and an invalid
 * value equals nothing: the first element, and the first one that
 * differs from it. */
typedef struct nat__avoid1 {
  uint32_t first, other;
} nat__avoid1;

/* The same with two attributes X and Y that must both differ: the first
 * element e1; a, the first with X != X(e1), and a2, the first after it
 * with X != X(e1) and Y != Y(a); b and b2 likewise with X and Y swapped;
 * c, the first with X != X(e1) and Y != Y(e1). */
typedef struct nat__avoid2 {
  uint32_t e1, a, a2, b, b2, c;
} nat__avoid2;

typedef bool (*nat__obs_eq)(const nat_obs *, const nat_obs *);

typedef struct nat__vindex {
  const nat_obslog *log;
  size_t n;
  /* per observation: the group of its local address, server address,
   * server IP, mapped address, (server IP, mapped address), local IP */
  uint32_t *local_id, *server_id, *sip_id, *mapped_id, *sipmap_id, *lip_id;
  size_t nlocal, nserver, nsip, nmapped, nsipmap, nlip;
  /* the observations of local socket g, in log order:
   * sock_obs[sock_start[g] .. sock_start[g + 1]) */
  uint32_t *sock_start, *sock_obs;
  /* per server: the first answer with a usable OTHER-ADDRESS (resp.
   * CHANGED-ADDRESS): another IP of the same family, or NAT__NONE; and
   * its first success response (any socket, any test), or NAT__NONE */
  uint32_t *srv_other, *srv_changed, *srv_answered;
  /* scratch of the analyzers: first_of is filled for one test at a time;
   * the groups are empty between uses (each user empties what it
   * filled) */
  uint32_t *first_of;                          /* per local socket */
  nat__avoid1 *by_mapped, *by_sipmap, *by_lip; /* per group */
  nat__avoid2 *by_sip;
} nat__vindex;

/* Build the index of @p log. @return 0 or NAT_ENOMEM. */
int nat__vindex_build(nat__vindex *ix, const nat_obslog *log);
void nat__vindex_free(nat__vindex *ix);

/* The alternate address of the server of observation @p i: OTHER-ADDRESS
 * (else CHANGED-ADDRESS) from any answer it gave, if its IP differs. */
bool nat__vindex_other_of(const nat__vindex *ix, size_t i, nat_addr *oa);

void nat__avoid1_reset(nat__avoid1 *av);
/* The earliest element added whose attribute differs from @p o's, or
 * NAT__NONE. */
uint32_t nat__avoid1_find(const nat__avoid1 *av, const nat_obslog *log,
                          const nat_obs *o, nat__obs_eq eq);
void nat__avoid1_add(nat__avoid1 *av, const nat_obslog *log, uint32_t i,
                     nat__obs_eq eq);
void nat__avoid2_reset(nat__avoid2 *av);
/* The earliest element added that differs from @p o in both X and Y. */
uint32_t nat__avoid2_find(const nat__avoid2 *av, const nat_obslog *log,
                          const nat_obs *o, nat__obs_eq eqx, nat__obs_eq eqy);
void nat__avoid2_add(nat__avoid2 *av, const nat_obslog *log, uint32_t i,
                     nat__obs_eq eqx, nat__obs_eq eqy);

/* ------------------------------------------------------------ analyzers */

/* Mapping with its explanation; @p varies, @p rfc5780 may not be NULL. */
nat_beh nat__mapping(nat__vindex *ix, bool *rfc5780, nat_tri *varies,
                     nat__why *why);

/* Filtering with its explanation; *unsupported set when the server
 * ignored or refused CHANGE-REQUEST. */
nat_beh nat__filtering(nat__vindex *ix, bool *unsupported, nat__why *why);

nat_tri nat__hairpin(const nat_obslog *log, nat__why *why);
nat_pooling nat__pooling(nat__vindex *ix, nat__why *why);
/* Double NAT by the log's rules (double_nat.c): the verdict, the reason
 * (@p reason, without the "double NAT: " prefix) and the explanation
 * line; *carrier gets carrier_nat by the same rules. */
nat_tri nat__double_nat(const nat_obslog *log, nat__why *why, nat__why *reason,
                        nat_tri *carrier);

/* Lifetime bounds from NAT_OBS_LIFETIME; false when not measured. */
bool nat__lifetime(const nat_obslog *log, nat_tstamp *min, nat_tstamp *max,
                   nat__why *why);

/* snprintf into @p why (truncating). */
void nat__why_set(nat__why *why, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Allocation samples from the NAT_OBS_ALLOCATION observations of one
 * family (IPv4 first), ordered by sent_at (stable). *out is malloc'ed
 * (NULL when none). @return 0 or NAT_ENOMEM. */
int nat__alloc_samples(const nat_obslog *log, nat_port_sample **out, size_t *n);

/* Allocations from every answered observation of one family (IPv4
 * first) of the tests basic, mapping, filtering and allocation: one per
 * distinct (local address, mapped address) pair, ordered by the sent_at
 * of its first observation. *out is malloc'ed (NULL when none).
 * @return 0 or NAT_ENOMEM. */
int nat__alloc_samples_any(const nat_obslog *log, nat_port_sample **out,
                           size_t *n);

/* The allocation rules for few samples (nat/verdict.h) over @p n such
 * allocations: @p a gets the verdict (kind UNKNOWN if none), @p why the
 * reason (without "allocation: ") and the confidence.
 * @return 0 or NAT_ENOMEM. */
int nat__alloc_few(const nat_port_sample *s, size_t n, nat_alloc_verdict *a,
                   nat__why *why);

/* The line explaining allocation verdict @p a (without "allocation: "),
 * with its confidence. */
void nat__alloc_line(const nat_alloc_verdict *a, nat__why *why);

/* Set v->evidence[@p fact]: @p conf and @p line without its "name: "
 * prefix. nat__evidence_nat() fills NAT presence's from the log. */
void nat__evidence_set(nat_verdict *v, uint8_t fact, double conf,
                       const char *line);
void nat__evidence_nat(nat_verdict *v, const nat_obslog *log);

/* The strategy rows and the explanation lines of a verdict. */
void nat__verdict_strategies(nat_verdict *v);
void nat__verdict_explain_tail(nat_verdict *v);
void nat__explain_add(nat_verdict *v, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
