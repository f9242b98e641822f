/* IP fragment reassembly (src/capture/capture_frag.h) and its use by the
 * capture reader: in order, out of order, IPv6, overlap (RFC 5722),
 * duplicates, timeout in capture time, a full table, oversize, empty and
 * unaligned middle fragments, atomic fragments; the decoder's description
 * of a fragment; and a pcap file of fragmented STUN read back whole, with
 * the exact bytes and counters. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "capture/capture_frag.h"
#include "nat/capture.h"
#include "nat/error.h"
#include "nat/stun.h"

#define T0 ((nat_tstamp)1700000000 * NAT_SECONDS)

/* A UDP datagram (header + a padded Binding request of ID byte @p n)
 * of @p total bytes at @p buf; returns its length. */
static size_t udp_dgram(uint8_t *buf, size_t cap, unsigned n, size_t total) {
  uint8_t tid[12], pad[2048];
  nat_stun_builder b;
  size_t padlen = total - 8 - 20 - 4;
  assert_true(total <= cap && padlen <= sizeof pad && padlen % 4 == 0);
  memset(tid, (int)n, sizeof tid);
  for (size_t i = 0; i < padlen; i++)
    pad[i] = (uint8_t)(i * 7 + n);
  nat_stun_builder_init(&b, buf + 8, cap - 8, NAT_STUN_BINDING,
                        NAT_STUN_REQUEST, tid);
  assert_int_equal(nat_stun_add_attr(&b, NAT_ATTR_PADDING, pad, padlen), 0);
  ssize_t len = nat_stun_builder_finish(&b, false);
  assert_int_equal((size_t)len, total - 8);
  buf[0] = 0x9c, buf[1] = 0x40; /* 40000 */
  buf[2] = 0x0d, buf[3] = 0x96; /* 3478 */
  buf[4] = (uint8_t)(total >> 8), buf[5] = (uint8_t)total;
  buf[6] = buf[7] = 0;
  return total;
}

static nat__frag_in piece_of(uint8_t version, uint32_t id, const uint8_t *d,
                             uint32_t off, size_t len, bool more) {
  nat__frag_in in;
  memset(&in, 0, sizeof in);
  in.version = version;
  in.proto = 17;
  in.ttl = 60;
  in.dir = NAT_CAPDIR_IN;
  in.id = id;
  in.src.family = in.dst.family = version == 4 ? NAT_AF_INET : NAT_AF_INET6;
  in.src.ip[0] = 10, in.src.ip[3] = 2;
  in.dst.ip[0] = 203, in.dst.ip[3] = 1;
  in.offset = off;
  in.more = more;
  in.data = d + off;
  in.len = len;
  return in;
}

static nat__frag_table *table(void) {
  nat__frag_table *t = NULL;
  assert_int_equal(nat__frag_new(&t), 0);
  return t;
}

static int add(nat__frag_table *t, nat__frag_in in, nat_tstamp now,
               nat__frag_out *out) {
  return nat__frag_add(t, &in, now, out);
}

static nat__frag_stats stats(const nat__frag_table *t) {
  nat__frag_stats s;
  nat__frag_get_stats(t, &s);
  return s;
}

/* Two IPv4 fragments in order: the exact bytes, the first one's TTL,
 * and a UDP datagram in them. */
static void test_v4_in_order(void **state) {
  uint8_t d[1600];
  nat__frag_out o;
  nat_capture_frame f;
  size_t n = udp_dgram(d, sizeof d, 1, 1508);
  nat__frag_table *t = table();
  nat__frag_in a = piece_of(4, 7, d, 0, 1480, true);
  (void)state;
  assert_int_equal(add(t, a, T0, &o), 0);
  assert_int_equal(nat__frag_pending(t), 1);
  nat__frag_in b = piece_of(4, 7, d, 1480, n - 1480, false);
  b.ttl = 9;
  assert_int_equal(add(t, b, T0 + 1000, &o), 1);
  assert_int_equal(o.len, n);
  assert_memory_equal(o.data, d, n);
  assert_int_equal(o.ttl, 60);
  assert_int_equal(o.version, 4);
  assert_int_equal(nat__frag_pending(t), 0);
  assert_int_equal(nat__capture_decode_l4(&o, &f), 0);
  assert_int_equal(f.src.port, 40000);
  assert_int_equal(f.dst.port, 3478);
  assert_int_equal(f.len, n - 8);
  assert_true(nat_stun_is_stun(f.payload, f.len));
  nat__frag_stats s = stats(t);
  assert_int_equal(s.reassembled, 1);
  assert_int_equal(s.used, 2);
  assert_int_equal(s.dropped, 0);
  assert_int_equal(s.orphans, 0);
  nat__frag_free(t);
}

