/* STUN integrity: long-term keys (RFC 8489 section 9.2.2), the RFC 5769
 * long-term vector, MESSAGE-INTEGRITY-SHA256 full and truncated, short-term
 * round trips, tampering, and the CRC-32 behind FINGERPRINT. Expected
 * digests were computed independently (openssl dgst, Python hashlib/hmac)
 * and are hard-coded. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "nat/error.h"
#include "nat/stun.h"

/* RFC 5769 section 2.4: request with long-term authentication. */
static const uint8_t rfc5769_ltc[] = {
    0x00, 0x01, 0x00, 0x60, 0x21, 0x12, 0xa4, 0x42, 0x78, 0xad, 0x34, 0x33,
    0xc6, 0xad, 0x72, 0xc0, 0x29, 0xda, 0x41, 0x2e, 0x00, 0x06, 0x00, 0x12,
    0xe3, 0x83, 0x9e, 0xe3, 0x83, 0x88, 0xe3, 0x83, 0xaa, 0xe3, 0x83, 0x83,
    0xe3, 0x82, 0xaf, 0xe3, 0x82, 0xb9, 0x00, 0x00, 0x00, 0x15, 0x00, 0x1c,
    0x66, 0x2f, 0x2f, 0x34, 0x39, 0x39, 0x6b, 0x39, 0x35, 0x34, 0x64, 0x36,
    0x4f, 0x4c, 0x33, 0x34, 0x6f, 0x4c, 0x39, 0x46, 0x53, 0x54, 0x76, 0x79,
    0x36, 0x34, 0x73, 0x41, 0x00, 0x14, 0x00, 0x0b, 0x65, 0x78, 0x61, 0x6d,
    0x70, 0x6c, 0x65, 0x2e, 0x6f, 0x72, 0x67, 0x00, 0x00, 0x08, 0x00, 0x14,
    0xf6, 0x70, 0x24, 0x65, 0x6d, 0xd6, 0x4a, 0x3e, 0x02, 0xb8, 0xe0, 0x71,
    0x2e, 0x85, 0xc9, 0xa2, 0x8c, 0xa8, 0x96, 0x66};

/* "マトリックス" in UTF-8 */
static const char ltc_user[] = "\xe3\x83\x9e\xe3\x83\x88\xe3\x83\xaa\xe3\x83"
                               "\x83\xe3\x82\xaf\xe3\x82\xb9";
static const char ltc_nonce[] = "f//499k954d6OL34oL9FSTvy64sA";
static const uint8_t ltc_tid[12] = {0x78, 0xad, 0x34, 0x33, 0xc6, 0xad,
                                    0x72, 0xc0, 0x29, 0xda, 0x41, 0x2e};
/* MD5("マトリックス:example.org:TheMatrIX"), Python hashlib */
static const uint8_t ltc_key[16] = {0xe8, 0xca, 0x7a, 0xd5, 0x9d, 0x5e,
                                    0xb0, 0x51, 0x8e, 0x31, 0x29, 0x11,
                                    0xd2, 0xda, 0xb2, 0xa9};

static void test_long_term_keys(void **state) {
  /* printf 'user:realm:pass' | openssl dgst -md5 / -sha256 */
  static const uint8_t md5[16] = {0x84, 0x93, 0xfb, 0xc5, 0x3b, 0xa5,
                                  0x82, 0xfb, 0x4c, 0x04, 0x4c, 0x45,
                                  0x6b, 0xdc, 0x40, 0xeb};
  static const uint8_t sha256[32] = {
      0x07, 0xe9, 0x34, 0x11, 0x7a, 0xbd, 0x40, 0x83, 0x6e, 0x7c, 0x63,
      0x29, 0xb5, 0x47, 0x31, 0xb2, 0xb2, 0xd2, 0xa5, 0xf9, 0xa7, 0x1f,
      0x54, 0x49, 0x22, 0xd7, 0x5e, 0x07, 0x30, 0xd8, 0x25, 0x1b};
  uint8_t key[32];
  size_t klen = 0;
  (void)state;
  assert_int_equal(nat_stun_long_term_key(NAT_STUN_PWALG_MD5, "user", "realm",
                                          "pass", key, &klen),
                   0);
  assert_int_equal(klen, 16);
  assert_memory_equal(key, md5, 16);
  assert_int_equal(nat_stun_long_term_key(NAT_STUN_PWALG_SHA256, "user",
                                          "realm", "pass", key, &klen),
                   0);
  assert_int_equal(klen, 32);
  assert_memory_equal(key, sha256, 32);
  assert_int_equal(nat_stun_long_term_key(NAT_STUN_PWALG_MD5, ltc_user,
                                          "example.org", "TheMatrIX", key,
                                          &klen),
                   0);
  assert_memory_equal(key, ltc_key, 16);
  assert_int_equal(
      nat_stun_long_term_key(3, "user", "realm", "pass", key, &klen),
      NAT_EINVAL);
  assert_int_equal(nat_stun_long_term_key(NAT_STUN_PWALG_MD5, NULL, "realm",
                                          "pass", key, &klen),
                   NAT_EINVAL);
}

