/* The capture writer and the streaming reader: write with
 * nat_capture_writer, read back with nat_capture_reader (same datagrams,
 * timestamps, valid checksums); a pcapng file crafted here block by block;
 * damaged files (truncated record, wrong magic, garbage record header)
 * give a one-line error naming the record and byte offset. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "nat/capture.h"
#include "nat/error.h"
#include "nat/stun.h"

#define TS0 ((nat_tstamp)1700000000 * NAT_SECONDS + 123456789)

static char tmp_path[64];

static int setup(void **state) {
  int fd;
  (void)state;
  snprintf(tmp_path, sizeof tmp_path, "/tmp/test_capture_pcap.XXXXXX");
  fd = mkstemp(tmp_path);
  if (fd < 0)
    return -1;
  close(fd);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  unlink(tmp_path);
  return 0;
}

static nat_addr A(const char *s) {
  nat_addr a;
  assert_int_equal(nat_addr_parse(&a, s, 0), 0);
  return a;
}

/* A Binding request with ID byte @p n and SOFTWARE of @p pad bytes. */
static size_t stun_req(uint8_t *buf, size_t cap, unsigned n, size_t pad) {
  uint8_t tid[12];
  char sw[64];
  nat_stun_builder b;
  memset(tid, (int)n, sizeof tid);
  memset(sw, 'x', pad);
  sw[pad] = '\0';
  nat_stun_builder_init(&b, buf, cap, NAT_STUN_BINDING, NAT_STUN_REQUEST, tid);
  if (pad)
    nat_stun_add_string(&b, NAT_ATTR_SOFTWARE, sw);
  ssize_t len = nat_stun_builder_finish(&b, true);
  assert_true(len > 0);
  return (size_t)len;
}

typedef struct dgram {
  const char *src, *dst;
  unsigned n; /* STUN ID byte; 0: not STUN */
  size_t pad;
} dgram;

static const dgram sample[] = {
    {"10.0.0.2:5000", "203.0.113.1:3478", 1, 0},
    {"[2001:db8::2]:5000", "[2001:db8::1]:3478", 2, 3},
    {"10.0.0.2:5000", "10.0.0.1:53", 0, 0},
    {"10.0.0.2:5001", "203.0.113.1:3479", 3, 17},
    {"[2001:db8::2]:5001", "[2001:db8::1]:3479", 4, 1},
};
#define NSAMPLE (sizeof sample / sizeof sample[0])

static size_t payload_of(const dgram *g, uint8_t *buf, size_t cap) {
  if (g->n == 0) {
    memcpy(buf, "\x12\x34\x01\x00\x00\x01\x00\x00", 8); /* DNS-ish */
    return 8;
  }
  return stun_req(buf, cap, g->n, g->pad);
}

static void write_sample(const char *path, uint32_t linktype) {
  nat_capture_writer *w = NULL;
  uint8_t buf[256];
  size_t i;
  assert_int_equal(nat_capture_writer_open(&w, path, linktype), 0);
  for (i = 0; i < NSAMPLE; i++) {
    nat_addr s = A(sample[i].src), d = A(sample[i].dst);
    size_t n = payload_of(&sample[i], buf, sizeof buf);
    assert_int_equal(
        nat_capture_writer_write(w, TS0 + i * 1000, &s, &d, buf, n), 0);
  }
  assert_int_equal(nat_capture_writer_close(w), 0);
}

static void read_sample(const char *path, uint32_t linktype) {
  nat_capture_reader *r = NULL;
  nat_capture_pkt p;
  nat_capture_stats st;
  char err[NAT_CAPTURE_ERRLEN];
  uint8_t buf[256];
  size_t i;
  assert_int_equal(nat_capture_reader_open(&r, path, err, sizeof err), 0);
  assert_int_equal(nat_capture_reader_linktype(r), linktype);
  for (i = 0; i < NSAMPLE; i++) {
    nat_addr s = A(sample[i].src), d = A(sample[i].dst);
    size_t n;
    if (sample[i].n == 0)
      continue;
    n = payload_of(&sample[i], buf, sizeof buf);
    assert_int_equal(nat_capture_reader_next(r, &p), 1);
    assert_int_equal(p.record, i + 1);
    assert_int_equal(p.ts, TS0 + i * 1000);
    assert_true(nat_addr_equal(&p.src, &s));
    assert_true(nat_addr_equal(&p.dst, &d));
    assert_int_equal(p.len, n);
    assert_memory_equal(p.payload, buf, n);
    assert_non_null(p.msg);
    assert_int_equal(p.msg->cls, NAT_STUN_REQUEST);
    assert_int_equal(p.msg->tid[0], sample[i].n);
  }
  assert_int_equal(nat_capture_reader_next(r, &p), 0);
  assert_int_equal(nat_capture_reader_next(r, &p), 0);
  nat_capture_reader_stats(r, &st);
  assert_int_equal(st.records, NSAMPLE);
  assert_int_equal(st.udp, NSAMPLE);
  assert_int_equal(st.stun, NSAMPLE - 1);
  assert_int_equal(st.not_stun, 1);
  assert_string_equal(nat_capture_reader_strerror(r), "");
  nat_capture_reader_close(r);
}

static uint32_t sum16(uint32_t s, const uint8_t *p, size_t n) {
  for (size_t i = 0; i + 1 < n; i += 2)
    s += (uint32_t)p[i] << 8 | p[i + 1];
  if (n & 1)
    s += (uint32_t)p[n - 1] << 8;
  return s;
}

static uint16_t fold(uint32_t s) {
  while (s >> 16)
    s = (s & 0xFFFF) + (s >> 16);
  return (uint16_t)s;
}

