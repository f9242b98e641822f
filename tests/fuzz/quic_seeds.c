/* Writes the seed corpora of fuzz_quic_identity and fuzz_quic_demux:
 *   quic_seeds CORPUS_DIR     (tests/fuzz/corpus: writes quic_identity/
 *                              and quic_demux/ under it)
 * Identities are made by nat_quic_identity_new and written by
 * nat_quic_identity_save; the QUIC datagrams come from a real handshake
 * between a client and a server endpoint in this process, on the socket
 * without a socket of quic_fake_udp.h and a fake clock (no network).
 * Keys and CIDs are random: each run writes different bytes of the same
 * shapes. The file formats are described at the top of the two targets. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <uv.h>

#include "nat/error.h"
#include "nat/quic.h"
#include "nat/stun.h"
#include "nat/udp.h"
#include "quic_fake_udp.h"
#include "quic_initial.h"

#define DIE(...)                                                               \
  do {                                                                         \
    fprintf(stderr, "quic_seeds: " __VA_ARGS__);                               \
    fputc('\n', stderr);                                                       \
    exit(1);                                                                   \
  } while (0)

typedef struct buf {
  uint8_t *d;
  size_t len, cap;
} buf;

static void put(buf *b, const void *d, size_t n) {
  if (b->len + n > b->cap) {
    b->cap = (b->len + n) * 2 + 64;
    if (!(b->d = realloc(b->d, b->cap)))
      DIE("out of memory");
  }
  memcpy(b->d + b->len, d, n);
  b->len += n;
}

static void put1(buf *b, uint8_t v) {
  put(b, &v, 1);
}

static void write_seed(const char *dir, const char *name, const buf *b) {
  char path[4096];
  FILE *f;
  snprintf(path, sizeof path, "%s/%s", dir, name);
  if (!(f = fopen(path, "wb")) || fwrite(b->d, 1, b->len, f) != b->len ||
      fclose(f) != 0)
    DIE("cannot write %s", path);
}

static buf slurp(const char *path) {
  buf b = {0};
  uint8_t tmp[4096];
  size_t n;
  FILE *f = fopen(path, "rb");
  if (!f)
    DIE("cannot read %s", path);
  while ((n = fread(tmp, 1, sizeof tmp, f)) > 0)
    put(&b, tmp, n);
  fclose(f);
  return b;
}

/* ----------------------------------------------------------- identity */

typedef struct pem {
  buf cert, key;
} pem;

static pem make_identity(const char *cn, uint8_t pin[NAT_QUIC_PIN_LEN]) {
  char cp[] = "/tmp/quic_seeds_certXXXXXX", kp[] = "/tmp/quic_seeds_keyXXXXXX";
  nat_quic_identity *id;
  int fc = mkstemp(cp), fk = mkstemp(kp);
  pem p;
  if (fc < 0 || fk < 0)
    DIE("mkstemp failed");
  close(fc);
  close(fk);
  if (nat_quic_identity_new(&id, cn) != 0 ||
      nat_quic_identity_save(id, cp, kp) != 0)
    DIE("cannot make an identity");
  nat_quic_identity_pin(id, pin);
  nat_quic_identity_free(id);
  p.cert = slurp(cp);
  p.key = slurp(kp);
  unlink(cp);
  unlink(kp);
  return p;
}

static void id_seed(const char *dir, const char *name, const buf *cert,
                    size_t clen, const buf *key, size_t klen, bool sep) {
  buf b = {0};
  put1(&b, 0);
  put(&b, cert->d, clen);
  if (sep)
    put1(&b, 0);
  put(&b, key->d, klen);
  write_seed(dir, name, &b);
  free(b.d);
}

static void pin_seed(const char *dir, const char *name, const char *s) {
  buf b = {0};
  put1(&b, 1);
  put(&b, s, strlen(s));
  write_seed(dir, name, &b);
  free(b.d);
}

