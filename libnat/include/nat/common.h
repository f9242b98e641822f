/* libnat -- common definitions shared by every public header.
 *
 * In the tree: libnat/src/base/ (this header is its main one, with error.h
 * and addr.h): what every folder uses: addresses (addr.c), error codes
 * (error.c, which names libuv's codes through io/uv_error.c, its one call
 * out of base/; base/ includes no libuv), behaviour names (beh.c),
 * randomness (rand.c), CRC-32 (crc32.c), byte order (bytes.h), an IPv4/UDP
 * datagram builder for in-memory networks (ipv4.h).
 */
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

/** Mapping or filtering behaviour (RFC 4787 sections 4.1 and 5): what a
 * verdict measured (nat/verdict.h), what a natbox does (nat/natbox.h),
 * what nat_check is told (nat/check.h). */
typedef enum nat_beh {
  NAT_BEH_UNKNOWN = 0, /**< not measured, not known */
  NAT_BEH_EI = 1,      /**< endpoint-independent */
  NAT_BEH_AD = 2,      /**< address-dependent */
  NAT_BEH_APD = 3,     /**< address-and-port-dependent */
  /** A mapping verdict only: not endpoint-independent, but address- and
   * address-and-port-dependent not told apart (the mapping changed with
   * the destination IP and no two destinations of one IP were compared:
   * RFC 3489 clients, servers without RFC 5780). Never a filtering
   * verdict, never a behaviour natbox runs or nat_beh_parse() returns. */
  NAT_BEH_DEPENDENT = 4
} nat_beh;

/** A behaviour's name as JSON reports give it: "endpoint-independent",
 * "address-dependent", "address-and-port-dependent", "dependent";
 * "unknown" for any other value. */
NAT_EXTERN const char *nat_beh_name(uint8_t b);

/** A behaviour's short name, as command lines and topology files write
 * it: "ei", "ad", "apd" ("dependent" for NAT_BEH_DEPENDENT); "unknown"
 * for any other value. */
NAT_EXTERN const char *nat_beh_short_name(uint8_t b);

/** The behaviour named @p s, in either form above ("ei" or
 * "endpoint-independent", ...). @return NAT_BEH_EI, NAT_BEH_AD or
 * NAT_BEH_APD; NAT_BEH_UNKNOWN for anything else (NULL included). */
NAT_EXTERN nat_beh nat_beh_parse(const char *s);

/** Randomness from the operating system (OpenSSL RAND_bytes); aborts never:
 * on failure it falls back to getrandom(). A nat_rand_fn. */
NAT_EXTERN void nat_rand_system(void *ctx, uint8_t *buf, size_t len);

/** libnat's version as "MAJOR.MINOR.PATCH". */
NAT_EXTERN const char *nat_version_string(void);

#ifdef __cplusplus
}
#endif
#endif