/* Three IPv6 fragments, last first, then the middle, then the first. */
static void test_v6_out_of_order(void **state) {
  uint8_t d[1600];
  nat__frag_out o;
  size_t n = udp_dgram(d, sizeof d, 2, 1500);
  nat__frag_table *t = table();
  (void)state;
  assert_int_equal(
      add(t, piece_of(6, 0xdeadbeef, d, 1000, n - 1000, false), T0, &o), 0);
  assert_int_equal(add(t, piece_of(6, 0xdeadbeef, d, 504, 496, true), T0, &o),
                   0);
  /* another datagram with the same id from IPv4: a different key */
  assert_int_equal(add(t, piece_of(4, 0xbeef, d, 0, 504, true), T0, &o), 0);
  assert_int_equal(add(t, piece_of(6, 0xdeadbeef, d, 0, 504, true), T0, &o), 1);
  assert_int_equal(o.len, n);
  assert_memory_equal(o.data, d, n);
  assert_int_equal(o.version, 6);
  assert_int_equal(nat__frag_pending(t), 1);
  nat__frag_flush(t);
  nat__frag_stats s = stats(t);
  assert_int_equal(s.reassembled, 1);
  assert_int_equal(s.used, 3);
  assert_int_equal(s.dropped, 1); /* the IPv4 one, unfinished */
  assert_int_equal(s.orphans, 1);
  nat__frag_free(t);
}

/* Overlap: the whole datagram goes, and so do its later fragments. */
static void test_overlap(void **state) {
  uint8_t d[1600];
  nat__frag_out o;
  size_t n = udp_dgram(d, sizeof d, 3, 1508);
  nat__frag_table *t = table();
  (void)state;
  assert_int_equal(add(t, piece_of(6, 1, d, 0, 1480, true), T0, &o), 0);
  assert_int_equal(add(t, piece_of(6, 1, d, 1472, n - 1472, false), T0, &o), 0);
  assert_int_equal(add(t, piece_of(6, 1, d, 1480, n - 1480, false), T0, &o),
                   0); /* would have completed it: too late (RFC 5722) */
  nat__frag_stats s = stats(t);
  assert_int_equal(s.reassembled, 0);
  assert_int_equal(s.bad, 1);
  assert_int_equal(s.dropped, 1);
  assert_int_equal(s.orphans, 3);
  /* a copy with other bytes at the same place is an overlap too */
  uint8_t e[1600];
  memcpy(e, d, sizeof e);
  e[100] ^= 1;
  assert_int_equal(add(t, piece_of(4, 2, d, 0, 1480, true), T0, &o), 0);
  assert_int_equal(add(t, piece_of(4, 2, e, 0, 1480, true), T0, &o), 0);
  s = stats(t);
  assert_int_equal(s.bad, 2);
  assert_int_equal(s.duplicate, 0);
  nat__frag_free(t);
}

/* An identical copy is ignored; the datagram still completes. */
static void test_duplicate(void **state) {
  uint8_t d[1600];
  nat__frag_out o;
  size_t n = udp_dgram(d, sizeof d, 4, 1508);
  nat__frag_table *t = table();
  (void)state;
  assert_int_equal(add(t, piece_of(4, 5, d, 0, 1480, true), T0, &o), 0);
  assert_int_equal(add(t, piece_of(4, 5, d, 0, 1480, true), T0, &o), 0);
  assert_int_equal(add(t, piece_of(4, 5, d, 1480, n - 1480, false), T0, &o), 1);
  assert_memory_equal(o.data, d, n);
  nat__frag_stats s = stats(t);
  assert_int_equal(s.duplicate, 1);
  assert_int_equal(s.orphans, 1);
  assert_int_equal(s.used, 2);
  assert_int_equal(s.bad, 0);
  /* the last fragment copied with MF set is not identical: bad */
  assert_int_equal(add(t, piece_of(4, 6, d, 1480, n - 1480, false), T0, &o), 0);
  assert_int_equal(add(t, piece_of(4, 6, d, 1480, n - 1480, true), T0, &o), 0);
  assert_int_equal(stats(t).bad, 1);
  nat__frag_free(t);
}