/* Walk the raw file: every IPv4 header and UDP checksum verifies. */
static void check_checksums(const char *path) {
  FILE *f = fopen(path, "rb");
  uint8_t hdr[24], rec[16], pkt[512];
  size_t n = 0;
  assert_non_null(f);
  assert_int_equal(fread(hdr, 1, 24, f), 24);
  while (fread(rec, 1, 16, f) == 16) {
    uint32_t caplen;
    memcpy(&caplen, rec + 8, 4);
    assert_true(caplen <= sizeof pkt);
    assert_int_equal(fread(pkt, 1, caplen, f), caplen);
    bool v4 = pkt[0] >> 4 == 4;
    size_t ihl = v4 ? 20 : 40, alen = v4 ? 4 : 16;
    const uint8_t *udp = pkt + ihl;
    uint32_t s;
    if (v4)
      assert_int_equal(fold(sum16(0, pkt, 20)), 0xFFFF);
    s = sum16(0, pkt + (v4 ? 12 : 8), 2 * alen);
    s += 17 + ((uint32_t)udp[4] << 8 | udp[5]);
    s = sum16(s, udp, caplen - ihl);
    assert_int_equal(fold(s), 0xFFFF);
    n++;
  }
  assert_int_equal(n, NSAMPLE);
  fclose(f);
}

static void test_write_read_raw(void **state) {
  (void)state;
  write_sample(tmp_path, NAT_LINK_RAW);
  check_checksums(tmp_path);
  read_sample(tmp_path, NAT_LINK_RAW);
}

static void test_write_read_ethernet(void **state) {
  (void)state;
  write_sample(tmp_path, NAT_LINK_ETHERNET);
  read_sample(tmp_path, NAT_LINK_ETHERNET);
}

/* tshark, when installed, dissects what the writer wrote as STUN. */
static void test_tshark_dissects(void **state) {
  char cmd[256];
  FILE *p;
  int lines = 0, c;
  (void)state;
  if (access("/usr/bin/tshark", X_OK) != 0) {
    print_message("skipped: /usr/bin/tshark not installed\n");
    skip();
  }
  write_sample(tmp_path, NAT_LINK_RAW);
  snprintf(cmd, sizeof cmd,
           "/usr/bin/tshark -n -r %s -Y 'stun && !_ws.malformed && "
           "udp.checksum.status != 0' -o udp.check_checksum:TRUE "
           "-T fields -e stun.type 2>/dev/null",
           tmp_path);
  p = popen(cmd, "r");
  assert_non_null(p);
  while ((c = fgetc(p)) != EOF)
    lines += c == '\n';
  assert_int_equal(pclose(p), 0);
  assert_int_equal(lines, NSAMPLE - 1);
}

static void put_le32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8), p[2] = (uint8_t)(v >> 16),
  p[3] = (uint8_t)(v >> 24);
}

static void put_le16(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8);
}

/* A pcapng file made by hand: SHB, IDB (LINKTYPE_RAW, if_tsresol 9),
 * one EPB holding an IPv4/UDP/STUN packet, one EPB holding ARP-less
 * junk (not IP). */
static void test_pcapng_by_hand(void **state) {
  uint8_t f[512], stun[64], ip[128];
  size_t o = 0, sl, il;
  nat_tstamp ts = TS0;
  nat_capture_reader *r = NULL;
  nat_capture_pkt p;
  nat_capture_stats st;
  char err[NAT_CAPTURE_ERRLEN];
  FILE *fp;
  (void)state;
  sl = stun_req(stun, sizeof stun, 9, 0);
  memset(ip, 0, 28);
  ip[0] = 0x45;
  ip[2] = 0, ip[3] = (uint8_t)(28 + sl);
  ip[8] = 64, ip[9] = 17;
  memcpy(ip + 12, "\x0a\x00\x00\x02\xcb\x00\x71\x01", 8);
  ip[20] = 0x13, ip[21] = 0x88, ip[22] = 0x0d, ip[23] = 0x96;
  ip[24] = 0, ip[25] = (uint8_t)(8 + sl);
  memcpy(ip + 28, stun, sl);
  il = 28 + sl; /* a multiple of 4: STUN is */
  /* SHB */
  put_le32(f + o, 0x0A0D0D0A), put_le32(f + o + 4, 28);
  put_le32(f + o + 8, 0x1A2B3C4D);
  put_le16(f + o + 12, 1), put_le16(f + o + 14, 0);
  memset(f + o + 16, 0xFF, 8); /* section length unknown */
  put_le32(f + o + 24, 28);
  o += 28;
  /* IDB with if_tsresol = 9 (ns) */
  put_le32(f + o, 0x00000001), put_le32(f + o + 4, 32);
  put_le16(f + o + 8, 101), put_le16(f + o + 10, 0);
  put_le32(f + o + 12, 0xFFFF);
  put_le16(f + o + 16, 9), put_le16(f + o + 18, 1); /* if_tsresol */
  f[o + 20] = 9, f[o + 21] = f[o + 22] = f[o + 23] = 0;
  put_le16(f + o + 24, 0), put_le16(f + o + 26, 0); /* opt_endofopt */
  put_le32(f + o + 28, 32);
  o += 32;
  /* EPB */
  uint32_t blen = (uint32_t)(32 + il);
  put_le32(f + o, 0x00000006), put_le32(f + o + 4, blen);
  put_le32(f + o + 8, 0);
  put_le32(f + o + 12, (uint32_t)(ts >> 32));
  put_le32(f + o + 16, (uint32_t)ts);
  put_le32(f + o + 20, (uint32_t)il), put_le32(f + o + 24, (uint32_t)il);
  memcpy(f + o + 28, ip, il);
  put_le32(f + o + 28 + il, blen);
  o += blen;
  fp = fopen(tmp_path, "wb");
  assert_non_null(fp);
  assert_int_equal(fwrite(f, 1, o, fp), o);
  fclose(fp);
  assert_int_equal(nat_capture_reader_open(&r, tmp_path, err, sizeof err), 0);
  assert_int_equal(nat_capture_reader_linktype(r), NAT_LINK_RAW);
  assert_int_equal(nat_capture_reader_next(r, &p), 1);
  assert_int_equal(p.ts, ts);
  assert_int_equal(p.len, sl);
  assert_int_equal(p.src.port, 5000);
  assert_int_equal(p.dst.port, 3478);
  assert_int_equal(p.msg->tid[0], 9);
  assert_int_equal(nat_capture_reader_next(r, &p), 0);
  nat_capture_reader_stats(r, &st);
  assert_int_equal(st.records, 1);
  nat_capture_reader_close(r);
}

