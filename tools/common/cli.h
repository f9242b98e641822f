/* Command-line helpers shared by the tools (header only). */
#ifndef NAT_TOOLS_CLI_H
#define NAT_TOOLS_CLI_H

#include <stdlib.h>

/* A decimal integer in [lo, hi], digits only (no sign, no spaces, no
 * suffix): 0 and *out set, else -1. */
static inline int nat_cli_uint(const char *arg, unsigned long lo,
                               unsigned long hi, unsigned *out) {
  char *end = NULL;
  unsigned long v;
  if (arg == NULL || arg[0] < '0' || arg[0] > '9')
    return -1;
  v = strtoul(arg, &end, 10);
  if (*end != '\0' || v < lo || v > hi)
    return -1;
  *out = (unsigned)v;
  return 0;
}

#endif
