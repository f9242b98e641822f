/* libnat -- private declarations shared by the verdict files (verdict.c,
 * verdict_behavior.c, verdict_alloc.c, verdict_explain.c). */
#ifndef NAT_VERDICT_INTERNAL_H
#define NAT_VERDICT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "nat/verdict.h"

/* Change-request flags (RFC 5780 section 7.2). */
#define NAT__CHANGE_IP   0x04u
#define NAT__CHANGE_PORT 0x02u

/* One analyzer's verdict with the line explaining it. */
typedef struct nat__why {
  char line[NAT_EXPLAIN_LEN];
} nat__why;

/* Mapping with its explanation; @p varies, @p rfc5780 may not be NULL. */
nat_beh nat__mapping(const nat_obslog *log, bool *rfc5780, nat_tri *varies,
                     nat__why *why);

/* Filtering with its explanation; *unsupported set when the server
 * ignored or refused CHANGE-REQUEST. */
nat_beh nat__filtering(const nat_obslog *log, bool *unsupported, nat__why *why);

nat_tri nat__hairpin(const nat_obslog *log, nat__why *why);
nat_pooling nat__pooling(const nat_obslog *log, nat__why *why);
nat_tri nat__double_nat(const nat_obslog *log, nat__why *why);

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

/* The strategy rows and the explanation lines of a verdict. */
void nat__verdict_strategies(nat_verdict *v);
void nat__verdict_explain_tail(nat_verdict *v);
void nat__explain_add(nat_verdict *v, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