static void test_truncated_last_record(void **state) {
  nat_capture_reader *r = NULL;
  nat_capture_pkt p;
  char err[NAT_CAPTURE_ERRLEN], want[64];
  struct stat sb;
  long rec5;
  (void)state;
  write_sample(tmp_path, NAT_LINK_RAW);
  assert_int_equal(stat(tmp_path, &sb), 0);
  /* record 5 starts where its 16-byte header + IPv6/UDP + STUN end */
  {
    uint8_t buf[256];
    rec5 = (long)sb.st_size -
           (long)(16 + 48 + payload_of(&sample[4], buf, sizeof buf));
  }
  assert_int_equal(truncate(tmp_path, (off_t)(sb.st_size - 10)), 0);
  assert_int_equal(nat_capture_reader_open(&r, tmp_path, err, sizeof err), 0);
  for (int i = 0; i < 3; i++)
    assert_int_equal(nat_capture_reader_next(r, &p), 1);
  assert_int_equal(nat_capture_reader_next(r, &p), NAT_ECAPTURE);
  const char *msg = nat_capture_reader_strerror(r);
  print_message("truncated: %s\n", msg);
  assert_non_null(strstr(msg, tmp_path));
  snprintf(want, sizeof want, "record 5 (byte offset %ld)", rec5);
  assert_non_null(strstr(msg, want));
  assert_non_null(strstr(msg, "after 4 good records"));
  assert_non_null(strstr(msg, "truncated"));
  assert_null(strchr(msg, '\n'));
  assert_int_equal(nat_capture_reader_next(r, &p), NAT_ECAPTURE);
  nat_capture_reader_close(r);
  /* cut inside the record header */
  write_sample(tmp_path, NAT_LINK_RAW);
  assert_int_equal(truncate(tmp_path, (off_t)(rec5 + 7)), 0);
  assert_int_equal(nat_capture_reader_open(&r, tmp_path, err, sizeof err), 0);
  for (int i = 0; i < 3; i++)
    assert_int_equal(nat_capture_reader_next(r, &p), 1);
  assert_int_equal(nat_capture_reader_next(r, &p), NAT_ECAPTURE);
  print_message("cut header: %s\n", nat_capture_reader_strerror(r));
  assert_non_null(strstr(nat_capture_reader_strerror(r), want));
  nat_capture_reader_close(r);
}

static void write_bytes(const void *p, size_t n) {
  FILE *fp = fopen(tmp_path, "wb");
  assert_non_null(fp);
  assert_int_equal(fwrite(p, 1, n, fp), n);
  fclose(fp);
}

static void test_wrong_magic_and_garbage(void **state) {
  nat_capture_reader *r = NULL;
  nat_capture_pkt p;
  char err[NAT_CAPTURE_ERRLEN];
  uint8_t hdr[24 + 16];
  FILE *fp;
  (void)state;
  write_bytes("this is not a capture file at all, honest", 41);
  assert_int_equal(nat_capture_reader_open(&r, tmp_path, err, sizeof err),
                   NAT_ECAPTURE);
  assert_null(r);
  print_message("wrong magic: %s\n", err);
  assert_non_null(strstr(err, tmp_path));
  assert_non_null(strstr(err, "not a readable pcap or pcapng"));
  /* a header cut short */
  write_sample(tmp_path, NAT_LINK_RAW);
  assert_int_equal(truncate(tmp_path, 10), 0);
  assert_int_equal(nat_capture_reader_open(&r, tmp_path, err, sizeof err),
                   NAT_ECAPTURE);
  print_message("short header: %s\n", err);
  /* a record header claiming 4 GB */
  write_sample(tmp_path, NAT_LINK_RAW);
  fp = fopen(tmp_path, "rb");
  assert_int_equal(fread(hdr, 1, 24, fp), 24);
  fclose(fp);
  memset(hdr + 24, 0xEE, 16);
  write_bytes(hdr, sizeof hdr);
  assert_int_equal(nat_capture_reader_open(&r, tmp_path, err, sizeof err), 0);
  assert_int_equal(nat_capture_reader_next(r, &p), NAT_ECAPTURE);
  print_message("garbage: %s\n", nat_capture_reader_strerror(r));
  assert_non_null(
      strstr(nat_capture_reader_strerror(r), "record 1 (byte offset 24)"));
  nat_capture_reader_close(r);
  /* an empty capture: a header, no records */
  write_bytes(hdr, 24);
  assert_int_equal(nat_capture_reader_open(&r, tmp_path, err, sizeof err), 0);
  assert_int_equal(nat_capture_reader_next(r, &p), 0);
  nat_capture_reader_close(r);
  /* a link type the decoder does not know (147, USER0) */
  hdr[20] = 147, hdr[21] = hdr[22] = hdr[23] = 0;
  write_bytes(hdr, 24);
  assert_int_equal(nat_capture_reader_open(&r, tmp_path, err, sizeof err),
                   NAT_EUNSUPPORTED);
  print_message("link type: %s\n", err);
  assert_non_null(strstr(err, "147"));
}