/* 30 s of capture time after its first fragment, a partial datagram is
 * dropped; 29 s is still in time. */
static void test_timeout(void **state) {
  uint8_t d[1600];
  nat__frag_out o;
  size_t n = udp_dgram(d, sizeof d, 5, 1508);
  nat__frag_table *t = table();
  (void)state;
  assert_int_equal(add(t, piece_of(4, 1, d, 0, 1480, true), T0, &o), 0);
  assert_int_equal(add(t, piece_of(4, 1, d, 1480, n - 1480, false),
                       T0 + 29 * NAT_SECONDS, &o),
                   1);
  assert_int_equal(add(t, piece_of(4, 2, d, 0, 1480, true), T0, &o), 0);
  nat__frag_expire(t, T0 + 30 * NAT_SECONDS); /* not older than 30 s */
  assert_int_equal(nat__frag_pending(t), 1);
  assert_int_equal(add(t, piece_of(4, 2, d, 1480, n - 1480, false),
                       T0 + 31 * NAT_SECONDS, &o),
                   0);
  nat__frag_stats s = stats(t);
  assert_int_equal(s.timeout, 1);
  assert_int_equal(s.dropped, 1);
  assert_int_equal(s.orphans, 1);
  assert_int_equal(nat__frag_pending(t), 1); /* the late last fragment */
  /* capture time going back expires nothing */
  nat__frag_expire(t, T0);
  assert_int_equal(nat__frag_pending(t), 1);
  nat__frag_flush(t);
  s = stats(t);
  assert_int_equal(s.dropped, 2);
  assert_int_equal(s.timeout, 1);
  assert_int_equal(s.orphans, 2);
  assert_int_equal(s.reassembled, 1);
  nat__frag_free(t);
}

/* 65 datagrams begun: the oldest is evicted, the others complete. */
static void test_table_full(void **state) {
  uint8_t d[1600];
  nat__frag_out o;
  size_t n = udp_dgram(d, sizeof d, 6, 1508);
  nat__frag_table *t = table();
  (void)state;
  for (uint32_t id = 0; id <= NAT__FRAG_SLOTS; id++)
    assert_int_equal(add(t, piece_of(4, id, d, 0, 1480, true), T0, &o), 0);
  assert_int_equal(nat__frag_pending(t), NAT__FRAG_SLOTS);
  nat__frag_stats s = stats(t);
  assert_int_equal(s.evicted, 1);
  assert_int_equal(s.dropped, 1);
  assert_int_equal(s.orphans, 1);
  /* id 0 was the oldest: its last fragment starts a new datagram (and
   * evicts id 1) */
  assert_int_equal(add(t, piece_of(4, 0, d, 1480, n - 1480, false), T0, &o), 0);
  assert_int_equal(stats(t).evicted, 2);
  assert_int_equal(add(t, piece_of(4, 1, d, 1480, n - 1480, false), T0, &o),
                   0); /* evicted too: evicts id 2 */
  for (uint32_t id = 3; id <= NAT__FRAG_SLOTS; id++) {
    assert_int_equal(add(t, piece_of(4, id, d, 1480, n - 1480, false), T0, &o),
                     1);
    assert_memory_equal(o.data, d, n);
  }
  s = stats(t);
  assert_int_equal(s.reassembled, NAT__FRAG_SLOTS - 2);
  assert_int_equal(s.evicted, 3);
  nat__frag_free(t);
}

/* Data ending beyond 65,535 bytes, an empty or unaligned middle
 * fragment, two different ends: each drops its datagram. */