static void identity_seeds(const char *dir) {
  uint8_t pa[NAT_QUIC_PIN_LEN], pb[NAT_QUIC_PIN_LEN];
  pem a = make_identity("seed-a", pa), b = make_identity("seed-b", pb);
  char hex[NAT_QUIC_PIN_HEX_LEN], b64[NAT_QUIC_PIN_B64_LEN], s[256];
  buf g = {0};
  size_t o;

  id_seed(dir, "id_pair", &a.cert, a.cert.len, &a.key, a.key.len, true);
  id_seed(dir, "id_combined", &a.cert, a.cert.len, &a.key, a.key.len, false);
  id_seed(dir, "id_mismatch", &a.cert, a.cert.len, &b.key, b.key.len, true);
  id_seed(dir, "id_swapped", &a.key, a.key.len, &a.cert, a.cert.len, true);
  id_seed(dir, "id_cert_cut", &a.cert, a.cert.len / 2, &a.key, a.key.len, true);
  id_seed(dir, "id_key_cut", &a.cert, a.cert.len, &a.key, a.key.len - 40, true);
  id_seed(dir, "id_empty", &a.cert, 0, &a.key, 0, true);
  /* a base64 character of the certificate's body changed */
  put(&g, a.cert.d, a.cert.len);
  g.d[g.len / 2] = g.d[g.len / 2] == 'A' ? 'B' : 'A';
  id_seed(dir, "id_cert_garbled", &g, g.len, &a.key, a.key.len, true);
  /* two certificates in the file: the first counts */
  g.len = 0;
  put(&g, a.cert.d, a.cert.len);
  put(&g, b.cert.d, b.cert.len);
  id_seed(dir, "id_two_certs", &g, g.len, &a.key, a.key.len, true);
  free(g.d);

  nat_quic_pin_to_hex(pa, hex, sizeof hex);
  nat_quic_pin_to_base64(pa, b64, sizeof b64);
  pin_seed(dir, "pin_hex", hex);
  for (o = 0; hex[o]; o++)
    s[o] = (char)(hex[o] >= 'a' ? hex[o] - 32 : hex[o]);
  s[o] = '\0';
  pin_seed(dir, "pin_hex_upper", s);
  o = 0;
  for (size_t i = 0; i < NAT_QUIC_PIN_LEN; i++) {
    s[o++] = hex[2 * i];
    s[o++] = hex[2 * i + 1];
    if (i + 1 < NAT_QUIC_PIN_LEN)
      s[o++] = ':';
  }
  s[o] = '\0';
  pin_seed(dir, "pin_hex_colons", s);
  snprintf(s, sizeof s, "sha256:%s", hex);
  pin_seed(dir, "pin_hex_prefixed", s);
  snprintf(s, sizeof s, "%.63s", hex);
  pin_seed(dir, "pin_hex_63", s);
  snprintf(s, sizeof s, "%s0", hex);
  pin_seed(dir, "pin_hex_65", s);
  pin_seed(dir, "pin_b64", b64);
  snprintf(s, sizeof s, "%.43s", b64);
  pin_seed(dir, "pin_b64_unpadded", s);
  snprintf(s, sizeof s, "SHA256/%s", b64);
  pin_seed(dir, "pin_b64_prefixed", s);
  nat_quic_pin_to_base64(pb, b64, sizeof b64);
  for (o = 0; b64[o]; o++)
    s[o] = b64[o] == '+' ? '-' : b64[o] == '/' ? '_' : b64[o];
  s[o] = '\0';
  pin_seed(dir, "pin_b64_urlsafe", s);
  snprintf(s, sizeof s, "%.42s/=", b64); /* trailing bits set */
  pin_seed(dir, "pin_b64_bits", s);
  pin_seed(dir, "pin_empty", "");
  free(a.cert.d), free(a.key.d), free(b.cert.d), free(b.key.d);
}

/* ---------------------------------------------------------- handshake */

#define MAXDG 64

typedef struct dgram {
  int to; /* 0: the server, 1: the client */
  nat_addr from;
  size_t len;
  uint8_t d[1500];
} dgram;