/* ------------------------------------------- pcapng and pcap by hand */

/* A growing file image in one byte order. */
typedef struct bw {
  uint8_t b[16384];
  size_t n;
  bool be;
} bw;

static void w8(bw *w, uint8_t v) {
  assert_true(w->n < sizeof w->b);
  w->b[w->n++] = v;
}

static void w16(bw *w, uint16_t v) {
  w8(w, (uint8_t)(w->be ? v >> 8 : v));
  w8(w, (uint8_t)(w->be ? v : v >> 8));
}

static void w32(bw *w, uint32_t v) {
  w16(w, (uint16_t)(w->be ? v >> 16 : v));
  w16(w, (uint16_t)(w->be ? v : v >> 16));
}

static void wbytes(bw *w, const void *p, size_t n) {
  assert_true(w->n + n <= sizeof w->b);
  memcpy(w->b + w->n, p, n);
  w->n += n;
}

static size_t blk_begin(bw *w, uint32_t type) {
  size_t start = w->n;
  w32(w, type);
  w32(w, 0); /* total length, set by blk_end */
  return start;
}

static void blk_end(bw *w, size_t start) {
  while (w->n % 4)
    w8(w, 0);
  uint32_t total = (uint32_t)(w->n - start + 4);
  w32(w, total);
  size_t save = w->n;
  w->n = start + 4;
  w32(w, total);
  w->n = save;
}

static void shb(bw *w, bool be) {
  w->be = be;
  size_t s = blk_begin(w, 0x0A0D0D0A);
  w32(w, 0x1A2B3C4D);
  w16(w, 1), w16(w, 0);
  w32(w, 0xFFFFFFFF), w32(w, 0xFFFFFFFF); /* section length unknown */
  blk_end(w, s);
}

/* IDB; tsresol < 0: none; tsoffset 0: none. */
static void idb(bw *w, uint16_t linktype, int tsresol, int64_t tsoffset) {
  size_t s = blk_begin(w, 1);
  w16(w, linktype), w16(w, 0);
  w32(w, 0);                                  /* snaplen 0: no limit */
  w16(w, 2), w16(w, 4), wbytes(w, "eth0", 4); /* if_name */
  if (tsresol >= 0) {
    w16(w, 9), w16(w, 1), w8(w, (uint8_t)tsresol), w8(w, 0), w16(w, 0);
  }
  if (tsoffset != 0) {
    w16(w, 14), w16(w, 8);
    uint64_t o = (uint64_t)tsoffset;
    w32(w, (uint32_t)(w->be ? o >> 32 : o));
    w32(w, (uint32_t)(w->be ? o : o >> 32));
  }
  w16(w, 0), w16(w, 0); /* opt_endofopt */
  blk_end(w, s);
}

static void epb(bw *w, uint32_t ifid, uint64_t ticks, const uint8_t *f,
                size_t n) {
  size_t s = blk_begin(w, 6);
  w32(w, ifid);
  w32(w, (uint32_t)(ticks >> 32)), w32(w, (uint32_t)ticks);
  w32(w, (uint32_t)n), w32(w, (uint32_t)n);
  wbytes(w, f, n);
  blk_end(w, s);
}

/* The obsolete Packet Block (type 2): a 16-bit interface id. */
static void pb(bw *w, uint16_t ifid, uint64_t ticks, const uint8_t *f,
               size_t n) {
  size_t s = blk_begin(w, 2);
  w16(w, ifid), w16(w, 0);
  w32(w, (uint32_t)(ticks >> 32)), w32(w, (uint32_t)ticks);
  w32(w, (uint32_t)n), w32(w, (uint32_t)n);
  wbytes(w, f, n);
  blk_end(w, s);
}

static void spb(bw *w, const uint8_t *f, size_t n) {
  size_t s = blk_begin(w, 3);
  w32(w, (uint32_t)n);
  wbytes(w, f, n);
  blk_end(w, s);
}

/* A block of some type with @p n bytes of body. */
static void other(bw *w, uint32_t type, size_t n) {
  size_t s = blk_begin(w, type);
  for (size_t i = 0; i < n; i++)
    w8(w, (uint8_t)(0xA5 ^ i));
  blk_end(w, s);
}

/* A frame of link type @p lt holding IPv4/UDP 10.0.0.2:(5000+n) ->
 * 203.0.113.1:3478 with a Binding request of ID byte n; SLL packet type
 * 4 (outgoing). @return its length. */
static size_t frame(uint8_t *f, uint32_t lt, unsigned n) {
  uint8_t stun[64];
  size_t sl = stun_req(stun, sizeof stun, n, 0), o = 0;
  if (lt == NAT_LINK_ETHERNET) {
    memcpy(f, "\x02\x00\x00\x00\x00\x01\x02\x00\x00\x00\x00\x02\x08\x00", 14);
    o = 14;
  } else if (lt == NAT_LINK_LINUX_SLL) {
    memcpy(f,
           "\x00\x04\x00\x01\x00\x06\x02\x00\x00\x00\x00\x02\x00\x00"
           "\x08\x00",
           16);
    o = 16;
  }
  uint8_t *ip = f + o;
  memset(ip, 0, 28);
  ip[0] = 0x45;
  ip[2] = 0, ip[3] = (uint8_t)(28 + sl);
  ip[8] = 64, ip[9] = 17;
  memcpy(ip + 12, "\x0a\x00\x00\x02\xcb\x00\x71\x01", 8);
  ip[20] = (uint8_t)((5000 + n) >> 8), ip[21] = (uint8_t)(5000 + n);
  ip[22] = 0x0d, ip[23] = 0x96;
  ip[24] = 0, ip[25] = (uint8_t)(8 + sl);
  memcpy(ip + 28, stun, sl);
  return o + 28 + sl;
}

