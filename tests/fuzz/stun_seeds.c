/* Writes the seed corpora of fuzz_stunsrv, fuzz_check and fuzz_txn_probe
 * (tests/fuzz/corpus/stunsrv/, check/, txn_probe/): requests and
 * responses made by the project's own encoders (nat/stun.h's builder, the
 * checks' nat__check_msg_request/response), framed as each target reads
 * its input, plus inputs for the targets' structured modes (the harness
 * builds the messages). Deterministic: the same files every run.
 *
 *   stun_seeds CORPUS_DIR        (writes CORPUS_DIR/stunsrv, check, ...)
 *
 * Built with the fuzz targets (target fuzz_stun_seeds); not a test. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "nat/stun.h"
#include "punch/check_msg.h"

static const char *root;

static void put(const char *dir, const char *name, const uint8_t *d, size_t n) {
  char path[4096];
  FILE *f;
  snprintf(path, sizeof path, "%s/%s", root, dir);
  if (mkdir(path, 0755) != 0 && errno != EEXIST) {
    perror(path);
    exit(1);
  }
  snprintf(path, sizeof path, "%s/%s/%s", root, dir, name);
  f = fopen(path, "wb");
  if (f == NULL || fwrite(d, 1, n, f) != n || fclose(f) != 0) {
    perror(path);
    exit(1);
  }
}

/* A growing input. */
typedef struct buf {
  uint8_t d[4096];
  size_t n;
} buf;

static void b_put(buf *b, const void *p, size_t n) {
  if (b->n + n > sizeof b->d)
    abort();
  memcpy(b->d + b->n, p, n);
  b->n += n;
}

static void b_u8(buf *b, uint8_t v) {
  b_put(b, &v, 1);
}

static void b_u16(buf *b, uint16_t v) {
  uint8_t x[2] = {(uint8_t)(v >> 8), (uint8_t)v};
  b_put(b, x, 2);
}

static void b_u64(buf *b, uint64_t v) {
  int i;
  for (i = 7; i >= 0; i--)
    b_u8(b, (uint8_t)(v >> (8 * i)));
}

static const uint8_t tid_a[16] = {0x21, 0x12, 0xA4, 0x42, 1, 2,  3,  4,
                                  5,    6,    7,    8,    9, 10, 11, 12};
/* a classic 128-bit ID: no magic cookie in its first 4 bytes */
static const uint8_t tid_c[16] = {0xC1, 0xA5, 0x51, 0xC0, 1, 2,  3,  4,
                                  5,    6,    7,    8,    9, 10, 11, 12};

/* ------------------------------------------------------------ stunsrv */

static size_t req_plain(uint8_t *out, bool classic, bool fp, uint32_t change,
                        uint16_t rport, const char *key, bool unknown) {
  nat_stun_builder b;
  ssize_t n;
  if (classic)
    nat_stun_builder_init_classic(&b, out, 512, NAT_STUN_BINDING,
                                  NAT_STUN_REQUEST, tid_c);
  else
    nat_stun_builder_init(&b, out, 512, NAT_STUN_BINDING, NAT_STUN_REQUEST,
                          tid_a + 4);
  nat_stun_add_string(&b, NAT_ATTR_SOFTWARE, "seed");
  if (change != UINT32_MAX)
    nat_stun_add_change_request(&b, change);
  if (rport != 0)
    nat_stun_add_attr(
        &b, NAT_ATTR_RESPONSE_PORT,
        (const uint8_t[4]){(uint8_t)(rport >> 8), (uint8_t)rport, 0, 0}, 4);
  if (unknown)
    nat_stun_add_attr(&b, 0x7F01, "xyzw", 4);
  if (key != NULL)
    nat_stun_add_integrity(&b, (const uint8_t *)key, strlen(key));
  n = nat_stun_builder_finish(&b, fp && !classic);
  if (n < 0)
    abort();
  return (size_t)n;
}

