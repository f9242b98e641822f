/* libnat -- private to io/: one datagram with a chosen TTL (IPv4) or hop
 * limit (IPv6) on a libuv UDP socket (defined in udp.c), sent with
 * sendto() on its descriptor (never queued). Used by
 * nat_udp_send_ttl() (the agent's hole openers) and by the netcheck
 * driver's hop probe. */
#ifndef NAT_IO_UDP_TTL_H
#define NAT_IO_UDP_TTL_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

struct sockaddr;

/* Set the socket's unicast TTL / hop limit (@p family: NAT_AF_INET or
 * NAT_AF_INET6) to @p ttl, send @p len bytes to @p sa at once, and
 * put the old value back at once: a send that would block is not queued
 * (a queued copy would leave with the restored TTL).
 * @return 0, or a negative UV code (UV_EAGAIN: would block). */
int nat__udp_try_send_ttl(uv_udp_t *h, uint8_t family,
                          const struct sockaddr *sa, const uint8_t *buf,
                          size_t len, int ttl);

#endif
