/* STUN codec benchmark: ns per message for decode + validation (with
 * FINGERPRINT verification) and for encoding, over a realistic mix:
 *   - a binding request with FINGERPRINT,
 *   - a response with XOR-MAPPED-ADDRESS, RESPONSE-ORIGIN, OTHER-ADDRESS,
 *     SOFTWARE and FINGERPRINT,
 *   - an authenticated request with USERNAME, MESSAGE-INTEGRITY and
 *     FINGERPRINT.
 * References measured in the same run: memcpy of the same bytes and a
 * naive bitwise CRC-32 of them. Then the receive path of a response (the
 * UDP driver's demultiplexing plus the transaction layer, for a response
 * no live transaction matches) as udp.c runs it, one decode whose view the
 * transaction layer takes, against the path before that (the transaction
 * layer decoding the bytes again: twice for a classic response, which the
 * driver decodes to recognise).
 * Best of several rounds; prints figures only and never fails on time. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "nat/error.h"
#include "nat/stun.h"
#include "nat/txn.h"

#define ROUNDS 40
#define ITERS  30000

static volatile uint64_t sink;

static const uint8_t tid[12] = {0x10, 0x11, 0x12, 0x13, 0x14, 0x15,
                                0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b};
static const uint8_t key[] = "VOkJxbRl1RmTxUk/WvJxBt";

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static nat_addr addr4(uint8_t a, uint8_t b, uint8_t c, uint8_t d,
                      uint16_t port) {
  nat_addr x;
  memset(&x, 0, sizeof x);
  x.family = NAT_AF_INET;
  x.port = port;
  x.ip[0] = a;
  x.ip[1] = b;
  x.ip[2] = c;
  x.ip[3] = d;
  return x;
}

static ssize_t build_request(uint8_t *buf, size_t cap) {
  nat_stun_builder b;
  nat_stun_builder_init(&b, buf, cap, NAT_STUN_BINDING, NAT_STUN_REQUEST, tid);
  return nat_stun_builder_finish(&b, true);
}

static ssize_t build_response(uint8_t *buf, size_t cap) {
  nat_stun_builder b;
  nat_addr mapped = addr4(203, 0, 113, 77, 50123);
  nat_addr origin = addr4(192, 0, 2, 1, 3478);
  nat_addr other = addr4(192, 0, 2, 2, 3479);
  nat_stun_builder_init(&b, buf, cap, NAT_STUN_BINDING, NAT_STUN_SUCCESS, tid);
  nat_stun_add_addr(&b, NAT_ATTR_XOR_MAPPED_ADDRESS, &mapped);
  nat_stun_add_addr(&b, NAT_ATTR_RESPONSE_ORIGIN, &origin);
  nat_stun_add_addr(&b, NAT_ATTR_OTHER_ADDRESS, &other);
  nat_stun_add_string(&b, NAT_ATTR_SOFTWARE, "libnat 0.1.0");
  return nat_stun_builder_finish(&b, true);
}

static ssize_t build_auth(uint8_t *buf, size_t cap) {
  nat_stun_builder b;
  nat_stun_builder_init(&b, buf, cap, NAT_STUN_BINDING, NAT_STUN_REQUEST, tid);
  nat_stun_add_string(&b, NAT_ATTR_USERNAME, "evtj:h6vY");
  nat_stun_add_integrity(&b, key, sizeof key - 1);
  return nat_stun_builder_finish(&b, true);
}

static ssize_t build_classic_response(uint8_t *buf, size_t cap) {
  static const uint8_t tid16[16] = {0x5a, 1, 2,  3,  4,  5,  6,  7,
                                    8,    9, 10, 11, 12, 13, 14, 15};
  nat_stun_builder b;
  nat_addr mapped = addr4(203, 0, 113, 77, 50123);
  nat_addr source = addr4(192, 0, 2, 1, 3478);
  nat_addr changed = addr4(192, 0, 2, 2, 3479);
  nat_stun_builder_init_classic(&b, buf, cap, NAT_STUN_BINDING,
                                NAT_STUN_SUCCESS, tid16);
  nat_stun_add_addr(&b, NAT_ATTR_MAPPED_ADDRESS, &mapped);
  nat_stun_add_addr(&b, NAT_ATTR_SOURCE_ADDRESS, &source);
  nat_stun_add_addr(&b, NAT_ATTR_CHANGED_ADDRESS, &changed);
  return nat_stun_builder_finish(&b, false);
}

/* The receive path of one datagram, as udp.c's demultiplexer runs it:
 * STUN by the strict rule, or a classic response found by decoding; then
 * the transaction layer. @p once: decoded once, the transaction layer
 * takes the view (nat_txn_mgr_recv_msg); else the path before: only a
 * classic candidate is decoded by the driver, and the transaction layer
 * decodes the bytes (nat_txn_mgr_recv). */