static void test_rfc5769_long_term_decode(void **state) {
  nat_stun_msg m;
  uint8_t copy[sizeof rfc5769_ltc];
  (void)state;
  assert_int_equal(nat_stun_decode(&m, rfc5769_ltc, sizeof rfc5769_ltc),
                   (ssize_t)sizeof rfc5769_ltc);
  assert_int_equal(m.nattrs, 4);
  assert_int_equal(m.fp_idx, -1);
  const nat_stun_attr *u = nat_stun_msg_find(&m, NAT_ATTR_USERNAME);
  assert_non_null(u);
  assert_int_equal(u->len, 18);
  assert_memory_equal(u->value, ltc_user, 18);
  const nat_stun_attr *r = nat_stun_msg_find(&m, NAT_ATTR_REALM);
  assert_non_null(r);
  assert_memory_equal(r->value, "example.org", 11);
  assert_int_equal(nat_stun_msg_check_integrity(&m, ltc_key, 16), 0);
  /* RFC 5769 negative: change one NONCE byte */
  memcpy(copy, rfc5769_ltc, sizeof copy);
  copy[52] ^= 0x01;
  assert_int_equal(nat_stun_decode(&m, copy, sizeof copy),
                   (ssize_t)sizeof copy);
  assert_int_equal(nat_stun_msg_check_integrity(&m, ltc_key, 16),
                   NAT_EINTEGRITY);
}

/* 2.4's padding is zero, so our encoder reproduces it byte for byte. */
static void test_rfc5769_long_term_encode(void **state) {
  uint8_t buf[256], key[32];
  size_t klen = 0;
  nat_stun_builder b;
  (void)state;
  assert_int_equal(nat_stun_long_term_key(NAT_STUN_PWALG_MD5, ltc_user,
                                          "example.org", "TheMatrIX", key,
                                          &klen),
                   0);
  nat_stun_builder_init(&b, buf, sizeof buf, NAT_STUN_BINDING, NAT_STUN_REQUEST,
                        ltc_tid);
  nat_stun_add_string(&b, NAT_ATTR_USERNAME, ltc_user);
  nat_stun_add_string(&b, NAT_ATTR_NONCE, ltc_nonce);
  nat_stun_add_string(&b, NAT_ATTR_REALM, "example.org");
  assert_int_equal(nat_stun_add_integrity(&b, key, klen), 0);
  assert_int_equal(nat_stun_builder_finish(&b, false),
                   (ssize_t)sizeof rfc5769_ltc);
  assert_memory_equal(buf, rfc5769_ltc, sizeof rfc5769_ltc);
}

/* MESSAGE-INTEGRITY-SHA256 over header (length covering the attribute) +
 * USERNAME "alice"; expected MACs from Python hmac. */
