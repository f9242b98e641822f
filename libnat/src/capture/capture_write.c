/* The pcap writer of `netcheck --record` (nat/capture.h). A driver file:
 * it writes files. Classic pcap, nanosecond timestamps, host byte order
 * (readers detect it from the magic), LINKTYPE_RAW or Ethernet; every
 * datagram gets a synthesized IPv4/IPv6 + UDP header with valid
 * checksums. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/bytes.h"
#include "nat/capture.h"
#include "nat/error.h"

#define PCAP_MAGIC_NSEC 0xA1B23C4Du
#define PCAP_SNAPLEN    262144u
#define ETH_HDR         14u
#define V4_HDR          20u
#define V6_HDR          40u
#define UDP_HDR         8u
#define MAX_HDRS        (ETH_HDR + V6_HDR + UDP_HDR)

struct nat_capture_writer {
  FILE *fp;
  uint32_t linktype;
  uint16_t ip_id; /* IPv4 identification, counts up */
  int err;        /* first error, sticky */
};

static int errno_code(void) {
  return errno != 0 ? -errno : NAT_ECAPTURE;
}

static int put_all(nat_capture_writer *w, const void *p, size_t n) {
  if (w->err != 0)
    return w->err;
  errno = 0;
  if (n != 0 && fwrite(p, 1, n, w->fp) != n)
    w->err = errno_code();
  return w->err;
}

int nat_capture_writer_open(nat_capture_writer **out, const char *path,
                            uint32_t linktype) {
  nat_capture_writer *w;
  static const uint16_t ver[2] = {2, 4};
  uint32_t hdr[6];
  int rv;
  if (out == NULL || path == NULL ||
      (linktype != NAT_LINK_RAW && linktype != NAT_LINK_ETHERNET))
    return NAT_EINVAL;
  *out = NULL;
  w = calloc(1, sizeof *w);
  if (w == NULL)
    return NAT_ENOMEM;
  errno = 0;
  w->fp = fopen(path, "wb");
  if (w->fp == NULL) {
    rv = errno_code();
    free(w);
    return rv;
  }
  w->linktype = linktype;
  hdr[0] = PCAP_MAGIC_NSEC;
  hdr[2] = 0; /* thiszone */
  hdr[3] = 0; /* sigfigs */
  hdr[4] = PCAP_SNAPLEN;
  hdr[5] = linktype;
  memcpy(&hdr[1], ver, sizeof ver); /* version 2.4: two u16 */
  rv = put_all(w, hdr, sizeof hdr);
  if (rv != 0) {
    fclose(w->fp);
    free(w);
    return rv;
  }
  *out = w;
  return 0;
}

/* RFC 1071 one's complement sum of @p len bytes, continuing @p sum. */
static uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t len) {
  size_t i;
  for (i = 0; i + 1 < len; i += 2)
    sum += nat__get16(p + i);
  if (len & 1)
    sum += (uint32_t)p[len - 1] << 8;
  return sum;
}

static uint16_t csum_fold(uint32_t sum) {
  while (sum >> 16)
    sum = (sum & 0xFFFFu) + (sum >> 16);
  return (uint16_t)~sum;
}

/* Write the IP + UDP headers for @p len payload bytes into @p h; returns
 * the header length. */
static size_t build_ip_udp(nat_capture_writer *w, uint8_t *h,
                           const nat_addr *src, const nat_addr *dst,
                           const uint8_t *buf, size_t len) {
  bool v4 = src->family == NAT_AF_INET;
  size_t iplen = v4 ? V4_HDR : V6_HDR, alen = v4 ? 4 : 16;
  uint8_t *udp = h + iplen;
  uint16_t ulen = (uint16_t)(UDP_HDR + len), ck;
  uint32_t sum;
  memset(h, 0, iplen + UDP_HDR);
  if (v4) {
    h[0] = 0x45;
    nat__put16(h + 2, (uint16_t)(V4_HDR + UDP_HDR + len));
    nat__put16(h + 4, w->ip_id++);
    h[6] = 0x40; /* DF */
    h[8] = 64;
    h[9] = 17;
    memcpy(h + 12, src->ip, 4);
    memcpy(h + 16, dst->ip, 4);
    nat__put16(h + 10, csum_fold(csum_add(0, h, V4_HDR)));
  } else {
    h[0] = 0x60;
    nat__put16(h + 4, ulen);
    h[6] = 17;
    h[7] = 64;
    memcpy(h + 8, src->ip, 16);
    memcpy(h + 24, dst->ip, 16);
  }
  nat__put16(udp, src->port);
  nat__put16(udp + 2, dst->port);
  nat__put16(udp + 4, ulen);
  /* pseudo-header: addresses, protocol, UDP length */
  sum = csum_add(0, src->ip, alen);
  sum = csum_add(sum, dst->ip, alen);
  sum += 17u + ulen;
  sum = csum_add(sum, udp, UDP_HDR);
  sum = csum_add(sum, buf, len);
  ck = csum_fold(sum);
  nat__put16(udp + 6, ck == 0 ? 0xFFFF : ck);
  return iplen + UDP_HDR;
}

int nat_capture_writer_write(nat_capture_writer *w, nat_tstamp ts,
                             const nat_addr *src, const nat_addr *dst,
                             const uint8_t *buf, size_t len) {
  uint8_t h[MAX_HDRS];
  size_t hl = 0;
  uint32_t rec[4];
  if (w == NULL || src == NULL || dst == NULL || (buf == NULL && len != 0))
    return NAT_EINVAL;
  if (src->family != dst->family ||
      (src->family != NAT_AF_INET && src->family != NAT_AF_INET6))
    return NAT_EINVAL;
  if (len > (src->family == NAT_AF_INET ? 65507u : 65527u))
    return NAT_EINVAL;
  if (w->err != 0)
    return w->err;
  if (w->linktype == NAT_LINK_ETHERNET) {
    static const uint8_t macs[12] = {0x02, 0, 0, 0, 0, 0x02,
                                     0x02, 0, 0, 0, 0, 0x01};
    memcpy(h, macs, sizeof macs);
    nat__put16(h + 12, src->family == NAT_AF_INET ? 0x0800 : 0x86DD);
    hl = ETH_HDR;
  }
  hl += build_ip_udp(w, h + hl, src, dst, buf, len);
  rec[0] = (uint32_t)(ts / NAT_SECONDS);
  rec[1] = (uint32_t)(ts % NAT_SECONDS);
  rec[2] = (uint32_t)(hl + len);
  rec[3] = rec[2];
  put_all(w, rec, sizeof rec);
  put_all(w, h, hl);
  return put_all(w, buf, len);
}

int nat_capture_writer_close(nat_capture_writer *w) {
  int rv;
  if (w == NULL)
    return 0;
  rv = w->err;
  errno = 0;
  if (fflush(w->fp) != 0 && rv == 0)
    rv = errno_code();
  errno = 0;
  if (fclose(w->fp) != 0 && rv == 0)
    rv = errno_code();
  free(w);
  return rv;
}
