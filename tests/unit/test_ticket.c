/* Unit tests: punch tickets (nat/ticket.h): round trip, and a specific
 * one-line error for every malformation. Malformed bodies are built here
 * byte by byte, with a valid CRC where the test needs one. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "nat/error.h"
#include "nat/stun.h"
#include "nat/ticket.h"

static uint64_t rng = 0x1234567887654321ull;

static void rand_fn(void *ctx, uint8_t *buf, size_t len) {
  size_t i;
  (void)ctx;
  for (i = 0; i < len; i++) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    buf[i] = (uint8_t)(rng >> 24);
  }
}

static nat_addr A(const char *s) {
  nat_addr a;
  assert_int_equal(nat_addr_parse(&a, s, 0), 0);
  return a;
}

static void make_ticket(nat_ticket *t) {
  nat_cand c;
  nat_addr h = A("10.0.0.2:5000"), s = A("198.51.100.1:40000"),
           v6 = A("[2001:db8::7]:5000"), p = A("198.51.100.1:40002");
  size_t i;
  assert_int_equal(nat_ticket_init_random(t, rand_fn, NULL), 0);
  for (i = 0; i < NAT_TICKET_PIN_LEN; i++)
    t->pin[i] = (uint8_t)(i * 7 + 1);
  nat_cand_make(&c, NAT_CAND_HOST, &v6, &v6, NULL, 65535);
  assert_int_equal(nat_ticket_add_cand(t, &c), 0);
  nat_cand_make(&c, NAT_CAND_HOST, &h, &h, NULL, 65534);
  assert_int_equal(nat_ticket_add_cand(t, &c), 0);
  nat_cand_make_srflx(&c, &s, &h, NULL);
  assert_int_equal(nat_ticket_add_cand(t, &c), 0);
  nat_cand_make(&c, NAT_CAND_PREDICTED, &p, &h, NULL, 65535);
  assert_int_equal(nat_ticket_add_cand(t, &c), 0);
}

static void test_round_trip(void **state) {
  nat_ticket t, u;
  nat_ticket_diag d;
  char text[NAT_TICKET_TEXT_MAX], wrapped[NAT_TICKET_TEXT_MAX + 64];
  ssize_t n;
  size_t i, o = 0;
  (void)state;
  make_ticket(&t);
  assert_int_equal(strlen(t.ufrag), NAT_TICKET_UFRAG_GEN);
  assert_int_equal(strlen(t.pwd), NAT_TICKET_PWD_GEN);
  n = nat_ticket_encode(&t, text, sizeof text);
  assert_true(n > 0);
  assert_int_equal((size_t)n, strlen(text));
  assert_memory_equal(text, "natp1.", 6);
  printf("  a ticket with 4 candidates (one IPv6): %zd characters\n", n);
  assert_true(n < 200);
  assert_int_equal(nat_ticket_decode(&u, text, (size_t)n, &d), 0);
  assert_int_equal(d.status, NAT_TICKET_OK);
  assert_string_equal(nat_ticket_strerror(&d), "ok");
  assert_int_equal(u.version, 1);
  assert_memory_equal(u.pin, t.pin, NAT_TICKET_PIN_LEN);
  assert_string_equal(u.ufrag, t.ufrag);
  assert_string_equal(u.pwd, t.pwd);
  assert_true(u.tie_breaker == t.tie_breaker);
  assert_int_equal(u.ncands, 4);
  for (i = 0; i < 4; i++) {
    assert_int_equal(u.cands[i].type, t.cands[i].type);
    assert_true(nat_addr_equal(&u.cands[i].addr, &t.cands[i].addr));
    assert_int_equal(u.cands[i].priority,
                     nat_cand_priority(nat_cand_type_pref(u.cands[i].type),
                                       (uint16_t)(65535 - i), 1));
  }
  /* line-wrapped with spaces and a trailing newline: still fine */
  for (i = 0; i < (size_t)n; i++) {
    wrapped[o++] = text[i];
    if (i % 20 == 19)
      wrapped[o++] = i % 40 == 39 ? '\n' : ' ';
  }
  wrapped[o++] = '\r';
  wrapped[o++] = '\n';
  assert_int_equal(nat_ticket_decode(&u, wrapped, o, &d), 0);
  assert_string_equal(u.pwd, t.pwd);
  /* encoder limits */
  assert_int_equal(nat_ticket_encode(&t, text, 20), NAT_ENOBUFS);
  strcpy(t.ufrag, "a b");
  assert_int_equal(nat_ticket_encode(&t, text, sizeof text), NAT_EINVAL);
}

