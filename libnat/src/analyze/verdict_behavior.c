/* libnat -- what the behaviour analyzers share (verdict_behavior.h): the
 * explanation line, each socket's first observation of a test. Pure. */
#include <stdarg.h>
#include <stdio.h>

#include "verdict_behavior.h"
#include "verdict_internal.h"

void nat__why_set(nat__why *why, const char *fmt, ...) {
  va_list ap;
  if (why == NULL)
    return;
  why->conf = 0.0;
  va_start(ap, fmt);
  vsnprintf(why->line, sizeof why->line, fmt, ap);
  va_end(ap);
}

void nat__first_of_test(nat__vindex *ix, uint8_t test) {
  size_t i, g;
  for (g = 0; g < ix->nlocal; g++)
    ix->first_of[g] = NAT__NONE;
  for (i = 0; i < ix->n; i++) {
    uint32_t id = ix->local_id[i];
    if (ix->log->v[i].test == test && id != NAT__NONE &&
        ix->first_of[id] == NAT__NONE)
      ix->first_of[id] = (uint32_t)i;
  }
}