static void stunsrv_seed(const char *name, uint8_t cfg, bool v6,
                         const uint8_t *msg, size_t n) {
  buf b = {.n = 0};
  uint8_t ip[16] = {198, 51, 100, 7};
  if (v6) {
    static const uint8_t ip6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0,
                                    0,    0,    0,    0,    0, 0, 0, 9};
    memcpy(ip, ip6, 16);
    cfg |= 0x10;
  }
  b_u8(&b, cfg);
  b_u16(&b, 40000);
  b_put(&b, ip, 16);
  b_put(&b, msg, n);
  put("stunsrv", name, b.d, b.n);
}

static void stunsrv_seeds(void) {
  uint8_t m[512], s[64];
  size_t n;
  /* cfg: 0x01 other, 0x02 local, 0x04 key, 0x08 software */
  n = req_plain(m, false, false, UINT32_MAX, 0, NULL, false);
  stunsrv_seed("plain", 0x02, false, m, n);
  stunsrv_seed("plain-v6", 0x0A, true, m, n);
  stunsrv_seed("plain-none", 0x00, false, m, n);
  n = req_plain(m, false, true, UINT32_MAX, 0, NULL, false);
  stunsrv_seed("fingerprint", 0x0B, false, m, n);
  n = req_plain(m, true, false, UINT32_MAX, 0, NULL, false);
  stunsrv_seed("classic", 0x03, false, m, n);
  n = req_plain(m, true, false, 0x06, 0, NULL, false);
  stunsrv_seed("classic-change", 0x03, false, m, n);
  n = req_plain(m, false, true, 0x06, 0, NULL, false);
  stunsrv_seed("change-ip-port", 0x03, false, m, n);
  stunsrv_seed("change-v6", 0x03, true, m, n);
  stunsrv_seed("change-no5780", 0x02, false, m, n);
  stunsrv_seed("change-nolocal", 0x01, false, m, n);
  n = req_plain(m, false, true, 0x02, 0, NULL, false);
  stunsrv_seed("change-port", 0x23, false, m, n);
  n = req_plain(m, false, true, UINT32_MAX, 50000, NULL, false);
  stunsrv_seed("response-port", 0x03, false, m, n);
  stunsrv_seed("response-port-no5780", 0x02, false, m, n);
  n = req_plain(m, false, true, UINT32_MAX, 0, NULL, true);
  stunsrv_seed("unknown-attr", 0x0B, false, m, n);
  n = req_plain(m, false, true, UINT32_MAX, 0, "stunsrv-fuzz-pwd", false);
  stunsrv_seed("keyed", 0x0F, false, m, n);
  stunsrv_seed("keyed-v6", 0x0F, true, m, n);
  n = req_plain(m, false, true, UINT32_MAX, 0, "not-the-key", false);
  stunsrv_seed("keyed-wrong", 0x06, false, m, n);
  /* an ICE check as the agents send it (USERNAME, PRIORITY, ...) */
  n = (size_t)nat__check_msg_request(m, sizeof m, tid_a + 4, "rfrag", "lfrag",
                                     "stunsrv-fuzz-pwd", 0x6E0001FF, true,
                                     0x0102030405060708ull, true);
  stunsrv_seed("ice-check", 0x06, false, m, n);
  /* never answered: a response, an indication */
  n = (size_t)nat__check_msg_response(m, sizeof m, tid_a + 4,
                                      &(nat_addr){.family = NAT_AF_INET}, 0,
                                      NULL, NULL);
  stunsrv_seed("response", 0x03, false, m, n);
  {
    nat_stun_builder b;
    nat_stun_builder_init(&b, m, sizeof m, NAT_STUN_BINDING,
                          NAT_STUN_INDICATION, tid_a + 4);
    n = (size_t)nat_stun_builder_finish(&b, true);
    stunsrv_seed("indication", 0x03, false, m, n);
  }
  /* structured mode (cfg bit 7): flags, change, rport, 16-byte ID, an
   * unknown type, USERNAME bytes */
  memset(s, 0, sizeof s);
  s[4] = 0x06;
  s[5] = 0xC3, s[6] = 0x50;
  memcpy(s + 7, tid_c, 16);
  s[23] = 0x7F, s[24] = 0x02;
  memcpy(s + 25, "user", 4);
  s[0] = 0x02 | 0x04 | 0x10 | 0x40; /* change, rport, right MI, FP */
  stunsrv_seed("s-change-rport-mi", 0x87, false, s, 29);
  s[0] = 0x01 | 0x02 | 0x10; /* classic, change, MI */
  stunsrv_seed("s-classic-mi", 0x87, false, s, 29);
  s[0] = 0x10 | 0x20 | 0x40; /* wrong key */
  stunsrv_seed("s-wrong-key", 0x8F, true, s, 29);
  s[0] = 0x80 | 0x40 | 0x08; /* MI-SHA256, FP, unknown */
  stunsrv_seed("s-sha256-unknown", 0xCF, false, s, 29);
  s[0] = 0x04 | 0x40;
  stunsrv_seed("s-rport-sameip", 0xA3, true, s, 25);
}