static int recv_path(nat_txn_mgr *mgr, const nat_addr *from, const uint8_t *p,
                     size_t n, bool once) {
  nat_stun_msg m;
  ssize_t d = 0;
  bool stun = nat_stun_is_stun(p, n);
  if (!stun && (n < NAT_STUN_HEADER_LEN || (p[0] & 0xC0) != 0))
    return 1;
  if (once || !stun) {
    d = nat_stun_decode(&m, p, n);
    if (!stun && (d < 0 || !m.classic))
      return 1;
  }
  if (once)
    return nat_txn_mgr_recv_msg(mgr, 1, from, &m, d);
  return nat_txn_mgr_recv(mgr, 1, from, p, n);
}

static void on_txn(void *arg, const nat_txn_result *r) {
  (void)arg;
  (void)r;
}

static double best_recv(const uint8_t *p, size_t n, bool once) {
  nat_txn_mgr *mgr = NULL;
  nat_addr from = addr4(192, 0, 2, 1, 3478);
  double b = 1e30;
  if (nat_txn_mgr_new(&mgr, NULL, on_txn, NULL) < 0)
    return 0;
  for (int r = 0; r < ROUNDS; r++) {
    uint64_t acc = 0;
    double t0 = now_ns();
    for (int i = 0; i < ITERS; i++)
      acc += (uint64_t)recv_path(mgr, &from, p, n, once);
    double v = (now_ns() - t0) / ITERS;
    sink += acc;
    b = v < b ? v : b;
  }
  nat_txn_mgr_free(mgr);
  return b;
}

static uint32_t crc_bitwise(const uint8_t *p, size_t n) {
  uint32_t c = 0xFFFFFFFFu;
  for (size_t i = 0; i < n; i++) {
    c ^= p[i];
    for (int k = 0; k < 8; k++) {
      c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
    }
  }
  return ~c;
}

typedef struct msgset {
  uint8_t buf[3][256];
  size_t len[3];
} msgset;

enum { OP_DECODE, OP_DECODE_MAPPED, OP_MEMCPY, OP_CRC_SLICE, OP_CRC_NAIVE };

/* One pass of ITERS operations over messages [first, first+count). */
static double run(const msgset *ms, int op, int first, int count) {
  static uint8_t dst[256];
  nat_stun_msg m;
  nat_addr a;
  uint64_t acc = 0;
  double t0 = now_ns();
  for (int i = 0; i < ITERS; i++) {
    int k = first + i % count;
    const uint8_t *p = ms->buf[k];
    size_t n = ms->len[k];
    switch (op) {
    case OP_DECODE:
      acc += (uint64_t)nat_stun_decode(&m, p, n);
      break;
    case OP_DECODE_MAPPED:
      acc += (uint64_t)nat_stun_decode(&m, p, n);
      acc += (uint64_t)nat_stun_msg_get_mapped(&m, &a) + a.port;
      break;
    case OP_MEMCPY:
      memcpy(dst, p, n);
      acc += dst[n - 1];
      __asm__ volatile("" : : "r"(dst) : "memory");
      break;
    case OP_CRC_SLICE:
      acc += nat_crc32(0, p, n);
      break;
    default:
      acc += crc_bitwise(p, n);
      break;
    }
  }
  double dt = now_ns() - t0;
  sink += acc;
  return dt / ITERS;
}

static double best(const msgset *ms, int op, int first, int count) {
  double b = 1e30;
  for (int r = 0; r < ROUNDS; r++) {
    double v = run(ms, op, first, count);
    b = v < b ? v : b;
  }
  return b;
}

