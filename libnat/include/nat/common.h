/* libnat -- common definitions shared by every public header. */
#ifndef NAT_COMMON_H
#define NAT_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h> /* ssize_t */

#ifdef __cplusplus
extern "C" {
#endif

#if defined(NAT_STATIC_DEFINE)
#define NAT_EXTERN
#elif defined(NAT_BUILDING_LIBRARY)
#define NAT_EXTERN __attribute__((visibility("default")))
#else
#define NAT_EXTERN
#endif

/** Timestamps are nanoseconds on a monotonic clock chosen by the caller
 * (the ngtcp2 model). The sans-I/O core never reads a clock itself. */
typedef uint64_t nat_tstamp;

#define NAT_MILLISECONDS ((nat_tstamp)1000000ULL)
#define NAT_MICROSECONDS ((nat_tstamp)1000ULL)
#define NAT_SECONDS      ((nat_tstamp)1000000000ULL)
/** "No deadline": returned by get_expiry() functions when nothing is due. */
#define NAT_TSTAMP_MAX UINT64_MAX

/** A clock: the current time in nanoseconds, never going back. Drivers
 * read the time only through such a function where a test may give its own
 * (a fake clock that it moves forward instead of waiting). */
typedef nat_tstamp (*nat_clock_fn)(void *ctx);

/** A source of randomness: fill @p buf with @p len random bytes.
 * The core takes randomness only from such a function so that tests are
 * deterministic. */
typedef void (*nat_rand_fn)(void *ctx, uint8_t *buf, size_t len);

/** libnat's version as "MAJOR.MINOR.PATCH". */
NAT_EXTERN const char *nat_version_string(void);

#ifdef __cplusplus
}
#endif
#endif
