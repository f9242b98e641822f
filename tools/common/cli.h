/* Command-line helpers shared by the tools (header only). */
#ifndef NAT_TOOLS_CLI_H
#define NAT_TOOLS_CLI_H

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The tools' usage-error exit status (each man page, EXIT STATUS). */
#define NAT_CLI_EXIT_USAGE 2

/* One line on stderr, "WHO: MESSAGE (see WHO --help)", e.g. WHO "punch
 * serve"; returns NAT_CLI_EXIT_USAGE. */
static inline int nat_cli_usage_error(const char *who, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static inline int nat_cli_usage_error(const char *who, const char *fmt, ...) {
  va_list ap;
  fprintf(stderr, "%s: ", who);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fprintf(stderr, " (see %s --help)\n", who);
  return NAT_CLI_EXIT_USAGE;
}

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

/* A decimal number (strtod's syntax: sign, fraction, exponent) in
 * [lo, hi], nothing after it, not NaN, not out of double's range: 0 and
 * *out set, else -1. */
static inline int nat_cli_double(const char *arg, double lo, double hi,
                                 double *out) {
  char *end = NULL;
  double v;
  if (arg == NULL)
    return -1;
  errno = 0;
  v = strtod(arg, &end);
  if (errno != 0 || end == arg || *end != '\0' || isnan(v) || v < lo || v > hi)
    return -1;
  *out = v;
  return 0;
}

/* A port range "LO-HI", each a nat_cli_uint() in [min, 65535], LO <= HI:
 * 0 and *lo, *hi set, else -1. */
static inline int nat_cli_range(const char *arg, unsigned min, unsigned *lo,
                                unsigned *hi) {
  char a[16];
  const char *dash = arg != NULL ? strchr(arg, '-') : NULL;
  unsigned x, y;
  if (dash == NULL || (size_t)(dash - arg) >= sizeof a)
    return -1;
  memcpy(a, arg, (size_t)(dash - arg));
  a[dash - arg] = '\0';
  if (nat_cli_uint(a, min, 65535, &x) != 0 ||
      nat_cli_uint(dash + 1, min, 65535, &y) != 0 || y < x)
    return -1;
  *lo = x;
  *hi = y;
  return 0;
}

#endif
