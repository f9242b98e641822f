/* libnat -- the SSDP answer the UPnP probe reads (pure): the LOCATION of
 * an "HTTP/1.1 200" answer to our M-SEARCH, accepted only when it names
 * the gateway itself (http://GATEWAY[:PORT]/...): miniupnpc fetches that
 * URL next, and an answer naming any other host would have us fetch from
 * wherever a device on the LAN points. */
#include <string.h>
#include <strings.h>

#include "portmap/portmap_internal.h"

/* @p v (@p n bytes) is "http://HOST" followed by ':' or '/' or nothing. */
static bool names_host(const char *v, size_t n, const char *host) {
  size_t h = strlen(host);
  if (n < 7 + h || strncmp(v, "http://", 7) != 0 ||
      strncmp(v + 7, host, h) != 0)
    return false;
  return n == 7 + h || v[7 + h] == ':' || v[7 + h] == '/';
}

int nat__ssdp_location(const char *buf, size_t len, const char *host, char *out,
                       size_t cap) {
  const char *p = buf, *end = buf + len;
  if (buf == NULL || host == NULL || out == NULL || len < 12 ||
      strncmp(buf, "HTTP/1.1 200", 12) != 0)
    return -1;
  while (p < end) {
    const char *eol = memchr(p, '\n', (size_t)(end - p));
    size_t n = (size_t)((eol ? eol : end) - p);
    if (n > 9 && strncasecmp(p, "LOCATION:", 9) == 0) {
      const char *v = p + 9;
      while (v < p + n && (*v == ' ' || *v == '\t'))
        v++;
      n = (size_t)(p + n - v);
      while (n > 0 && (v[n - 1] == '\r' || v[n - 1] == ' '))
        n--;
      if (n >= cap || memchr(v, '\0', n) != NULL || !names_host(v, n, host))
        return -1;
      memcpy(out, v, n);
      out[n] = '\0';
      return 0;
    }
    p = eol ? eol + 1 : end;
  }
  return -1;
}