static double best_encode(ssize_t (*fn)(uint8_t *, size_t), int iters) {
  static uint8_t out[512];
  double b = 1e30;
  for (int r = 0; r < ROUNDS; r++) {
    uint64_t acc = 0;
    double t0 = now_ns();
    for (int i = 0; i < iters; i++) {
      acc += (uint64_t)fn(out, sizeof out);
      __asm__ volatile("" : : "r"(out) : "memory");
    }
    double v = (now_ns() - t0) / iters;
    sink += acc;
    b = v < b ? v : b;
  }
  return b;
}

int main(void) {
  static msgset ms;
  static const char *names[3] = {"binding request+FP", "response (5 attrs)+FP",
                                 "auth request (USERNAME,MI,FP)"};
  ssize_t (*builders[3])(uint8_t *, size_t) = {build_request, build_response,
                                               build_auth};
  for (int k = 0; k < 3; k++) {
    ssize_t n = builders[k](ms.buf[k], sizeof ms.buf[k]);
    nat_stun_msg m;
    if (n < 0 || nat_stun_decode(&m, ms.buf[k], (size_t)n) != n) {
      fprintf(stderr, "bench: cannot build message %d: %s\n", k,
              nat_strerror((int)n));
      return 3;
    }
    ms.len[k] = (size_t)n;
  }
  printf("STUN codec benchmark (best of %d x %d ops, CLOCK_MONOTONIC)\n",
         ROUNDS, ITERS);
  printf("%-32s %6s %10s %10s %10s %10s\n", "message", "bytes", "decode+FP",
         "memcpy", "crc32", "crc naive");
  for (int k = 0; k < 3; k++) {
    printf("%-32s %6zu %8.1fns %8.1fns %8.1fns %8.1fns\n", names[k], ms.len[k],
           best(&ms, OP_DECODE, k, 1), best(&ms, OP_MEMCPY, k, 1),
           best(&ms, OP_CRC_SLICE, k, 1), best(&ms, OP_CRC_NAIVE, k, 1));
  }
  double dec = best(&ms, OP_DECODE, 0, 3);
  double decm = best(&ms, OP_DECODE_MAPPED, 0, 3);
  double cpy = best(&ms, OP_MEMCPY, 0, 3);
  double slice = best(&ms, OP_CRC_SLICE, 0, 3);
  double naive = best(&ms, OP_CRC_NAIVE, 0, 3);
  printf("\nmix of the three:\n");
  printf("  decode+validate+FINGERPRINT  %7.1f ns/msg (goal < 50)  "
         "= %.1fx memcpy of the same bytes\n",
         dec, dec / cpy);
  printf("  ... + get_mapped()           %7.1f ns/msg\n", decm);
  printf("  CRC-32 slicing-by-16         %7.1f ns/msg  "
         "= %.1fx faster than bitwise CRC-32 (%.1f ns)\n",
         slice, naive / slice, naive);
  double e0 = best_encode(build_request, ITERS);
  double e1 = best_encode(build_response, ITERS);
  double e2 = best_encode(build_auth, ITERS / 10);
  printf("\nencode (builder + FINGERPRINT):\n");
  printf("  binding request              %7.1f ns/msg\n", e0);
  printf("  response (5 attrs)           %7.1f ns/msg\n", e1);
  printf("  auth request (HMAC-SHA1)     %7.1f ns/msg\n", e2);
  printf("  mix of the three             %7.1f ns/msg\n", (e0 + e1 + e2) / 3);

  static uint8_t classic[256];
  ssize_t cn = build_classic_response(classic, sizeof classic);
  if (cn < 0)
    return 3;
  double r8489[2], r3489[2];
  for (int once = 0; once < 2; once++) {
    r8489[once] = best_recv(ms.buf[1], ms.len[1], once);
    r3489[once] = best_recv(classic, (size_t)cn, once);
  }
  printf("\nreceive path, demultiplexer + transaction layer (unmatched "
         "response):\n");
  printf("%-30s %12s %12s\n", "", "decoded once", "before");
  printf("  RFC 8489 response (5 attrs) %10.1fns %10.1fns (1 decode both)\n",
         r8489[1], r8489[0]);
  printf("  RFC 3489 response (3 attrs) %10.1fns %10.1fns (1 decode vs 2)\n",
         r3489[1], r3489[0]);
  return 0;
}