static void write_bw(const bw *w) {
  write_bytes(w->b, w->n);
}

static nat_capture_reader *open_ok(void) {
  nat_capture_reader *r = NULL;
  char err[NAT_CAPTURE_ERRLEN] = "";
  int rv = nat_capture_reader_open(&r, tmp_path, err, sizeof err);
  if (rv != 0)
    print_message("open: %s\n", err);
  assert_int_equal(rv, 0);
  return r;
}

/* The next STUN packet: its ID byte, interface and link type. */
static void want_pkt(nat_capture_reader *r, unsigned n, uint32_t ifindex,
                     uint32_t lt, nat_tstamp ts) {
  nat_capture_pkt p;
  int rv = nat_capture_reader_next(r, &p);
  if (rv != 1)
    print_message("next: %d %s\n", rv, nat_capture_reader_strerror(r));
  assert_int_equal(rv, 1);
  assert_int_equal(p.msg->tid[0], n);
  assert_int_equal(p.src.port, 5000 + n);
  assert_int_equal(p.dst.port, 3478);
  assert_int_equal(p.ifindex, ifindex);
  assert_int_equal(p.linktype, lt);
  assert_int_equal(p.ts, ts);
  assert_int_equal(p.ttl, 64);
  assert_int_equal(p.dir, lt == NAT_LINK_LINUX_SLL ? NAT_CAPDIR_OUTGOING
                                                   : NAT_CAPDIR_UNKNOWN);
}

#define T0 UINT64_C(1700000000)

/* Four interfaces in one section: Ethernet in microseconds (the default
 * resolution), Linux cooked v1 in nanoseconds, raw IP in 2^-20 s with
 * if_tsoffset +10 s, and USER0, which is not supported: its packets are
 * skipped and counted. NRB, ISB, DSB and an unknown block between them
 * are skipped. */
static void test_pcapng_interfaces(void **state) {
  bw w = {0};
  uint8_t f[256];
  nat_capture_stats st;
  (void)state;
  shb(&w, false);
  idb(&w, NAT_LINK_ETHERNET, -1, 0);
  other(&w, 4, 12); /* NRB */
  idb(&w, NAT_LINK_LINUX_SLL, 9, 0);
  idb(&w, NAT_LINK_RAW, 0x80 | 20, 10);
  idb(&w, 147, 6, 0);
  epb(&w, 0, T0 * 1000000 + 250000, f, frame(f, NAT_LINK_ETHERNET, 1));
  other(&w, 0x0BAD0001, 40); /* unknown */
  epb(&w, 1, T0 * 1000000000 + 123456789, f, frame(f, NAT_LINK_LINUX_SLL, 2));
  epb(&w, 3, T0, f, frame(f, NAT_LINK_RAW, 9)); /* USER0: skipped */
  other(&w, 5, 28);                             /* ISB */
  other(&w, 0x0000000A, 16);                    /* DSB */
  /* 2^-20 s ticks: T0 s + 0.5 s, then +10 s of if_tsoffset */
  epb(&w, 2, (T0 << 20) + (1u << 19), f, frame(f, NAT_LINK_RAW, 3));
  write_bw(&w);
  nat_capture_reader *r = open_ok();
  assert_int_equal(nat_capture_reader_linktype(r), NAT_LINK_ETHERNET);
  want_pkt(r, 1, 0, NAT_LINK_ETHERNET, T0 * NAT_SECONDS + 250000000);
  want_pkt(r, 2, 1, NAT_LINK_LINUX_SLL, T0 * NAT_SECONDS + 123456789);
  want_pkt(r, 3, 2, NAT_LINK_RAW, (T0 + 10) * NAT_SECONDS + 500000000);
  nat_capture_pkt p;
  assert_int_equal(nat_capture_reader_next(r, &p), 0);
  nat_capture_reader_stats(r, &st);
  assert_int_equal(st.records, 4);
  assert_int_equal(st.stun, 3);
  assert_int_equal(st.reason[NAT_CAPR_LINKTYPE], 1);
  nat_capture_reader_close(r);
}

/* A big-endian section then a little-endian one: each its own
 * interfaces (indexes start again at 0), the second with a Simple
 * Packet Block (no timestamp) and an obsolete Packet Block. */
