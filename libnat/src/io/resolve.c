/* Resolving "host[:port]" through libuv: literal addresses answer from the
 * loop's next iteration (an idle handle), names go to uv_getaddrinfo()
 * without AI_ADDRCONFIG (so a loopback-only lab still resolves). */
#include <arpa/inet.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "nat/error.h"
#include "nat/resolve.h"

/* A DNS name is at most 253 characters; 255 leaves room for a trailing dot
 * and the NUL. */
#define RESOLVE_HOST_MAX 256

typedef struct resolve_req {
  uv_getaddrinfo_t gai;
  uv_idle_t idle;
  nat_resolve_cb cb;
  void *arg;
  uint16_t port;
  nat_resolve_result res;
  char name[]; /* the string given, for res.name */
} resolve_req;

/* "0".."65535" with no sign, no spaces, at most 5 digits; 0 is refused
 * (no server listens on port 0). */
static int parse_port(const char *s, size_t n, uint16_t *port) {
  unsigned long v = 0;
  if (n == 0 || n > 5)
    return NAT_EBADADDR;
  for (size_t i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9')
      return NAT_EBADADDR;
    v = v * 10 + (unsigned long)(s[i] - '0');
  }
  if (v == 0 || v > 65535)
    return NAT_EBADADDR;
  *port = (uint16_t)v;
  return 0;
}

/* Host characters: anything printable but spaces, brackets and '/'. */
static bool host_ok(const char *h, size_t n) {
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)h[i];
    if (c <= 0x20 || c == 0x7f || c == '[' || c == ']' || c == '/')
      return false;
  }
  return n > 0;
}

/** Split "host[:port]", "[v6]:port" or a bare IPv6 literal into host and
 * port; see resolve.h. Brackets must hold an IPv6 literal (a ':' inside);
 * two or more colons without brackets mean a bare IPv6 address, no port.
 * @return 0, NAT_EINVAL (NULL argument), NAT_EBADADDR, NAT_ENOBUFS. */
int nat_hostport_split(const char *s, char *host, size_t hostlen,
                       uint16_t *port, uint16_t default_port) {
  const char *h = s, *p = NULL;
  size_t hn, pn = 0;
  if (!s || !host || !port || hostlen == 0)
    return NAT_EINVAL;
  if (s[0] == '[') {
    const char *close = strchr(s, ']');
    if (!close)
      return NAT_EBADADDR;
    h = s + 1;
    hn = (size_t)(close - h);
    if (close[1] == ':') {
      p = close + 2;
      pn = strlen(p);
    } else if (close[1] != '\0') {
      return NAT_EBADADDR;
    }
    if (!memchr(h, ':', hn))
      return NAT_EBADADDR;
  } else {
    const char *colon = strchr(s, ':');
    hn = strlen(s);
    if (colon && !strchr(colon + 1, ':')) {
      hn = (size_t)(colon - s);
      p = colon + 1;
      pn = strlen(p);
    }
  }
  if (!host_ok(h, hn))
    return NAT_EBADADDR;
  *port = default_port;
  if (p) {
    int rc = parse_port(p, pn, port);
    if (rc < 0)
      return rc;
  }
  if (hn >= hostlen)
    return NAT_ENOBUFS;
  memcpy(host, h, hn);
  host[hn] = '\0';
  return 0;
}

/* ---------------------------------------------------------- completion */

static void resolve_free_cb(uv_handle_t *h) {
  free(h->data);
}

static void resolve_finish(resolve_req *r) {
  r->res.name = r->name;
  r->cb(r->arg, &r->res);
}

static void resolve_on_idle(uv_idle_t *idle) {
  resolve_req *r = idle->data;
  uv_idle_stop(idle);
  resolve_finish(r);
  uv_close((uv_handle_t *)idle, resolve_free_cb);
}

static void resolve_add(nat_resolve_result *res, const nat_addr *a) {
  for (size_t i = 0; i < res->naddrs; i++)
    if (nat_addr_equal(&res->addrs[i], a))
      return;
  if (res->naddrs < NAT_RESOLVE_MAX)
    res->addrs[res->naddrs++] = *a;
}