/* ------------------------------------------------ malformed bodies */

typedef struct body {
  uint8_t b[600];
  size_t n;
} body;

static void tlv(body *b, uint8_t type, const void *v, size_t len) {
  b->b[b->n++] = type;
  b->b[b->n++] = (uint8_t)len;
  memcpy(b->b + b->n, v, len);
  b->n += len;
}

static void base_fields(body *b, uint8_t version) {
  uint8_t pin[32] = {1}, tb[8] = {0, 0, 0, 0, 0, 0, 0, 9};
  b->n = 0;
  b->b[b->n++] = version;
  tlv(b, 1, pin, 32);
  tlv(b, 2, "abcd", 4);
  tlv(b, 3, "0123456789abcdefghijkl", 22);
  tlv(b, 4, tb, 8);
}

static void cand4(body *b, uint8_t type, uint16_t port) {
  uint8_t v[7] = {type, 198, 51, 100, 1, (uint8_t)(port >> 8), (uint8_t)port};
  tlv(b, 5, v, 7);
}

/* "natp<ver>." + base64url(body + CRC (when @p crc)). */
static void to_text(const body *b, unsigned ver, bool crc, char *out) {
  static const char al[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  uint8_t raw[700];
  size_t n = b->n, i, o;
  uint32_t acc = 0;
  int bits = 0;
  memcpy(raw, b->b, n);
  if (crc) {
    uint32_t c = nat_crc32(0, raw, n);
    raw[n++] = (uint8_t)(c >> 24);
    raw[n++] = (uint8_t)(c >> 16);
    raw[n++] = (uint8_t)(c >> 8);
    raw[n++] = (uint8_t)c;
  }
  o = (size_t)sprintf(out, "natp%u.", ver);
  for (i = 0; i < n; i++) {
    acc = acc << 8 | raw[i];
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out[o++] = al[(acc >> bits) & 63];
    }
  }
  if (bits > 0)
    out[o++] = al[(acc << (6 - bits)) & 63];
  out[o] = '\0';
}

static void expect(const char *text, int status, const char *needle) {
  nat_ticket t;
  nat_ticket_diag d;
  int rc = nat_ticket_decode(&t, text, strlen(text), &d);
  assert_int_equal(rc, NAT_ETICKET);
  if (d.status != status)
    fail_msg("status %s, want %s: %s", nat_ticket_status_name(d.status),
             nat_ticket_status_name(status), d.msg);
  assert_memory_equal(nat_ticket_strerror(&d), "ticket: ", 8);
  assert_null(strchr(d.msg, '\n'));
  if (strstr(d.msg, needle) == NULL)
    fail_msg("message \"%s\" lacks \"%s\"", d.msg, needle);
}

