/* What the fuzz targets share: CHECK() aborts when an invariant is
 * broken (libFuzzer then keeps the input), and ORACLE marks a harness
 * function whose own loops and compares are not coverage: instrumented,
 * they cost time and fill the corpus with features of the oracle rather
 * than of the code under test. */
#ifndef NAT_FUZZ_UTIL_H
#define NAT_FUZZ_UTIL_H

#include <stdlib.h>

#define CHECK(x)                                                               \
  do {                                                                         \
    if (!(x))                                                                  \
      abort();                                                                 \
  } while (0)

#if defined(__clang__) && __clang_major__ >= 13
#define ORACLE __attribute__((no_sanitize("coverage")))
#else
#define ORACLE
#endif

#endif