/* Collect the answers of one family, in the resolver's order. */
static void resolve_collect(resolve_req *r, const struct addrinfo *ai, int af) {
  for (; ai; ai = ai->ai_next) {
    nat_addr a;
    if (!ai->ai_addr || ai->ai_family != af ||
        nat_addr_from_sockaddr(&a, ai->ai_addr) != 0)
      continue;
    a.port = r->port;
    resolve_add(&r->res, &a);
  }
}

static void resolve_on_gai(uv_getaddrinfo_t *gai, int status,
                           struct addrinfo *ai) {
  resolve_req *r = gai->data;
  if (status == 0) {
    resolve_collect(r, ai, AF_INET);
    resolve_collect(r, ai, AF_INET6);
    if (r->res.naddrs == 0) {
      r->res.status = NAT_ERESOLVE;
      r->res.uv_status = UV_EAI_NODATA;
    }
  } else {
    r->res.status = NAT_ERESOLVE;
    r->res.uv_status = status;
  }
  uv_freeaddrinfo(ai);
  resolve_finish(r);
  free(r);
}

/* ----------------------------------------------------------------- API */

/* Fill @p a if @p host is an IPv4 or IPv6 literal. */
static bool resolve_literal(const char *host, uint16_t port, nat_addr *a) {
  memset(a, 0, sizeof *a);
  a->port = port;
  if (inet_pton(AF_INET, host, a->ip) == 1) {
    a->family = NAT_AF_INET;
    return true;
  }
  if (inet_pton(AF_INET6, host, a->ip) == 1) {
    a->family = NAT_AF_INET6;
    return true;
  }
  return false;
}

/* Answer a literal from the loop's next iteration. */
static int resolve_start_literal(uv_loop_t *loop, resolve_req *r,
                                 const nat_addr *a, uint8_t family) {
  if (family != NAT_AF_NONE && family != a->family) {
    r->res.status = NAT_ERESOLVE;
    r->res.uv_status = UV_EAI_ADDRFAMILY;
  } else {
    r->res.addrs[0] = *a;
    r->res.naddrs = 1;
  }
  r->idle.data = r;
  uv_idle_init(loop, &r->idle);
  return uv_idle_start(&r->idle, resolve_on_idle);
}

static int resolve_start_name(uv_loop_t *loop, resolve_req *r, const char *host,
                              uint8_t family) {
  struct addrinfo hints;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = family == NAT_AF_INET    ? AF_INET
                    : family == NAT_AF_INET6 ? AF_INET6
                                             : AF_UNSPEC;
  hints.ai_socktype = SOCK_DGRAM;
  hints.ai_protocol = IPPROTO_UDP;
  hints.ai_flags = 0; /* no AI_ADDRCONFIG: loopback-only hosts resolve too */
  r->gai.data = r;
  return uv_getaddrinfo(loop, &r->gai, resolve_on_gai, host, NULL, &hints);
}

/** Resolve "host[:port]" on @p loop; the callback always runs from the
 * loop; see resolve.h. */
int nat_resolve(uv_loop_t *loop, const char *name, uint16_t default_port,
                uint8_t family, nat_resolve_cb cb, void *arg) {
  char host[RESOLVE_HOST_MAX];
  uint16_t port;
  nat_addr lit;
  resolve_req *r;
  size_t nlen;
  int rc;
  if (!loop || !name || !cb)
    return NAT_EINVAL;
  if (family != NAT_AF_NONE && family != NAT_AF_INET && family != NAT_AF_INET6)
    return NAT_EINVAL;
  rc = nat_hostport_split(name, host, sizeof host, &port, default_port);
  if (rc < 0)
    return NAT_EBADADDR;
  bool literal = resolve_literal(host, port, &lit);
  if (!literal && (name[0] == '[' || strchr(host, ':')))
    return NAT_EBADADDR; /* brackets or colons but not an IPv6 literal */
  nlen = strlen(name);
  r = calloc(1, sizeof *r + nlen + 1);
  if (!r)
    return NAT_ENOMEM;
  memcpy(r->name, name, nlen + 1);
  r->cb = cb;
  r->arg = arg;
  r->port = port;
  if (literal)
    rc = resolve_start_literal(loop, r, &lit, family);
  else
    rc = resolve_start_name(loop, r, host, family);
  if (rc < 0) {
    if (literal)
      uv_close((uv_handle_t *)&r->idle, resolve_free_cb);
    else
      free(r);
  }
  return rc;
}