static void test_malformed(void **state) {
  char text[1400], good[1400];
  body b;
  size_t i;
  (void)state;
  base_fields(&b, 1);
  cand4(&b, 1, 40000);
  to_text(&b, 1, true, good);
  assert_int_equal(
      nat_ticket_decode(&(nat_ticket){0}, good, strlen(good), NULL), 0);

  expect("hello world", NAT_TICKET_BAD_PREFIX, "natp1.");
  expect("natp.AAAA", NAT_TICKET_BAD_PREFIX, "natp<version>.");
  expect("natp1AAAA", NAT_TICKET_BAD_PREFIX, "prefix");
  expect("", NAT_TICKET_BAD_PREFIX, "not a punch ticket");
  to_text(&b, 2, true, text);
  expect(text, NAT_TICKET_BAD_VERSION, "version 2 is unknown");
  base_fields(&b, 2); /* body version differs from the prefix's */
  to_text(&b, 1, true, text);
  expect(text, NAT_TICKET_BAD_VERSION, "body says version 2");

  strcpy(text, good);
  text[10] = '*';
  expect(text, NAT_TICKET_BAD_BASE64, "not base64url");
  strcpy(text, good);
  text[10] = '+'; /* standard base64, not base64url */
  expect(text, NAT_TICKET_BAD_BASE64, "character 5");
  strcpy(text, good); /* pad to a base64url length % 4 == 1 */
  while ((strlen(text) - 6) % 4 != 1)
    strcat(text, "A");
  expect(text, NAT_TICKET_BAD_BASE64, "impossible");

  strcpy(text, good);
  text[20] = text[20] == 'A' ? 'B' : 'A';
  expect(text, NAT_TICKET_CHECKSUM, "checksum mismatch");
  strcpy(text, good);
  text[strlen(text) - 8] = '\0'; /* cut while copying */
  expect(text, NAT_TICKET_CHECKSUM, "paste it again");
  expect("natp1.AAAA", NAT_TICKET_TRUNCATED, "only 3 bytes");

  base_fields(&b, 1);
  b.b[b.n++] = 5; /* a candidate header whose value is missing */
  b.b[b.n++] = 7;
  b.b[b.n++] = 1;
  to_text(&b, 1, true, text);
  expect(text, NAT_TICKET_TRUNCATED, "needs 7 bytes, 1 left");
  base_fields(&b, 1);
  b.b[b.n++] = 5;
  to_text(&b, 1, true, text);
  expect(text, NAT_TICKET_TRUNCATED, "field header");

  base_fields(&b, 1);
  cand4(&b, NAT_CAND_PRFLX, 40000);
  to_text(&b, 1, true, text);
  expect(text, NAT_TICKET_BAD_CANDIDATE, "candidate 1 has type 2 (prflx)");
  base_fields(&b, 1);
  cand4(&b, NAT_CAND_RELAY, 40000);
  to_text(&b, 1, true, text);
  expect(text, NAT_TICKET_BAD_CANDIDATE, "relay");
  base_fields(&b, 1);
  cand4(&b, 1, 0);
  to_text(&b, 1, true, text);
  expect(text, NAT_TICKET_BAD_CANDIDATE, "port 0");
  base_fields(&b, 1);
  cand4(&b, 1, 1);
  tlv(&b, 5, "\x01\x01\x02\x03\x04\x05\x06\x07", 8);
  to_text(&b, 1, true, text);
  expect(text, NAT_TICKET_BAD_CANDIDATE, "candidate 2 has length 8");

  base_fields(&b, 1);
  for (i = 0; i < NAT_TICKET_MAX_CANDS + 1; i++)
    cand4(&b, 1, (uint16_t)(1000 + i));
  to_text(&b, 1, true, text);
  expect(text, NAT_TICKET_TOO_MANY_CANDS, "at most 12");

  b.n = 0;
  b.b[b.n++] = 1;
  tlv(&b, 2, "abcd", 4);
  to_text(&b, 1, true, text);
  expect(text, NAT_TICKET_MISSING_FIELD, "pin field is missing");
  base_fields(&b, 1);
  tlv(&b, 2, "abcd", 4);
  to_text(&b, 1, true, text);
  expect(text, NAT_TICKET_BAD_FIELD, "ufrag appears twice");
  base_fields(&b, 1);
  tlv(&b, 9, "x", 1);
  to_text(&b, 1, true, text);
  expect(text, NAT_TICKET_BAD_FIELD, "unknown required field type 9");
  b.n = 0;
  b.b[b.n++] = 1;
  tlv(&b, 1, "short", 5);
  to_text(&b, 1, true, text);
  expect(text, NAT_TICKET_BAD_FIELD, "pin has 5 bytes");
  b.n = 0;
  b.b[b.n++] = 1;
  tlv(&b, 3, "short", 5);
  to_text(&b, 1, true, text);
  expect(text, NAT_TICKET_BAD_FIELD, "password has 5 characters");
  b.n = 0;
  b.b[b.n++] = 1;
  tlv(&b, 2, "ab:d", 4);
  to_text(&b, 1, true, text);
  expect(text, NAT_TICKET_BAD_FIELD, "ufrag has a character");

  /* an optional unknown field (>= 0x80) is skipped */
  base_fields(&b, 1);
  tlv(&b, 0x90, "future", 6);
  cand4(&b, 1, 40000);
  to_text(&b, 1, true, text);
  assert_int_equal(
      nat_ticket_decode(&(nat_ticket){0}, text, strlen(text), NULL), 0);

  memset(text, 'A', 1200);
  memcpy(text, "natp1.", 6);
  text[1200] = '\0';
  expect(text, NAT_TICKET_TOO_LONG, "longer than");
  assert_int_equal(nat_ticket_decode(NULL, "x", 1, NULL), NAT_EINVAL);
  assert_string_equal(nat_ticket_status_name(NAT_TICKET_CHECKSUM), "checksum");
  assert_string_equal(nat_ticket_status_name(99), "unknown");
}