static void test_bad_shapes(void **state) {
  static uint8_t big[65536 + 64];
  nat__frag_out o;
  nat__frag_table *t = table();
  (void)state;
  /* ends at 65,535 exactly: held */
  assert_int_equal(add(t, piece_of(4, 1, big, 65528, 7, false), T0, &o), 0);
  assert_int_equal(stats(t).bad, 0);
  /* ends at 65,536 */
  assert_int_equal(add(t, piece_of(4, 2, big, 65528, 8, false), T0, &o), 0);
  assert_int_equal(stats(t).bad, 1);
  assert_int_equal(add(t, piece_of(6, 3, big, 8, 0, true), T0, &o), 0);
  assert_int_equal(stats(t).bad, 2); /* empty middle fragment */
  assert_int_equal(add(t, piece_of(6, 4, big, 0, 12, true), T0, &o), 0);
  assert_int_equal(stats(t).bad, 3); /* 12 bytes, more to come */
  assert_int_equal(add(t, piece_of(4, 5, big, 16, 8, false), T0, &o), 0);
  assert_int_equal(add(t, piece_of(4, 5, big, 16, 16, false), T0, &o), 0);
  assert_int_equal(stats(t).bad, 4); /* two ends */
  assert_int_equal(add(t, piece_of(4, 6, big, 64, 8, false), T0, &o), 0);
  assert_int_equal(add(t, piece_of(4, 6, big, 72, 8, true), T0, &o), 0);
  assert_int_equal(stats(t).bad, 5); /* beyond the end */
  nat__frag_stats s = stats(t);
  assert_int_equal(s.dropped, 5);
  assert_int_equal(s.reassembled, 0);
  nat__frag_free(t);
}

/* An IPv6 atomic fragment is a datagram by itself, beside a datagram
 * in reassembly with the same identification. */
static void test_atomic(void **state) {
  uint8_t d[1600];
  nat__frag_out o;
  size_t n = udp_dgram(d, sizeof d, 7, 100);
  nat__frag_table *t = table();
  (void)state;
  assert_int_equal(add(t, piece_of(6, 9, d, 0, 48, true), T0, &o), 0);
  assert_int_equal(add(t, piece_of(6, 9, d, 0, n, false), T0, &o), 1);
  assert_int_equal(o.len, n);
  assert_memory_equal(o.data, d, n);
  assert_int_equal(nat__frag_pending(t), 1);
  nat__frag_free(t);
}

/* ------------------------------------------------------ the decoder */

static void put16(uint8_t *p, unsigned v) {
  p[0] = (uint8_t)(v >> 8);
  p[1] = (uint8_t)v;
}

/* Raw IPv4 packet: header with id 0x1234, fragment field @p ff, TTL
 * @p ttl, and @p len bytes of @p data. */
static size_t v4_frag(uint8_t *p, unsigned ff, uint8_t ttl, const uint8_t *data,
                      size_t len) {
  memset(p, 0, 20);
  p[0] = 0x45;
  put16(p + 2, (unsigned)(20 + len));
  put16(p + 4, 0x1234);
  put16(p + 6, ff);
  p[8] = ttl;
  p[9] = 17;
  memcpy(p + 12, "\x0a\x00\x00\x02\xcb\x00\x71\x01", 8);
  memcpy(p + 20, data, len);
  return 20 + len;
}

/* Raw IPv6 packet with a Fragment header (id 0xcafef00d). */
static size_t v6_frag(uint8_t *p, unsigned offset, bool more, uint8_t hlim,
                      const uint8_t *data, size_t len) {
  memset(p, 0, 48);
  p[0] = 0x60;
  put16(p + 4, (unsigned)(8 + len));
  p[6] = 44;
  p[7] = hlim;
  p[8] = 0x20, p[9] = 0x01, p[10] = 0x0d, p[11] = 0xb8, p[23] = 2;
  p[24] = 0x20, p[25] = 0x01, p[26] = 0x0d, p[27] = 0xb8, p[39] = 1;
  p[40] = 17;
  put16(p + 42, offset | (more ? 1u : 0u));
  memcpy(p + 44, "\xca\xfe\xf0\x0d", 4);
  memcpy(p + 48, data, len);
  return 48 + len;
}

