/* libnat -- transport addresses (IPv4/IPv6 address + UDP port) as values. */
#ifndef NAT_ADDR_H
#define NAT_ADDR_H

#include <stdbool.h>

#include "nat/common.h"

#ifdef __cplusplus
extern "C" {
#endif

struct sockaddr;

/** Address family of a nat_addr. The values are STUN's family codes
 * (RFC 8489 section 14.1). */
typedef enum nat_family {
  NAT_AF_NONE = 0,
  NAT_AF_INET = 0x01,
  NAT_AF_INET6 = 0x02
} nat_family;

/** A transport address. A plain value: copy and compare freely.
 * For NAT_AF_INET only ip[0..3] are used; the rest is zero. */
typedef struct nat_addr {
  uint8_t family; /**< nat_family */
  uint16_t port;  /**< host byte order */
  uint8_t ip[16]; /**< network byte order */
} nat_addr;

/** Longest string nat_addr_format() writes, with the NUL:
 * "[" + 45 + "]:" + 5 + NUL. */
#define NAT_ADDR_STRLEN 56

/** Parse "1.2.3.4", "1.2.3.4:3478", "::1", "[::1]:3478" into @p out.
 * A missing port gives @p default_port.
 * @return 0, or NAT_EBADADDR if @p s is not a literal address with an
 *         optional port in 0..65535, NAT_EINVAL on NULL arguments. */
NAT_EXTERN int nat_addr_parse(nat_addr *out, const char *s,
                              uint16_t default_port);

/** Set @p out from an IPv4 address given as a host-order 32-bit value. */
NAT_EXTERN void nat_addr_set_v4(nat_addr *out, uint32_t ip_host_order,
                                uint16_t port);

/** Write "1.2.3.4:5" or "[::1]:5" into @p buf (NAT_ADDR_STRLEN bytes is
 * always enough). Writes "-" for NAT_AF_NONE.
 * @return @p buf, so the call can sit inside a printf(). */
NAT_EXTERN char *nat_addr_format(const nat_addr *a, char *buf, size_t len);

/** Write only the IP part ("1.2.3.4", "::1") into @p buf. @return @p buf. */
NAT_EXTERN char *nat_addr_format_ip(const nat_addr *a, char *buf, size_t len);

/** True if family, IP and port are all equal. */
NAT_EXTERN bool nat_addr_equal(const nat_addr *a, const nat_addr *b);

/** True if family and IP are equal (ports ignored). */
NAT_EXTERN bool nat_addr_equal_ip(const nat_addr *a, const nat_addr *b);

/** Convert from a struct sockaddr_in / sockaddr_in6.
 * @return 0, or NAT_EBADFAMILY for other families, NAT_EINVAL on NULL. */
NAT_EXTERN int nat_addr_from_sockaddr(nat_addr *out, const struct sockaddr *sa);

/** Convert to a struct sockaddr_in / sockaddr_in6 written into @p ss,
 * which must hold @p sslen bytes (sizeof(struct sockaddr_storage) is always
 * enough). @return the sockaddr's length, or NAT_EBADFAMILY / NAT_ENOBUFS. */
NAT_EXTERN int nat_addr_to_sockaddr(const nat_addr *a, struct sockaddr *ss,
                                    size_t sslen);

/** Address classes used for candidate checks and NAT detection. */
NAT_EXTERN bool
nat_addr_is_private(const nat_addr *a); /**< RFC 1918, fc00::/7 */
NAT_EXTERN bool
nat_addr_is_shared(const nat_addr *a); /**< 100.64.0.0/10 (RFC 6598) */
NAT_EXTERN bool nat_addr_is_loopback(const nat_addr *a); /**< 127/8, ::1 */
NAT_EXTERN bool
nat_addr_is_link_local(const nat_addr *a); /**< 169.254/16, fe80::/10 */
NAT_EXTERN bool nat_addr_is_unspecified(const nat_addr *a); /**< 0.0.0.0, :: */
NAT_EXTERN bool
nat_addr_is_multicast(const nat_addr *a); /**< 224/4, ff00::/8 */

/** The address space an IP belongs to (for hop lists and NAT detection). */
typedef enum nat_addr_space {
  NAT_SPACE_NONE = 0,       /**< no address (family NONE) */
  NAT_SPACE_PUBLIC = 1,     /**< none of the ones below: globally routed */
  NAT_SPACE_PRIVATE = 2,    /**< RFC 1918, fc00::/7 */
  NAT_SPACE_SHARED = 3,     /**< 100.64.0.0/10 (RFC 6598, carrier NAT) */
  NAT_SPACE_LOOPBACK = 4,   /**< 127/8, ::1 */
  NAT_SPACE_LINK_LOCAL = 5, /**< 169.254/16, fe80::/10 */
  NAT_SPACE_OTHER = 6       /**< unspecified or multicast */
} nat_addr_space;

/** The space of @p a's IP (the classes above, in that order). */
NAT_EXTERN nat_addr_space nat_addr_space_of(const nat_addr *a);

/** "public", "private", "shared", "loopback", "link-local", "other";
 * "none" for NAT_SPACE_NONE and unknown values. Never NULL. */
NAT_EXTERN const char *nat_addr_space_name(uint8_t space);

#ifdef __cplusplus
}
#endif
#endif