static struct {
  uv_loop_t loop;
  nat_tstamp now;
  nat_udp cu, su;
  dgram q[MAXDG];
  size_t qn, qhead;
  dgram client_sent[MAXDG];
  size_t ncs;
  bool connected;
} H;

static nat_tstamp h_clock(void *ctx) {
  (void)ctx;
  return H.now += NAT_MICROSECONDS;
}

static void h_send(void *ctx, const nat_addr *dst, const uint8_t *b,
                   size_t len) {
  nat_udp *from = ctx;
  dgram *g;
  (void)dst;
  if (H.qn == MAXDG || len > sizeof g->d)
    return;
  g = &H.q[H.qn++];
  g->to = from == &H.cu ? 0 : 1;
  g->from = from->local;
  g->len = len;
  memcpy(g->d, b, len);
  if (g->to == 0 && H.ncs < MAXDG)
    H.client_sent[H.ncs++] = *g;
}

static void h_connected(nat_quic_conn *c, void *arg) {
  (void)c, (void)arg;
  H.connected = true;
}

static bool h_any(nat_quic_conn *c, void *arg,
                  const uint8_t pin[NAT_QUIC_PIN_LEN]) {
  (void)c, (void)arg, (void)pin;
  return true;
}

/* A handshake between a client (ALPN @p alpn, NULL: the default) and a
 * server (the default ALPN); @return whether the client connected. The
 * client's datagrams are in H.client_sent. */
static bool handshake(const char *alpn) {
  nat_quic_identity *ida, *idb;
  uint8_t pinb[NAT_QUIC_PIN_LEN];
  nat_quic_endpoint *client, *server;
  nat_quic_config cc, sc;
  nat_addr ca, sa;
  nat_quic_conn *conn;

  static bool loop_init;
  if (!loop_init) {
    uv_loop_init(&H.loop);
    loop_init = true;
  }
  H.qn = H.qhead = H.ncs = 0;
  H.connected = false;
  H.now = 1000 * NAT_SECONDS;
  nat_addr_parse(&ca, "198.51.100.1:40000", 0); /* the fuzzer's source 0 */
  nat_addr_parse(&sa, "192.0.2.1:4433", 0);
  fake_udp_init(&H.cu, &ca, h_send, &H.cu);
  fake_udp_init(&H.su, &sa, h_send, &H.su);
  if (nat_quic_identity_new(&ida, "seed-client") != 0 ||
      nat_quic_identity_new(&idb, "seed-server") != 0)
    DIE("cannot make identities");
  nat_quic_identity_pin(idb, pinb);
  memset(&cc, 0, sizeof cc);
  cc.udp = &H.cu;
  cc.identity = ida;
  cc.clock = h_clock;
  cc.cb.on_connected = h_connected;
  sc = cc;
  cc.alpn = alpn;
  sc.udp = &H.su;
  sc.identity = idb;
  sc.accept = true;
  sc.verify_pin = h_any;
  sc.cb.on_connected = NULL;
  if (nat_quic_endpoint_new(&client, &H.loop, &cc) != 0 ||
      nat_quic_endpoint_new(&server, &H.loop, &sc) != 0 ||
      nat_quic_connect(client, &sa, pinb, NULL, &conn) != 0)
    DIE("cannot start the handshake");
  for (int step = 0; step < 1000 && !(H.connected && H.qhead == H.qn) &&
                     !(alpn && H.ncs > 0 && H.qhead == H.qn);
       step++) {
    if (H.qhead < H.qn) {
      dgram *g = &H.q[H.qhead++];
      fake_udp_deliver(g->to == 0 ? &H.su : &H.cu, &g->from, g->d, g->len);
    } else {
      nat_tstamp t = nat_quic_endpoint_get_expiry(client), u;
      u = nat_quic_endpoint_get_expiry(server);
      if (u < t)
        t = u;
      if (t == NAT_TSTAMP_MAX)
        break;
      if (t > H.now)
        H.now = t;
      nat_quic_endpoint_handle_expiry(client);
      nat_quic_endpoint_handle_expiry(server);
    }
    uv_run(&H.loop, UV_RUN_NOWAIT);
  }
  if (!alpn && (!H.connected || H.ncs < 2))
    DIE("the handshake did not complete (%zu client datagrams)", H.ncs);
  nat_quic_endpoint_close(client, NULL, NULL);
  nat_quic_endpoint_close(server, NULL, NULL);
  for (int i = 0; i < 16; i++)
    uv_run(&H.loop, UV_RUN_NOWAIT);
  nat_quic_identity_free(ida);
  nat_quic_identity_free(idb);
  return H.connected;
}