static void test_pcapng_sections(void **state) {
  bw w = {0};
  uint8_t f[256];
  (void)state;
  shb(&w, true);
  idb(&w, NAT_LINK_RAW, 9, 0);
  epb(&w, 0, T0 * 1000000000 + 7, f, frame(f, NAT_LINK_RAW, 1));
  shb(&w, false);
  idb(&w, NAT_LINK_ETHERNET, 3, -5); /* milliseconds, 5 s earlier */
  spb(&w, f, frame(f, NAT_LINK_ETHERNET, 2));
  pb(&w, 0, T0 * 1000 + 42, f, frame(f, NAT_LINK_ETHERNET, 3));
  shb(&w, true);
  idb(&w, NAT_LINK_LINUX_SLL, -1, 0);
  epb(&w, 0, T0 * 1000000 + 1, f, frame(f, NAT_LINK_LINUX_SLL, 4));
  write_bw(&w);
  nat_capture_reader *r = open_ok();
  assert_int_equal(nat_capture_reader_linktype(r), NAT_LINK_RAW);
  want_pkt(r, 1, 0, NAT_LINK_RAW, T0 * NAT_SECONDS + 7);
  want_pkt(r, 2, 0, NAT_LINK_ETHERNET, 0);
  want_pkt(r, 3, 0, NAT_LINK_ETHERNET, (T0 - 5) * NAT_SECONDS + 42000000);
  want_pkt(r, 4, 0, NAT_LINK_LINUX_SLL, T0 * NAT_SECONDS + 1000);
  nat_capture_pkt p;
  assert_int_equal(nat_capture_reader_next(r, &p), 0);
  nat_capture_reader_close(r);
}

/* Only unsupported interfaces: the open fails as for a classic file. */
static void test_pcapng_unsupported(void **state) {
  bw w = {0};
  uint8_t f[256];
  nat_capture_reader *r = NULL;
  char err[NAT_CAPTURE_ERRLEN];
  (void)state;
  shb(&w, false);
  idb(&w, 147, -1, 0);
  idb(&w, 105, -1, 0);
  epb(&w, 0, 0, f, frame(f, NAT_LINK_RAW, 1));
  write_bw(&w);
  assert_int_equal(nat_capture_reader_open(&r, tmp_path, err, sizeof err),
                   NAT_EUNSUPPORTED);
  assert_null(r);
  print_message("pcapng link type: %s\n", err);
  assert_non_null(strstr(err, tmp_path));
  assert_non_null(strstr(err, "link type USER0 (147) is not supported"));
  /* no interface at all before the first packet */
  w.n = 0;
  shb(&w, false);
  epb(&w, 0, 0, f, frame(f, NAT_LINK_RAW, 1));
  write_bw(&w);
  assert_int_equal(nat_capture_reader_open(&r, tmp_path, err, sizeof err),
                   NAT_ECAPTURE);
  print_message("no IDB: %s\n", err);
  assert_non_null(strstr(err, "not a readable pcap or pcapng capture"));
  assert_non_null(strstr(err, "no interface description block"));
}

/* A good pcapng file: SHB (28 bytes), IDB (raw, ns), then two EPBs. */
static void good_ng(bw *w, size_t *epb2) {
  uint8_t f[256];
  w->n = 0;
  shb(w, false);
  idb(w, NAT_LINK_RAW, 9, 0);
  epb(w, 0, T0 * NAT_SECONDS, f, frame(f, NAT_LINK_RAW, 1));
  *epb2 = w->n;
  epb(w, 0, T0 * NAT_SECONDS, f, frame(f, NAT_LINK_RAW, 2));
}

static void put32le(uint8_t *p, uint32_t v) {
  put_le32(p, v);
}

/* The second EPB damaged in one way: the first packet comes, then the
 * damage is named with record 2 and the EPB's byte offset. */
static void damaged_second(void (*damage)(bw *, size_t), const char *word) {
  bw w;
  size_t at;
  char want[64];
  nat_capture_pkt p;
  good_ng(&w, &at);
  damage(&w, at);
  write_bw(&w);
  nat_capture_reader *r = open_ok();
  assert_int_equal(nat_capture_reader_next(r, &p), 1);
  assert_int_equal(nat_capture_reader_next(r, &p), NAT_ECAPTURE);
  const char *msg = nat_capture_reader_strerror(r);
  print_message("%s: %s\n", word, msg);
  snprintf(want, sizeof want, "record 2 (byte offset %zu)", at);
  assert_non_null(strstr(msg, tmp_path));
  assert_non_null(strstr(msg, want));
  assert_non_null(strstr(msg, word));
  assert_null(strchr(msg, '\n'));
  assert_int_equal(nat_capture_reader_next(r, &p), NAT_ECAPTURE);
  nat_capture_reader_close(r);
}

static void d_not4(bw *w, size_t at) {
  put32le(w->b + at + 4, 61);
}
static void d_short(bw *w, size_t at) {
  put32le(w->b + at + 4, 8);
}
static void d_huge(bw *w, size_t at) {
  put32le(w->b + at + 4, 0x7FFFFFF0);
}
static void d_trail(bw *w, size_t at) {
  (void)at;
  put32le(w->b + w->n - 4, 1234);
}
static void d_caplen(bw *w, size_t at) {
  put32le(w->b + at + 20, 4000);
}
static void d_ifid(bw *w, size_t at) {
  put32le(w->b + at + 8, 1);
}
static void d_cut(bw *w, size_t at) {
  w->n = at + 30;
}
static void d_cut_hdr(bw *w, size_t at) {
  w->n = at + 6;
}

static void test_pcapng_damaged(void **state) {
  (void)state;
  damaged_second(d_not4, "not a multiple of 4");
  damaged_second(d_short, "not a multiple of 4 of at least 12");
  damaged_second(d_huge, "over the 327680-byte limit");
  damaged_second(d_trail, "trailing length 1234 differs");
  damaged_second(d_caplen, "captured length 4000 overruns");
  damaged_second(d_ifid, "packet of interface 1, but the section describes 1");
  damaged_second(d_cut, "truncated block");
  damaged_second(d_cut_hdr, "truncated block header");
}

