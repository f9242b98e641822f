/* How much longer a unit test waits for something in real time when the
 * runner is slow: NAT_TEST_SLOW (a whole number, at least 1), set by
 * tests/valgrind/memcheck.sh (code under valgrind runs 20 to 50 times
 * slower); 1 when unset. Only budgets that must let work finish are
 * scaled, never a figure a test measures. */
#ifndef NAT_TEST_SLOW_H
#define NAT_TEST_SLOW_H

#include <stdint.h>
#include <stdlib.h>

static inline uint64_t test_slow(void) {
  const char *s = getenv("NAT_TEST_SLOW");
  long v = s ? strtol(s, NULL, 10) : 1;
  return v > 1 ? (uint64_t)v : 1;
}

#endif
