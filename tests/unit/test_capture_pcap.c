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
      cmocka_unit_test_setup_teardown(test_open_errors, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