static void test_decode_describes(void **state) {
  uint8_t d[1600], f[1700];
  nat_capture_frame fr;
  nat__frag_in in;
  size_t n = udp_dgram(d, sizeof d, 8, 1508);
  (void)state;
  size_t k = v4_frag(f, (1480 / 8), 50, d + 1480, n - 1480);
  assert_int_equal(nat__capture_decode_frag(NAT_LINK_RAW, f, k, &fr, &in),
                   NAT_EFRAME);
  assert_int_equal(fr.reason, NAT_CAPR_FRAGMENT);
  assert_int_equal(in.version, 4);
  assert_int_equal(in.id, 0x1234);
  assert_int_equal(in.offset, 1480);
  assert_false(in.more);
  assert_int_equal(in.len, n - 1480);
  assert_memory_equal(in.data, d + 1480, n - 1480);
  assert_int_equal(in.ttl, 50);
  /* cut by the snaplen: refused, not described */
  assert_int_equal(nat__capture_decode_frag(NAT_LINK_RAW, f, k - 1, &fr, &in),
                   NAT_EFRAME);
  assert_int_equal(fr.reason, NAT_CAPR_FRAGMENT);
  assert_int_equal(in.version, 0);
  k = v6_frag(f, 1448, true, 33, d + 1448, 8);
  assert_int_equal(nat__capture_decode_frag(NAT_LINK_RAW, f, k, &fr, &in),
                   NAT_EFRAME);
  assert_int_equal(in.version, 6);
  assert_int_equal(in.id, 0xcafef00d);
  assert_int_equal(in.offset, 1448);
  assert_true(in.more);
  assert_int_equal(in.len, 8);
  assert_int_equal(in.proto, 17);
  assert_int_equal(in.ttl, 33);
  /* the public decoder still refuses fragments */
  assert_int_equal(nat_capture_decode(NAT_LINK_RAW, f, k, &fr), NAT_EFRAME);
  assert_int_equal(fr.reason, NAT_CAPR_FRAGMENT);
}

/* ------------------------------------------------------ the reader */

static void le32(FILE *fp, uint32_t v) {
  uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16),
                  (uint8_t)(v >> 24)};
  assert_int_equal(fwrite(b, 1, 4, fp), 4);
}

static void rec(FILE *fp, nat_tstamp ts, const uint8_t *f, size_t n) {
  le32(fp, (uint32_t)(ts / NAT_SECONDS));
  le32(fp, (uint32_t)(ts % NAT_SECONDS));
  le32(fp, (uint32_t)n);
  le32(fp, (uint32_t)n);
  assert_int_equal(fwrite(f, 1, n, fp), n);
}

/* A classic pcap (ns, raw IP): an IPv4 STUN request in two fragments,
 * second first; an IPv6 one in two; a lone first fragment; a DNS-ish
 * datagram. The reader returns the two requests whole. */
