/* libnat -- resolving "host[:port]" server names through libuv. */
#ifndef NAT_RESOLVE_H
#define NAT_RESOLVE_H

#include <uv.h>

#include "nat/addr.h"
#include "nat/common.h"

#ifdef __cplusplus
extern "C" {
#endif

#define NAT_RESOLVE_MAX 8

/** Split "host", "host:port", "[v6]:port", "1.2.3.4:port", "::1" into a host
 * (NUL-terminated, into @p host of @p hostlen bytes) and a port
 * (@p default_port when absent).
 * @return 0, NAT_EBADADDR (empty host, bad port, unbalanced brackets),
 *         NAT_ENOBUFS. */
NAT_EXTERN int nat_hostport_split(const char *s, char *host, size_t hostlen,
                                  uint16_t *port, uint16_t default_port);

typedef struct nat_resolve_result {
  int status;    /**< 0, or NAT_ERESOLVE with uv_status set, or NAT_EBADADDR */
  int uv_status; /**< the UV_EAI_* code when status is NAT_ERESOLVE */
  const char *name; /**< the string given, valid during the callback */
  size_t naddrs;
  nat_addr addrs[NAT_RESOLVE_MAX]; /**< IPv4 first, then IPv6, deduplicated */
} nat_resolve_result;

typedef void (*nat_resolve_cb)(void *arg, const nat_resolve_result *r);

/** Resolve @p name ("host[:port]") on @p loop. Literal addresses resolve
 * without a lookup, but the callback still runs from the loop, never from
 * inside this call. @p family: NAT_AF_NONE for both, NAT_AF_INET or
 * NAT_AF_INET6 for one.
 * @return 0, NAT_EBADADDR (unparsable), NAT_ENOMEM, UV_E*; on failure the
 *         callback is never called. */
NAT_EXTERN int nat_resolve(uv_loop_t *loop, const char *name,
                           uint16_t default_port, uint8_t family,
                           nat_resolve_cb cb, void *arg);

#ifdef __cplusplus
}
#endif
#endif