/* -------------------------------------------------------------- check */

/* fuzz_check input: header (flags, 8-byte tie-breaker), then records
 * (see fuzz_check.c). */
static void check_seeds(void) {
  buf b;
  uint8_t m[512];
  ssize_t n;
  /* 1. the peer's keyed check, controlled side, USE-CANDIDATE; then
   *    time passes (our triggered check goes out), then a keyed success
   *    answer to it: the pair is selected */
  b.n = 0;
  b_u8(&b, 0x04); /* controlled, started */
  b_u64(&b, 100);
  b_u8(&b, 1);    /* keyed request */
  b_u8(&b, 0);    /* from remote 0 */
  b_u8(&b, 0x0B); /* right key+user, CONTROLLING, USE-CANDIDATE */
  b_u64(&b, 200);
  b_u8(&b, 3); /* time */
  b_u16(&b, 20);
  b_u8(&b, 2); /* response to sent check 0 */
  b_u8(&b, 0);
  b_u8(&b, 0x01); /* success, right key, from its destination */
  b_u8(&b, 0);
  put("check", "controlled-select", b.d, b.n);

  /* 2. controlling, aggressive: time, answer our checks */
  b.n = 0;
  b_u8(&b, 0x07);
  b_u64(&b, 300);
  b_u8(&b, 3);
  b_u16(&b, 15);
  b_u8(&b, 2);
  b_u8(&b, 0);
  b_u8(&b, 0x01);
  b_u8(&b, 1);
  b_u8(&b, 3);
  b_u16(&b, 200);
  b_u8(&b, 2);
  b_u8(&b, 1);
  b_u8(&b, 0x01);
  b_u8(&b, 0);
  put("check", "controlling-aggressive", b.d, b.n);

  /* 3. role conflicts: controlling, the peer claims controlling with a
   *    larger then a smaller tie-breaker; 487 answers to our checks */
  b.n = 0;
  b_u8(&b, 0x05);
  b_u64(&b, 1000);
  b_u8(&b, 1);
  b_u8(&b, 1);
  b_u8(&b, 0x03); /* right key, CONTROLLING */
  b_u64(&b, 999);
  b_u8(&b, 1);
  b_u8(&b, 1);
  b_u8(&b, 0x03);
  b_u64(&b, 5000);
  b_u8(&b, 3);
  b_u16(&b, 30);
  b_u8(&b, 2);
  b_u8(&b, 0);
  b_u8(&b, 0x21); /* error 487, right key */
  b_u8(&b, 0);
  put("check", "role-conflict", b.d, b.n);

  /* 4. wrong keys both ways: a check with a wrong password, a wrong
   *    username, a success answer with a wrong key, a 401 */
  b.n = 0;
  b_u8(&b, 0x05);
  b_u64(&b, 7);
  b_u8(&b, 1);
  b_u8(&b, 0);
  b_u8(&b, 0x11); /* wrong key */
  b_u64(&b, 8);
  b_u8(&b, 1);
  b_u8(&b, 2);
  b_u8(&b, 0x21); /* wrong username */
  b_u64(&b, 8);
  b_u8(&b, 3);
  b_u16(&b, 30);
  b_u8(&b, 2);
  b_u8(&b, 0);
  b_u8(&b, 0x03); /* success, wrong key */
  b_u8(&b, 0);
  b_u8(&b, 2);
  b_u8(&b, 1);
  b_u8(&b, 0x10); /* 401 unauthenticated */
  b_u8(&b, 0);
  b_u8(&b, 3);
  b_u16(&b, 60000);
  put("check", "wrong-keys", b.d, b.n);

  /* 5. raw datagrams made by the checks' encoder: a request keyed for
   *    us (ufrag "L", password "lpwd-fuzz" in the harness), from a new
   *    (peer-reflexive) address, and a success answer */
  b.n = 0;
  b_u8(&b, 0x04);
  b_u64(&b, 42);
  n = nat__check_msg_request(m, sizeof m, tid_a + 4, "L", "R", "lpwd-fuzz",
                             0x6E0001FF, true, 43, false);
  b_u8(&b, 0); /* raw */
  b_u8(&b, 3); /* from address 3 (not a candidate) */
  b_u16(&b, (uint16_t)n);
  b_put(&b, m, (size_t)n);
  n = nat__check_msg_response(m, sizeof m, tid_a + 4,
                              &(nat_addr){.family = NAT_AF_INET, .port = 1}, 0,
                              NULL, "rpwd-fuzz");
  b_u8(&b, 0);
  b_u8(&b, 0);
  b_u16(&b, (uint16_t)n);
  b_put(&b, m, (size_t)n);
  b_u8(&b, 3);
  b_u16(&b, 100);
  put("check", "raw-prflx", b.d, b.n);

  /* 6. a remote candidate trickled, an IPv6 base, long run to the end */
  b.n = 0;
  b_u8(&b, 0x0D);
  b_u64(&b, 9);
  b_u8(&b, 4);
  b_u8(&b, 5);
  b_u8(&b, 3);
  b_u16(&b, 10);
  b_u8(&b, 2);
  b_u8(&b, 2);
  b_u8(&b, 0x01);
  b_u8(&b, 2);
  b_u8(&b, 3);
  b_u16(&b, 65535);
  b_u8(&b, 3);
  b_u16(&b, 65535);
  put("check", "trickle-v6-timeout", b.d, b.n);
}