static void test_reader(void **state) {
  char path[] = "/tmp/test_capture_frag.XXXXXX";
  uint8_t d4[1600], d6[1600], f[1700], dns[8] = {0, 0x35, 0, 0x35, 0, 8, 0, 0};
  nat_capture_reader *r = NULL;
  nat_capture_pkt p;
  nat_capture_stats st;
  char err[NAT_CAPTURE_ERRLEN];
  size_t n4 = udp_dgram(d4, sizeof d4, 9, 1508);
  size_t n6 = udp_dgram(d6, sizeof d6, 10, 1500), k;
  int fd = mkstemp(path);
  (void)state;
  assert_true(fd >= 0);
  FILE *fp = fdopen(fd, "wb");
  assert_non_null(fp);
  le32(fp, 0xA1B23C4Du);
  le32(fp, 0x00040002u);
  le32(fp, 0);
  le32(fp, 0);
  le32(fp, 65535);
  le32(fp, NAT_LINK_RAW);
  k = v4_frag(f, 1480 / 8, 40, d4 + 1480, n4 - 1480);
  rec(fp, T0 + 1, f, k);
  k = v6_frag(f, 0, true, 41, d6, 1448);
  rec(fp, T0 + 2, f, k);
  k = v4_frag(f, 0x2000, 42, d4, 1480);
  rec(fp, T0 + 3, f, k); /* completes the IPv4 one */
  k = v6_frag(f, 1448, false, 43, d6 + 1448, n6 - 1448);
  rec(fp, T0 + 4, f, k);         /* completes the IPv6 one */
  k = v4_frag(f, 0, 44, dns, 8); /* not a fragment */
  rec(fp, T0 + 5, f, k);
  k = v6_frag(f, 0, true, 45, d6, 8); /* a lone first fragment */
  f[44] = 0x99;                       /* another id */
  rec(fp, T0 + 6, f, k);
  assert_int_equal(fclose(fp), 0);

  assert_int_equal(nat_capture_reader_open(&r, path, err, sizeof err), 0);
  assert_int_equal(nat_capture_reader_next(r, &p), 1);
  assert_int_equal(p.record, 3);
  assert_int_equal(p.ts, T0 + 3);
  assert_int_equal(p.ttl, 42); /* the first fragment's */
  assert_int_equal(p.len, n4 - 8);
  assert_memory_equal(p.payload, d4 + 8, n4 - 8);
  assert_int_equal(p.msg->tid[0], 9);
  assert_int_equal(p.src.family, NAT_AF_INET);
  assert_int_equal(p.src.port, 40000);
  assert_int_equal(nat_capture_reader_next(r, &p), 1);
  assert_int_equal(p.record, 4);
  assert_int_equal(p.ts, T0 + 4);
  assert_int_equal(p.ttl, 41);
  assert_int_equal(p.len, n6 - 8);
  assert_memory_equal(p.payload, d6 + 8, n6 - 8);
  assert_int_equal(p.msg->tid[0], 10);
  assert_int_equal(p.dst.family, NAT_AF_INET6);
  assert_int_equal(nat_capture_reader_next(r, &p), 0);
  nat_capture_reader_stats(r, &st);
  assert_int_equal(st.records, 6);
  assert_int_equal(st.udp, 3);
  assert_int_equal(st.stun, 2);
  assert_int_equal(st.not_stun, 1);
  assert_int_equal(st.frag_reassembled, 2);
  assert_int_equal(st.frag_used, 4);
  assert_int_equal(st.frag_dropped, 1); /* the lone one, at the end */
  assert_int_equal(st.reason[NAT_CAPR_FRAGMENT], 1);
  uint64_t sum = 0;
  for (int i = 0; i < NAT_CAPR_COUNT; i++)
    sum += st.reason[i];
  assert_int_equal(st.records + st.frag_reassembled,
                   st.udp + sum + st.frag_used);
  nat_capture_reader_close(r);
  unlink(path);
}

/* A file damaged after a first fragment: the reader fails, and the
 * fragment held is counted as dropped. */
static void test_reader_damaged(void **state) {
  char path[] = "/tmp/test_capture_frag.XXXXXX";
  uint8_t d4[1600], f[1700];
  nat_capture_reader *r = NULL;
  nat_capture_pkt p;
  nat_capture_stats st;
  char err[NAT_CAPTURE_ERRLEN];
  size_t k;
  int fd = mkstemp(path);
  (void)state;
  udp_dgram(d4, sizeof d4, 11, 1508);
  assert_true(fd >= 0);
  FILE *fp = fdopen(fd, "wb");
  assert_non_null(fp);
  le32(fp, 0xA1B23C4Du);
  le32(fp, 0x00040002u);
  le32(fp, 0);
  le32(fp, 0);
  le32(fp, 65535);
  le32(fp, NAT_LINK_RAW);
  k = v4_frag(f, 0x2000, 42, d4, 1480);
  rec(fp, T0, f, k);
  le32(fp, 1); /* a record header cut short */
  assert_int_equal(fclose(fp), 0);
  assert_int_equal(nat_capture_reader_open(&r, path, err, sizeof err), 0);
  assert_int_equal(nat_capture_reader_next(r, &p), NAT_ECAPTURE);
  nat_capture_reader_stats(r, &st);
  assert_int_equal(st.records, 1);
  assert_int_equal(st.frag_dropped, 1);
  assert_int_equal(st.frag_reassembled, 0);
  assert_int_equal(st.reason[NAT_CAPR_FRAGMENT], 1);
  nat_capture_reader_close(r);
  unlink(path);
}