static void test_validate(void **state) {
  nat_ticket t;
  nat_ticket_diag d;
  nat_cand c;
  nat_addr lo = A("127.0.0.1:5000"), pub = A("198.51.100.1:40000");
  nat_cand_policy strict = {0}, loose = {.allow_loopback = true};
  (void)state;
  nat_ticket_init_random(&t, rand_fn, NULL);
  nat_cand_make(&c, NAT_CAND_HOST, &lo, &lo, NULL, 65535);
  nat_ticket_add_cand(&t, &c);
  nat_cand_make(&c, NAT_CAND_SRFLX, &pub, NULL, NULL, 65535);
  nat_ticket_add_cand(&t, &c);
  nat_ticket tt = t;
  assert_int_equal(nat_ticket_validate(&tt, &loose, false, &d), 0);
  assert_int_equal(tt.ncands, 2);
  tt = t;
  assert_int_equal(nat_ticket_validate(&tt, &strict, false, &d), NAT_ETICKET);
  assert_int_equal(d.status, NAT_TICKET_REFUSED_CANDIDATE);
  assert_string_equal(d.msg, "ticket: candidate 1 (host 127.0.0.1:5000): "
                             "loopback address (allowed only for tests)");
  tt = t;
  assert_int_equal(nat_ticket_validate(&tt, &strict, true, &d), 0);
  assert_int_equal(tt.ncands, 1);
  assert_int_equal(tt.cands[0].type, NAT_CAND_SRFLX);
  tt = t;
  tt.ncands = 0;
  assert_int_equal(nat_ticket_validate(&tt, &strict, true, &d), NAT_ETICKET);
  assert_int_equal(d.status, NAT_TICKET_NO_CANDIDATES);
  /* adding: refused types and the limit */
  nat_cand_make(&c, NAT_CAND_PRFLX, &pub, NULL, NULL, 1);
  assert_int_equal(nat_ticket_add_cand(&t, &c), NAT_EINVAL);
  nat_cand_make(&c, NAT_CAND_SRFLX, &pub, NULL, NULL, 1);
  while (t.ncands < NAT_TICKET_MAX_CANDS)
    assert_int_equal(nat_ticket_add_cand(&t, &c), 0);
  assert_int_equal(nat_ticket_add_cand(&t, &c), NAT_ENOBUFS);
}

/* The seed corpus's valid ticket was made by an independent encoder
 * (Python's base64 and zlib.crc32): it must decode. */
static void test_corpus_ticket(void **state) {
  char text[NAT_TICKET_TEXT_MAX];
  nat_ticket t;
  nat_ticket_diag d;
  char a[NAT_ADDR_STRLEN];
  size_t n;
  FILE *f =
      fopen(NAT_TEST_SOURCE_DIR "/tests/fuzz/corpus/ticket/valid_v4", "rb");
  (void)state;
  assert_non_null(f);
  n = fread(text, 1, sizeof text, f);
  fclose(f);
  assert_int_equal(nat_ticket_decode(&t, text, n, &d), 0);
  assert_string_equal(t.ufrag, "abcd1234");
  assert_int_equal(t.ncands, 2);
  assert_string_equal(nat_addr_format(&t.cands[1].addr, a, sizeof a),
                      "198.51.100.1:40000");
  assert_int_equal(t.cands[1].type, NAT_CAND_SRFLX);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_round_trip),
      cmocka_unit_test(test_malformed),
      cmocka_unit_test(test_validate),
      cmocka_unit_test(test_corpus_ticket),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