/* Damage before the first interface: the open fails with the reason. */
static void test_pcapng_damaged_header(void **state) {
  bw w;
  size_t at;
  nat_capture_reader *r = NULL;
  char err[NAT_CAPTURE_ERRLEN];
  (void)state;
  good_ng(&w, &at);
  put32le(w.b + 8, 0x11223344); /* byte-order magic */
  write_bw(&w);
  assert_int_equal(nat_capture_reader_open(&r, tmp_path, err, sizeof err),
                   NAT_ECAPTURE);
  print_message("bad BOM: %s\n", err);
  assert_non_null(strstr(err, "not a readable pcap or pcapng capture"));
  assert_non_null(strstr(err, "byte-order magic"));
  good_ng(&w, &at);
  put32le(w.b + 28 + 4, 0xFFFF); /* the IDB's total length */
  write_bw(&w);
  assert_int_equal(nat_capture_reader_open(&r, tmp_path, err, sizeof err),
                   NAT_ECAPTURE);
  print_message("bad IDB: %s\n", err);
  assert_non_null(strstr(err, "not a multiple of 4"));
  good_ng(&w, &at);
  w.b[12] = 2; /* version 2.0 */
  write_bw(&w);
  assert_int_equal(nat_capture_reader_open(&r, tmp_path, err, sizeof err),
                   NAT_ECAPTURE);
  assert_non_null(strstr(err, "pcapng version 2.0"));
  good_ng(&w, &at);
  w.n = 20; /* inside the SHB */
  write_bw(&w);
  assert_int_equal(nat_capture_reader_open(&r, tmp_path, err, sizeof err),
                   NAT_ECAPTURE);
  assert_non_null(strstr(err, "truncated"));
  /* an IDB option that overruns its block */
  w.n = 0;
  shb(&w, false);
  size_t s = blk_begin(&w, 1);
  w32(&w, 1), w32(&w, 0);
  w16(&w, 9), w16(&w, 200), w32(&w, 0);
  blk_end(&w, s);
  write_bw(&w);
  assert_int_equal(nat_capture_reader_open(&r, tmp_path, err, sizeof err),
                   NAT_ECAPTURE);
  print_message("bad option: %s\n", err);
  assert_non_null(strstr(err, "option 9 of 200 bytes overruns"));
}

/* Classic pcap written by hand: big-endian with microseconds, then
 * little-endian with nanoseconds (Ethernet). */
static void classic(bw *w, bool be, bool nano, uint32_t lt) {
  w->n = 0;
  w->be = be;
  w32(w, nano ? 0xA1B23C4D : 0xA1B2C3D4);
  w16(w, 2), w16(w, 4);
  w32(w, 0), w32(w, 0), w32(w, 65535), w32(w, lt);
}

static void rec(bw *w, uint32_t sec, uint32_t frac, const uint8_t *f,
                size_t n) {
  w32(w, sec), w32(w, frac), w32(w, (uint32_t)n), w32(w, (uint32_t)n);
  wbytes(w, f, n);
}

static void test_classic_byte_orders(void **state) {
  bw w;
  uint8_t f[256];
  (void)state;
  classic(&w, true, false, NAT_LINK_LINUX_SLL);
  rec(&w, (uint32_t)T0, 999999, f, frame(f, NAT_LINK_LINUX_SLL, 1));
  rec(&w, (uint32_t)T0 + 1, 5, f, frame(f, NAT_LINK_LINUX_SLL, 2));
  write_bw(&w);
  nat_capture_reader *r = open_ok();
  assert_int_equal(nat_capture_reader_linktype(r), NAT_LINK_LINUX_SLL);
  want_pkt(r, 1, 0, NAT_LINK_LINUX_SLL, T0 * NAT_SECONDS + 999999000);
  want_pkt(r, 2, 0, NAT_LINK_LINUX_SLL, (T0 + 1) * NAT_SECONDS + 5000);
  nat_capture_reader_close(r);
  classic(&w, false, true, NAT_LINK_ETHERNET);
  rec(&w, (uint32_t)T0, 999999999, f, frame(f, NAT_LINK_ETHERNET, 3));
  write_bw(&w);
  r = open_ok();
  want_pkt(r, 3, 0, NAT_LINK_ETHERNET, T0 * NAT_SECONDS + 999999999);
  nat_capture_reader_close(r);
  /* Kuznetzov's patched format: 24-byte record headers, microseconds */
  classic(&w, false, false, NAT_LINK_RAW);
  w.n = 0;
  w32(&w, 0xA1B2CD34);
  w16(&w, 2), w16(&w, 4);
  w32(&w, 0), w32(&w, 0), w32(&w, 65535), w32(&w, NAT_LINK_RAW);
  for (unsigned i = 4; i <= 5; i++) {
    size_t n = frame(f, NAT_LINK_RAW, i);
    w32(&w, (uint32_t)T0), w32(&w, i), w32(&w, (uint32_t)n);
    w32(&w, (uint32_t)n);
    w32(&w, 2), w16(&w, 0x0800), w8(&w, 4), w8(&w, 0);
    wbytes(&w, f, n);
  }
  write_bw(&w);
  r = open_ok();
  want_pkt(r, 4, 0, NAT_LINK_RAW, T0 * NAT_SECONDS + 4000);
  want_pkt(r, 5, 0, NAT_LINK_RAW, T0 * NAT_SECONDS + 5000);
  nat_capture_pkt p;
  assert_int_equal(nat_capture_reader_next(r, &p), 0);
  nat_capture_reader_close(r);
  /* a version libpcap does not read either */
  classic(&w, false, true, NAT_LINK_ETHERNET);
  w.b[4] = 1;
  write_bw(&w);
  char err[NAT_CAPTURE_ERRLEN];
  assert_int_equal(nat_capture_reader_open(&r, tmp_path, err, sizeof err),
                   NAT_ECAPTURE);
  assert_non_null(strstr(err, "pcap version 1.4"));
}