/* Datagrams begun 0, 10 and 20 s in: each times out on its own 30 s
 * (the table's cached oldest time is recomputed after each expiry),
 * whatever order the slots were taken in. */
static void test_timeout_staggered(void **state) {
  uint8_t d[1600];
  nat__frag_out o;
  nat__frag_table *t = table();
  (void)state;
  udp_dgram(d, sizeof d, 9, 1508);
  assert_int_equal(add(t, piece_of(4, 1, d, 0, 1480, true), T0, &o), 0);
  assert_int_equal(
      add(t, piece_of(4, 2, d, 0, 1480, true), T0 + 10 * NAT_SECONDS, &o), 0);
  assert_int_equal(
      add(t, piece_of(4, 3, d, 0, 1480, true), T0 + 20 * NAT_SECONDS, &o), 0);
  nat__frag_expire(t, T0 + 30 * NAT_SECONDS);
  assert_int_equal(nat__frag_pending(t), 3);
  nat__frag_expire(t, T0 + 31 * NAT_SECONDS);
  assert_int_equal(nat__frag_pending(t), 2);
  nat__frag_expire(t, T0 + 40 * NAT_SECONDS);
  assert_int_equal(nat__frag_pending(t), 2);
  nat__frag_expire(t, T0 + 41 * NAT_SECONDS);
  assert_int_equal(nat__frag_pending(t), 1);
  /* a datagram begun earlier than the others (capture time went back) */
  assert_int_equal(
      add(t, piece_of(4, 4, d, 0, 1480, true), T0 + 5 * NAT_SECONDS, &o), 0);
  nat__frag_expire(t, T0 + 36 * NAT_SECONDS);
  assert_int_equal(nat__frag_pending(t), 1); /* id 4 gone, id 3 kept */
  nat__frag_expire(t, T0 + 51 * NAT_SECONDS);
  assert_int_equal(nat__frag_pending(t), 0);
  assert_int_equal(stats(t).timeout, 4);
  nat__frag_free(t);
}

/* Reset: nothing pending, counters zero, and the table works as new
 * (the slot buffers kept are reused). */
static void test_reset(void **state) {
  uint8_t d[1600];
  nat__frag_out o;
  size_t n = udp_dgram(d, sizeof d, 10, 1508);
  nat__frag_table *t = table();
  (void)state;
  for (uint32_t id = 0; id < 3; id++)
    assert_int_equal(add(t, piece_of(4, id, d, 0, 1480, true), T0, &o), 0);
  assert_int_equal(add(t, piece_of(4, 0, d, 1480, n - 1480, false), T0, &o), 1);
  assert_int_equal(nat__frag_pending(t), 2);
  nat__frag_reset(t);
  nat__frag_reset(NULL);
  assert_int_equal(nat__frag_pending(t), 0);
  nat__frag_stats s = stats(t);
  assert_int_equal(s.reassembled + s.used + s.dropped + s.orphans, 0);
  /* id 1's last fragment no longer completes anything */
  assert_int_equal(add(t, piece_of(4, 1, d, 1480, n - 1480, false), T0, &o), 0);
  assert_int_equal(add(t, piece_of(4, 1, d, 0, 1480, true), T0, &o), 1);
  assert_memory_equal(o.data, d, n);
  for (uint32_t id = 0; id <= NAT__FRAG_SLOTS; id++)
    assert_int_equal(add(t, piece_of(4, id, d, 0, 1480, true), T0, &o), 0);
  assert_int_equal(nat__frag_pending(t), NAT__FRAG_SLOTS);
  assert_int_equal(stats(t).evicted, 1);
  nat__frag_free(t);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_v4_in_order),
      cmocka_unit_test(test_v6_out_of_order),
      cmocka_unit_test(test_overlap),
      cmocka_unit_test(test_duplicate),
      cmocka_unit_test(test_timeout),
      cmocka_unit_test(test_table_full),
      cmocka_unit_test(test_timeout_staggered),
      cmocka_unit_test(test_reset),
      cmocka_unit_test(test_bad_shapes),
      cmocka_unit_test(test_atomic),
      cmocka_unit_test(test_decode_describes),
      cmocka_unit_test(test_reader),
      cmocka_unit_test(test_reader_damaged),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