static void test_mi_sha256_full_and_truncated(void **state) {
  static const uint8_t full[32] = {
      0x32, 0x8a, 0xbf, 0x6c, 0xd7, 0x9f, 0xcb, 0x30, 0xa5, 0x53, 0xa2,
      0xc5, 0x77, 0x8d, 0xcd, 0x3d, 0xed, 0x41, 0xeb, 0xc7, 0x20, 0x07,
      0xe4, 0xfe, 0x80, 0x60, 0x49, 0xd3, 0xe0, 0xe4, 0x74, 0x3b};
  static const uint8_t trunc16[16] = {0xf3, 0xbe, 0xdc, 0x87, 0x33, 0xc4,
                                      0xb7, 0x30, 0xc3, 0x05, 0x9c, 0x0c,
                                      0x19, 0xd3, 0x13, 0x12};
  const size_t sizes[] = {32, 16};
  const uint8_t *want[] = {full, trunc16};
  uint8_t buf[128], tid[12];
  nat_stun_builder b;
  nat_stun_msg m;
  (void)state;
  for (int i = 0; i < 12; i++) {
    tid[i] = (uint8_t)(i + 1);
  }
  for (size_t i = 0; i < 2; i++) {
    nat_stun_builder_init(&b, buf, sizeof buf, NAT_STUN_BINDING,
                          NAT_STUN_REQUEST, tid);
    nat_stun_add_string(&b, NAT_ATTR_USERNAME, "alice");
    assert_int_equal(
        nat_stun_add_integrity_sha256(&b, (const uint8_t *)"pass", 4, sizes[i]),
        0);
    ssize_t n = nat_stun_builder_finish(&b, true);
    assert_int_equal(n, 20 + 12 + 4 + (ssize_t)sizes[i] + 8);
    assert_memory_equal(buf + 36, want[i], sizes[i]);
    assert_int_equal(nat_stun_decode(&m, buf, (size_t)n), n);
    assert_int_equal(m.mi256_idx, 1);
    assert_int_equal(m.attrs[1].len, sizes[i]);
    assert_int_equal(
        nat_stun_msg_check_integrity(&m, (const uint8_t *)"pass", 4), 0);
    assert_int_equal(
        nat_stun_msg_check_integrity(&m, (const uint8_t *)"Pass", 4),
        NAT_EINTEGRITY);
  }
}

/* With both, MESSAGE-INTEGRITY-SHA256 is the one checked. */
static void test_sha256_preferred(void **state) {
  uint8_t buf[128], tid[12] = {3};
  nat_stun_builder b;
  nat_stun_msg m;
  (void)state;
  nat_stun_builder_init(&b, buf, sizeof buf, 1, 0, tid);
  nat_stun_add_integrity(&b, (const uint8_t *)"sha1key", 7);
  nat_stun_add_integrity_sha256(&b, (const uint8_t *)"sha2key", 7, 24);
  ssize_t n = nat_stun_builder_finish(&b, true);
  assert_int_equal(nat_stun_decode(&m, buf, (size_t)n), n);
  assert_int_equal(
      nat_stun_msg_check_integrity(&m, (const uint8_t *)"sha2key", 7), 0);
  assert_int_equal(
      nat_stun_msg_check_integrity(&m, (const uint8_t *)"sha1key", 7),
      NAT_EINTEGRITY);
}

/* Short-term: the key is the password. Flipping any single bit of the
 * covered bytes -- header, attributes, or the MAC itself -- is caught. */
static void test_short_term_round_trip_and_tamper(void **state) {
  static const uint8_t pw[] = "VOkJxbRl1RmTxUk/WvJxBt";
  uint8_t buf[128], copy[128], tid[12] = {0xaa, 0xbb};
  nat_stun_builder b;
  nat_stun_msg m;
  (void)state;
  nat_stun_builder_init(&b, buf, sizeof buf, 1, 0, tid);
  nat_stun_add_string(&b, NAT_ATTR_USERNAME, "evtj:h6vY");
  nat_stun_add_u32(&b, NAT_ATTR_PRIORITY, 0x6e0001ff);
  assert_int_equal(nat_stun_add_integrity(&b, pw, sizeof pw - 1), 0);
  ssize_t n = nat_stun_builder_finish(&b, false);
  size_t len = (size_t)n;
  assert_int_equal(nat_stun_decode(&m, buf, len), n);
  assert_int_equal(nat_stun_msg_check_integrity(&m, pw, sizeof pw - 1), 0);
  assert_int_equal(nat_stun_msg_check_integrity(&m, pw, sizeof pw - 2),
                   NAT_EINTEGRITY);
  for (size_t i = 0; i < len; i++) {
    if (i == 2 || i == 3) {
      continue; /* the length field: a change is a framing error */
    }
    memcpy(copy, buf, len);
    copy[i] ^= 0x04;
    ssize_t rc = nat_stun_decode(&m, copy, len);
    if (rc < 0) {
      continue; /* framing broke (e.g. an attribute length): also caught */
    }
    /* a flipped MI type byte (44, 45) leaves no MESSAGE-INTEGRITY */
    int ck = nat_stun_msg_check_integrity(&m, pw, sizeof pw - 1);
    if (ck != NAT_EINTEGRITY &&
        !(ck == NAT_ENOINTEGRITY && (i == 44 || i == 45))) {
      fail_msg("flipping byte %zu went unnoticed", i);
    }
  }
}