/* A pipe, written a few bytes at a time by a child: pcapng with two
 * interfaces (one look at the magic, no seeking), then a classic file
 * from an fmemopen stream. */
static void test_streams(void **state) {
  bw w = {0};
  uint8_t f[256];
  int fds[2];
  nat_capture_reader *r = NULL;
  char err[NAT_CAPTURE_ERRLEN];
  nat_capture_pkt p;
  (void)state;
  shb(&w, false);
  idb(&w, NAT_LINK_LINUX_SLL, 9, 0);
  idb(&w, NAT_LINK_ETHERNET, 6, 0);
  for (unsigned i = 1; i <= 40; i++)
    epb(&w, i % 2, i % 2 ? T0 * 1000000 + i : T0 * NAT_SECONDS + i, f,
        frame(f, i % 2 ? NAT_LINK_ETHERNET : NAT_LINK_LINUX_SLL, i));
  assert_int_equal(pipe(fds), 0);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    close(fds[0]);
    for (size_t o = 0; o < w.n; o += 7) {
      size_t n = w.n - o < 7 ? w.n - o : 7;
      if (write(fds[1], w.b + o, n) != (ssize_t)n)
        _exit(1);
    }
    _exit(0);
  }
  close(fds[1]);
  FILE *fp = fdopen(fds[0], "rb");
  assert_non_null(fp);
  assert_int_equal(nat_capture_reader_open_fp(&r, fp, "-", err, sizeof err), 0);
  assert_int_equal(nat_capture_reader_linktype(r), NAT_LINK_LINUX_SLL);
  for (unsigned i = 1; i <= 40; i++)
    want_pkt(r, i, i % 2, i % 2 ? NAT_LINK_ETHERNET : NAT_LINK_LINUX_SLL,
             T0 * NAT_SECONDS + (i % 2 ? 1000u * i : i));
  assert_int_equal(nat_capture_reader_next(r, &p), 0);
  nat_capture_reader_close(r);
  int status;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  /* fmemopen, classic big-endian, cut inside the second record */
  classic(&w, true, true, NAT_LINK_RAW);
  rec(&w, (uint32_t)T0, 1, f, frame(f, NAT_LINK_RAW, 1));
  size_t at = w.n;
  rec(&w, (uint32_t)T0, 2, f, frame(f, NAT_LINK_RAW, 2));
  fp = fmemopen(w.b, w.n - 3, "rb");
  assert_non_null(fp);
  assert_int_equal(nat_capture_reader_open_fp(&r, fp, "mem", err, sizeof err),
                   0);
  want_pkt(r, 1, 0, NAT_LINK_RAW, T0 * NAT_SECONDS + 1);
  assert_int_equal(nat_capture_reader_next(r, &p), NAT_ECAPTURE);
  char want[80];
  snprintf(want, sizeof want,
           "mem: damaged capture at record 2 (byte offset %zu)", at);
  print_message("fmemopen: %s\n", nat_capture_reader_strerror(r));
  assert_non_null(strstr(nat_capture_reader_strerror(r), want));
  nat_capture_reader_close(r);
}

static void test_open_errors(void **state) {
  nat_capture_reader *r = NULL;
  nat_capture_writer *w = NULL;
  char err[NAT_CAPTURE_ERRLEN];
  nat_addr a = A("10.0.0.1:1"), b6 = A("[::1]:1");
  uint8_t x[4] = {0};
  (void)state;
  assert_int_equal(
      nat_capture_reader_open(&r, "/nonexistent/x.pcap", err, sizeof err),
      -ENOENT);
  assert_non_null(strstr(err, "/nonexistent/x.pcap: cannot open"));
  assert_int_equal(nat_capture_reader_open(NULL, tmp_path, err, sizeof err),
                   NAT_EINVAL);
  assert_int_equal(
      nat_capture_writer_open(&w, "/nonexistent/x.pcap", NAT_LINK_RAW),
      -ENOENT);
  assert_int_equal(nat_capture_writer_open(&w, tmp_path, NAT_LINK_NULL),
                   NAT_EINVAL);
  assert_int_equal(nat_capture_writer_open(&w, tmp_path, NAT_LINK_RAW), 0);
  assert_int_equal(nat_capture_writer_write(w, 0, &a, &b6, x, 4), NAT_EINVAL);
  assert_int_equal(nat_capture_writer_write(w, 0, &a, &a, x, 65508),
                   NAT_EINVAL);
  assert_int_equal(nat_capture_writer_close(w), 0);
  assert_int_equal(nat_capture_writer_close(NULL), 0);
  nat_capture_reader_close(NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_write_read_raw, setup, teardown),
      cmocka_unit_test_setup_teardown(test_write_read_ethernet, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_tshark_dissects, setup, teardown),
      cmocka_unit_test_setup_teardown(test_pcapng_by_hand, setup, teardown),
      cmocka_unit_test_setup_teardown(test_truncated_last_record, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_wrong_magic_and_garbage, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_pcapng_interfaces, setup, teardown),
      cmocka_unit_test_setup_teardown(test_pcapng_sections, setup, teardown),
      cmocka_unit_test_setup_teardown(test_pcapng_unsupported, setup, teardown),
      cmocka_unit_test_setup_teardown(test_pcapng_damaged, setup, teardown),
      cmocka_unit_test_setup_teardown(test_pcapng_damaged_header, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_classic_byte_orders, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_streams, setup, teardown),
      cmocka_unit_test_setup_teardown(test_open_errors, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