/* ------------------------------------------------------- demux seeds */

/* The first Initial of a client asking for another ALPN: the server
 * refuses it with CONNECTION_CLOSE and enters its closing period. */
static dgram other_alpn;

static void rec(buf *b, uint8_t h, const uint8_t *d, size_t len) {
  put1(b, h);
  put1(b, (uint8_t)(len >> 8));
  put1(b, (uint8_t)len);
  put(b, d, len);
}

static void demux_seed(const char *dir, const char *name, uint8_t flags,
                       const uint8_t *d, size_t len) {
  buf b = {0};
  put1(&b, flags);
  rec(&b, 0, d, len);
  write_seed(dir, name, &b);
  free(b.d);
}

/* A long header: @p first, @p version, DCID and SCID of the given
 * lengths, @p extra bytes after them, zero padding to @p total. */
static size_t long_header(uint8_t *p, uint8_t first, uint32_t version,
                          size_t dcid, size_t scid, const uint8_t *extra,
                          size_t elen, size_t total) {
  size_t o = 0;
  p[o++] = first;
  p[o++] = (uint8_t)(version >> 24);
  p[o++] = (uint8_t)(version >> 16);
  p[o++] = (uint8_t)(version >> 8);
  p[o++] = (uint8_t)version;
  p[o++] = (uint8_t)dcid;
  for (size_t i = 0; i < dcid; i++)
    p[o++] = (uint8_t)(0xD0 + i);
  p[o++] = (uint8_t)scid;
  for (size_t i = 0; i < scid; i++)
    p[o++] = (uint8_t)(0x50 + i);
  if (elen) {
    memcpy(p + o, extra, elen);
    o += elen;
  }
  if (total > o) {
    memset(p + o, 0, total - o);
    o = total;
  }
  return o;
}