static void test_empty_and_long_keys(void **state) {
  uint8_t buf[128], tid[12] = {1}, longkey[200];
  nat_stun_builder b;
  nat_stun_msg m;
  (void)state;
  memset(longkey, 0x5c, sizeof longkey);
  nat_stun_builder_init(&b, buf, sizeof buf, 1, 0, tid);
  assert_int_equal(nat_stun_add_integrity(&b, NULL, 0), 0);
  ssize_t n = nat_stun_builder_finish(&b, false);
  nat_stun_decode(&m, buf, (size_t)n);
  assert_int_equal(nat_stun_msg_check_integrity(&m, NULL, 0), 0);
  assert_int_equal(nat_stun_msg_check_integrity(&m, longkey, 1),
                   NAT_EINTEGRITY);
  nat_stun_builder_init(&b, buf, sizeof buf, 1, 0, tid);
  nat_stun_add_integrity(&b, longkey, sizeof longkey);
  n = nat_stun_builder_finish(&b, false);
  nat_stun_decode(&m, buf, (size_t)n);
  assert_int_equal(nat_stun_msg_check_integrity(&m, longkey, sizeof longkey),
                   0);
  assert_int_equal(nat_stun_msg_check_integrity(&m, longkey, 199),
                   NAT_EINTEGRITY);
  assert_int_equal(nat_stun_msg_check_integrity(NULL, longkey, 1), NAT_EINVAL);
}

static uint32_t crc_bitwise(uint32_t crc, const uint8_t *p, size_t n) {
  uint32_t c = ~crc;
  for (size_t i = 0; i < n; i++) {
    c ^= p[i];
    for (int k = 0; k < 8; k++) {
      c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
    }
  }
  return ~c;
}

static void test_crc32(void **state) {
  static uint8_t data[1031];
  uint32_t x = 0x12345678;
  (void)state;
  assert_int_equal(nat_crc32(0, (const uint8_t *)"123456789", 9), 0xCBF43926u);
  assert_int_equal(nat_crc32(0, data, 0), 0);
  for (size_t i = 0; i < sizeof data; i++) {
    x = x * 1103515245u + 12345u;
    data[i] = (uint8_t)(x >> 16);
  }
  /* every length and alignment up to 64, then longer runs */
  for (size_t off = 0; off < 8; off++) {
    for (size_t n = 0; n + off <= sizeof data; n += (n < 64 ? 1 : 61)) {
      assert_int_equal(nat_crc32(0, data + off, n),
                       crc_bitwise(0, data + off, n));
    }
  }
  /* continuation */
  uint32_t c = nat_crc32(0, data, 13);
  assert_int_equal(nat_crc32(c, data + 13, 500), crc_bitwise(0, data, 513));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_long_term_keys),
      cmocka_unit_test(test_rfc5769_long_term_decode),
      cmocka_unit_test(test_rfc5769_long_term_encode),
      cmocka_unit_test(test_mi_sha256_full_and_truncated),
      cmocka_unit_test(test_sha256_preferred),
      cmocka_unit_test(test_short_term_round_trip_and_tamper),
      cmocka_unit_test(test_empty_and_long_keys),
      cmocka_unit_test(test_crc32),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