/* ---------------------------------------------------------- txn_probe */

static void txn_probe_seeds(void) {
  buf b;
  uint8_t m[512];
  nat_stun_builder sb;
  ssize_t n;
  /* txn mode (byte 0 even): config, transactions, then records */
  b.n = 0;
  b_u8(&b, 0x00);
  b_u8(&b, 0x13); /* Rc 2, 4 transactions */
  b_u8(&b, 0x05); /* any source for the first two */
  b_u8(&b, 1);    /* time */
  b_u16(&b, 0);
  b_u8(&b, 2); /* answer txn 0, success, from its destination */
  b_u8(&b, 0);
  b_u8(&b, 0x00);
  b_u8(&b, 2); /* answer txn 0 again: a duplicate */
  b_u8(&b, 0);
  b_u8(&b, 0x00);
  b_u8(&b, 2); /* answer txn 1 from the wrong source */
  b_u8(&b, 1);
  b_u8(&b, 0x02);
  b_u8(&b, 1);
  b_u16(&b, 3000);
  b_u8(&b, 3); /* cancel txn 2 */
  b_u8(&b, 2);
  b_u8(&b, 1);
  b_u16(&b, 65535);
  put("txn_probe", "txn-answer-dup-spoof", b.d, b.n);

  b.n = 0;
  b_u8(&b, 0x02);
  b_u8(&b, 0x25); /* Rc 3, 6 transactions */
  b_u8(&b, 0xFF); /* each with its own RTO and Rc */
  b_u8(&b, 4);    /* start one more */
  b_u8(&b, 1);
  b_u8(&b, 1);
  b_u16(&b, 0);
  b_u8(&b, 2);
  b_u8(&b, 3);
  b_u8(&b, 0x01); /* error response */
  b_u8(&b, 5);    /* cancel all */
  b_u8(&b, 1);
  b_u16(&b, 100);
  put("txn_probe", "txn-error-cancel", b.d, b.n);

  /* a raw response made by the builder, to an ID the harness uses */
  b.n = 0;
  b_u8(&b, 0x00);
  b_u8(&b, 0x11); /* Rc 2, 2 transactions */
  b_u8(&b, 0x00);
  b_u8(&b, 1);
  b_u16(&b, 0);
  nat_stun_builder_init(&sb, m, sizeof m, NAT_STUN_BINDING, NAT_STUN_SUCCESS,
                        tid_a + 4);
  nat_stun_add_addr(
      &sb, NAT_ATTR_XOR_MAPPED_ADDRESS,
      &(nat_addr){.family = NAT_AF_INET, .port = 5000, .ip = {203, 0, 113, 5}});
  n = nat_stun_builder_finish(&sb, true);
  b_u8(&b, 0); /* raw */
  b_u8(&b, 0);
  b_u16(&b, (uint16_t)n);
  b_put(&b, m, (size_t)n);
  put("txn_probe", "txn-raw", b.d, b.n);

  /* probe mode (byte 0 odd): tests, servers, then records */
  b.n = 0;
  b_u8(&b, 0x01);
  b_u8(&b, 0x3F); /* every test */
  b_u8(&b, 0x11); /* two IPv4 servers, the first named RFC 5780 */
  b_u8(&b, 0);    /* actions */
  for (int k = 0; k < 6; k++) {
    b_u8(&b, 2); /* answer sent request k: mapped, OTHER, ORIGIN */
    b_u8(&b, (uint8_t)k);
    b_u8(&b, 0x07);
    b_u8(&b, (uint8_t)k);
    b_u8(&b, 0);
  }
  b_u8(&b, 1); /* time */
  b_u16(&b, 30);
  for (int k = 6; k < 14; k++) {
    b_u8(&b, 2);
    b_u8(&b, (uint8_t)k);
    b_u8(&b, 0x03);
    b_u8(&b, 0);
    b_u8(&b, 0);
  }
  b_u8(&b, 1);
  b_u16(&b, 2500);
  b_u8(&b, 1);
  b_u16(&b, 65535);
  put("txn_probe", "probe-all", b.d, b.n);

  b.n = 0;
  b_u8(&b, 0x03);
  b_u8(&b, 0x24); /* basic + hairpin */
  b_u8(&b, 0x09); /* two servers, the second IPv6 */
  b_u8(&b, 0);
  b_u8(&b, 2);
  b_u8(&b, 0);
  b_u8(&b, 0x01);
  b_u8(&b, 0);
  b_u8(&b, 0);
  b_u8(&b, 2);
  b_u8(&b, 1);
  b_u8(&b, 0x19); /* MAPPED-ADDRESS, from another address */
  b_u8(&b, 1);
  b_u8(&b, 0);
  b_u8(&b, 4); /* a Binding request to a socket */
  b_u8(&b, 0);
  b_u8(&b, 5);
  b_u8(&b, 1);
  b_u16(&b, 500);
  b_u8(&b, 5); /* cancel */
  put("txn_probe", "probe-hairpin-v6", b.d, b.n);
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: stun_seeds CORPUS_DIR\n");
    return 2;
  }
  root = argv[1];
  stunsrv_seeds();
  check_seeds();
  txn_probe_seeds();
  return 0;
}