static size_t stun_msg(uint8_t *p, uint16_t type, bool cookie,
                       const uint8_t *attrs, size_t alen) {
  static const uint8_t tid[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
  p[0] = (uint8_t)(type >> 8);
  p[1] = (uint8_t)type;
  p[2] = (uint8_t)(alen >> 8);
  p[3] = (uint8_t)alen;
  if (cookie) {
    p[4] = 0x21, p[5] = 0x12, p[6] = 0xA4, p[7] = 0x42;
  } else {
    p[4] = 0x9a, p[5] = 0x01, p[6] = 0x02, p[7] = 0x03;
  }
  memcpy(p + 8, tid, sizeof tid);
  if (alen)
    memcpy(p + 20, attrs, alen);
  return 20 + alen;
}

static void sealed_seed(const char *dir, const char *name, const dgram *g) {
  uint8_t plain[1500], dcid[20], scid[20];
  size_t dl, sl, n = qi_open(g->d, g->len, plain, dcid, &dl, scid, &sl);
  buf b = {0};
  if (n == 0 || dl < 8 || dl > 20)
    DIE("cannot open the client's Initial for %s", name);
  while (n > 0 && plain[n - 1] == 0)
    n--;
  { /* what the fuzzer will seal opens to the same frames */
    uint8_t pkt[1500 + 64], back[1500], d2[20], s2[20];
    size_t dl2, sl2, m = qi_seal(pkt, dcid, dl, scid, sl, 0, plain, n);
    if (m < 1200 || qi_open(pkt, m, back, d2, &dl2, s2, &sl2) < n ||
        memcmp(back, plain, n) != 0 || dl2 != dl || sl2 != sl)
      DIE("sealing %s does not round-trip", name);
  }
  put1(&b, 0);
  put1(&b, 0);
  put1(&b, (uint8_t)(0x80 | ((3 + dl + sl + n) >> 8)));
  put1(&b, (uint8_t)(3 + dl + sl + n));
  put1(&b, (uint8_t)(dl - 8));
  put1(&b, (uint8_t)sl);
  put1(&b, 0);
  put(&b, dcid, dl);
  put(&b, scid, sl);
  put(&b, plain, n);
  write_seed(dir, name, &b);
  free(b.d);
}

static void demux_seeds(const char *dir) {
  /* Initial: token length 16, a token, Length 1100, then zeros */
  static const uint8_t tok[] = {16,  't', 'o', 'k',  'e', 'n', 't',
                                'o', 'k', 'e', 'n',  't', 'o', 'k',
                                'e', 'n', '!', 0x44, 0x4c};
  static const uint8_t no_tok[] = {0, 0x44, 0x4c};
  static const uint8_t xma[] = {0x00, 0x20, 0x00, 0x08, 0x00, 0x01,
                                0xA1, 0x47, 0xE1, 0x12, 0xA6, 0x43};
  const dgram *ini = &H.client_sent[0];
  uint8_t p[1500];
  size_t n;
  buf b = {0};

  demux_seed(dir, "initial", 0, ini->d, ini->len);
  demux_seed(dir, "initial_refused", 1, ini->d, ini->len);
  demux_seed(dir, "initial_not_accepting", 2, ini->d, ini->len);

  /* the whole handshake of the client, in order, timers run after each */
  put1(&b, 0);
  for (size_t i = 0; i < H.ncs; i++)
    rec(&b, 0x80, H.client_sent[i].d, H.client_sent[i].len);
  write_seed(dir, "handshake", &b);
  /* the Initial again, then from another port, another IP */
  b.len = 0;
  put1(&b, 0);
  rec(&b, 0x00, ini->d, ini->len);
  rec(&b, 0x10, ini->d, ini->len);
  rec(&b, 0x04, ini->d, ini->len);
  rec(&b, 0x81, ini->d, ini->len);
  write_seed(dir, "initial_moves", &b);

  n = long_header(p, 0xC0, 0x1a2a3a4a, 8, 8, NULL, 0, 1200);
  demux_seed(dir, "vn_trigger", 0, p, n);
  n = long_header(p, 0xC0, 0x1a2a3a4a, 20, 20, NULL, 0, 100);
  demux_seed(dir, "vn_small", 0, p, n);
  n = long_header(p, 0x80, 0, 8, 8, (const uint8_t *)"\x00\x00\x00\x01", 4, 0);
  demux_seed(dir, "vn_packet", 0, p, n);
  n = long_header(p, 0xC3, 1, 8, 8, tok, sizeof tok, 1200);
  demux_seed(dir, "initial_token", 0, p, n);
  n = long_header(p, 0xC3, 1, 4, 0, no_tok, sizeof no_tok, 1200);
  demux_seed(dir, "initial_short_dcid", 0, p, n);
  n = long_header(p, 0xC3, 1, 20, 20, no_tok, sizeof no_tok, 1250);
  demux_seed(dir, "initial_long_cids", 0, p, n);
  n = long_header(p, 0xE3, 1, 8, 8, no_tok, sizeof no_tok, 200);
  demux_seed(dir, "handshake_unknown", 0, p, n);

  p[0] = 0x41;
  for (int i = 1; i < 60; i++)
    p[i] = (uint8_t)(i * 37);
  demux_seed(dir, "short_unknown", 0, p, 60);
  p[0] = 0x5f;
  demux_seed(dir, "reset_junk_21", 0, p, 21);
  p[0] = 0x1f; /* fixed bit clear, greased */
  demux_seed(dir, "reset_junk_40", 0, p, 40);
  if (H.ncs > 2) /* a short header of the real connection (CID unknown) */
    demux_seed(dir, "short_real", 0, H.client_sent[H.ncs - 1].d,
               H.client_sent[H.ncs - 1].len);

  n = stun_msg(p, 0x0001, true, NULL, 0);
  demux_seed(dir, "stun_request", 0, p, n);
  n = stun_msg(p, 0x0011, true, NULL, 0);
  demux_seed(dir, "stun_indication", 0, p, n);
  n = stun_msg(p, 0x0101, true, xma, sizeof xma);
  demux_seed(dir, "stun_response", 0, p, n);
  n = stun_msg(p, 0x0101, true, xma, sizeof xma);
  p[3] = 8; /* length field 8, datagram 12 after the header */
  demux_seed(dir, "stun_wrong_len", 0, p, n);
  n = stun_msg(p, 0x0101, false, xma, sizeof xma);
  demux_seed(dir, "stun_classic", 0, p, n);
  n = stun_msg(p, 0x0001, true, xma, 6); /* bad attribute framing */
  p[3] = 8;
  demux_seed(dir, "stun_malformed", 0, p, 28);

  /* refused for its ALPN (CONNECTION_CLOSE), then late packets for the
   * closed connection from the client and from elsewhere: the close is
   * sent again to the client (1st, 2nd, 4th... late packet) */
  b.len = 0;
  put1(&b, 0);
  rec(&b, 0x00, other_alpn.d, other_alpn.len);
  rec(&b, 0x00, other_alpn.d, other_alpn.len);
  rec(&b, 0x10, other_alpn.d, 40);
  rec(&b, 0x05, other_alpn.d, 30);
  rec(&b, 0x00, other_alpn.d, 30);
  rec(&b, 0x00, other_alpn.d, 30);
  rec(&b, 0x80, other_alpn.d, other_alpn.len);
  write_seed(dir, "alpn_refused_late", &b);
  demux_seed(dir, "alpn_refused", 0, other_alpn.d, other_alpn.len);

  /* the two Initials again as plaintext frames for fuzz_quic_demux to
   * seal (length bit 15): DCID length, SCID length, PN, DCID, SCID,
   * frames (trailing PADDING cut) */
  sealed_seed(dir, "sealed_initial", ini);
  sealed_seed(dir, "sealed_alpn_refused", &other_alpn);

  /* a mix from several sources, the clock moving */
  b.len = 0;
  put1(&b, 0);
  n = stun_msg(p, 0x0001, true, NULL, 0);
  rec(&b, 0x02, p, n);
  rec(&b, 0x00, ini->d, ini->len);
  rec(&b, 0x35, p, n);
  n = long_header(p, 0xC0, 0x1a2a3a4a, 8, 8, NULL, 0, 1200);
  rec(&b, 0x13, p, n);
  p[0] = 0x41;
  for (int i = 1; i < 60; i++)
    p[i] = (uint8_t)(i * 37);
  rec(&b, 0xF0, p, 60);
  rec(&b, 0x80, ini->d, ini->len);
  write_seed(dir, "mixed", &b);
  free(b.d);
}

int main(int argc, char **argv) {
  char id_dir[4096], dm_dir[4096];
  if (argc != 2) {
    fprintf(stderr, "usage: quic_seeds CORPUS_DIR\n");
    return 2;
  }
  snprintf(id_dir, sizeof id_dir, "%s/quic_identity", argv[1]);
  snprintf(dm_dir, sizeof dm_dir, "%s/quic_demux", argv[1]);
  mkdir(id_dir, 0755);
  mkdir(dm_dir, 0755);
  identity_seeds(id_dir);
  if (handshake("nat-other"))
    DIE("a client of another ALPN connected");
  if (H.ncs == 0)
    DIE("the client of another ALPN sent nothing");
  other_alpn = H.client_sent[0];
  handshake(NULL);
  demux_seeds(dm_dir);
  printf("quic_seeds: wrote %s and %s (%zu client datagrams)\n", id_dir, dm_dir,
         H.ncs);
  return 0;
}
