/* STUN decoder against hostile datagrams: a table of named malformed
 * messages, each built in code, with the exact error nat_stun_decode()
 * must return; then the RFC 8489 attribute-ordering and unknown-attribute
 * rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "nat/error.h"
#include "nat/stun.h"

/* ---- a raw message writer that lets a test break any rule */

typedef struct raw {
  uint8_t b[70000];
  size_t len;
} raw;

static raw R; /* the row being built (big: no stack) */

static void put16(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t)(v >> 8);
  p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v) {
  put16(p, (uint16_t)(v >> 16));
  put16(p + 2, (uint16_t)v);
}

/* Independent bitwise CRC-32 (not the library's tables). */
static uint32_t crc32_bitwise(const uint8_t *p, size_t n) {
  uint32_t c = 0xFFFFFFFFu;
  for (size_t i = 0; i < n; i++) {
    c ^= p[i];
    for (int k = 0; k < 8; k++) {
      c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
    }
  }
  return ~c;
}

static void r_hdr(void) {
  memset(R.b, 0, 20);
  put16(R.b, 0x0001);
  put32(R.b + 4, NAT_STUN_MAGIC_COOKIE);
  for (int i = 0; i < 12; i++) {
    R.b[8 + i] = (uint8_t)(0xA0 + i);
  }
  R.len = 20;
}

/* Attribute with header length @p alen, @p vlen value bytes (from @p v or
 * 0x41), then zero padding up to 4 unless @p nopad. */
static void r_attr_x(uint16_t type, uint16_t alen, const void *v, size_t vlen,
                     int nopad) {
  put16(R.b + R.len, type);
  put16(R.b + R.len + 2, alen);
  R.len += 4;
  if (v != NULL) {
    memcpy(R.b + R.len, v, vlen);
  } else {
    memset(R.b + R.len, 0x41, vlen);
  }
  R.len += vlen;
  while (!nopad && R.len % 4 != 0) {
    R.b[R.len++] = 0;
  }
}

static void r_attr(uint16_t type, const void *v, size_t len) {
  r_attr_x(type, (uint16_t)len, v, len, 0);
}

static void r_fix(void) {
  put16(R.b + 2, (uint16_t)(R.len - 20));
}

static void r_fp(void) {
  uint8_t v[4];
  put16(R.b + 2, (uint16_t)(R.len + 8 - 20));
  put32(v, crc32_bitwise(R.b, R.len) ^ 0x5354554eu);
  r_attr(0x8028, v, 4);
}

static void r_addr(uint16_t type, uint8_t family, size_t len) {
  uint8_t v[32] = {0, family, 0x12, 0x34, 192, 0, 2, 1};
  r_attr(type, v, len);
}

/* ---- the rows */

static void b_valid(void) {
  r_hdr();
  r_addr(0x0020, 1, 8);
  r_attr(0x8022, "libnat", 6);
  r_fp();
}
static void b_empty(void) {
  R.len = 0;
}
static void b_trunc_header(void) {
  b_valid();
  R.len = 10;
}
static void b_trunc_19(void) {
  r_hdr();
  R.len = 19;
}
static void b_len_not_mult4(void) {
  r_hdr();
  R.b[20] = R.b[21] = 0; /* 2 stray bytes, no attribute explains them */
  R.len = 22;
  r_fix();
}
static void b_len_larger(void) {
  b_valid();
  R.len -= 4; /* the datagram lost its tail */
}
static void b_len_smaller(void) {
  b_valid();
  memset(R.b + R.len, 0, 4);
  R.len += 4; /* trailing bytes the length field does not cover */
}
static void b_top_bit(void) {
  b_valid();
  R.b[0] |= 0x80;
}
static void b_second_bit(void) {
  b_valid();
  R.b[0] |= 0x40;
}
static void b_attr_overrun(void) {
  r_hdr();
  r_attr_x(0x8022, 100, NULL, 8, 0);
  r_fix();
}
static void b_attr_hdr_cut(void) {
  r_hdr();
  r_attr(0x8022, "abcd", 4);
  R.b[R.len++] = 0x80; /* half an attribute header, length field agrees */
  R.b[R.len++] = 0x22;
  r_fix();
}
static void b_missing_padding(void) {
  r_hdr();
  r_attr(0x8022, "abcd", 4);
  r_attr_x(0x0006, 5, "alice", 5, 1); /* last attribute, no padding */
  r_fix();
}
static void b_too_big(void) {
  r_hdr();
  while (R.len + 4 + 1000 <= 65508) {
    r_attr_x(0x0026, 1000, NULL, 1000, 0); /* PADDING */
  }
  r_attr_x(0x0026, (uint16_t)(65508 - R.len - 4), NULL, 65508 - R.len - 4, 0);
  r_fix();
}
static void b_family3(void) {
  r_hdr();
  r_addr(0x0020, 3, 8);
  r_fix();
}
static void b_v4_len20(void) {
  r_hdr();
  r_addr(0x0001, 1, 20);
  r_fix();
}
static void b_v6_len8(void) {
  r_hdr();
  r_addr(0x802C, 2, 8);
  r_fix();
}
static void b_addr_len3(void) {
  r_hdr();
  r_addr(0x0020, 1, 3);
  r_fix();
}
static void b_bad_fp(void) {
  b_valid();
  R.b[R.len - 1] ^= 1;
}
static void b_fp_covers_changed_byte(void) {
  b_valid();
  R.b[9] ^= 0x10; /* transaction ID changed after FINGERPRINT computed */
}
static void b_after_fp(void) {
  b_valid();
  r_attr(0x8022, "late", 4);
  r_fix();
}
static void b_mi_len16(void) {
  r_hdr();
  r_attr(0x0008, NULL, 16);
  r_fix();
}
static void b_mi256_len12(void) {
  r_hdr();
  r_attr(0x001C, NULL, 12);
  r_fix();
}
static void b_mi256_len18(void) {
  r_hdr();
  r_attr(0x001C, NULL, 18);
  r_fix();
}
static void b_mi256_len36(void) {
  r_hdr();
  r_attr(0x001C, NULL, 36);
  r_fix();
}
/* RFC 8489 14.3: receivers must parse up to 763 bytes (RFC 5389 compat) */
static void b_username_764(void) {
  r_hdr();
  r_attr(0x0006, NULL, 764);
  r_fix();
}
static void b_username_763(void) {
  r_hdr();
  r_attr(0x0006, NULL, 763);
  r_fix();
}
static void b_text_764(uint16_t type) {
  r_hdr();
  r_attr(type, NULL, 764);
  r_fix();
}
static void b_realm_764(void) {
  b_text_764(0x0014);
}
static void b_nonce_764(void) {
  b_text_764(0x0015);
}
static void b_software_764(void) {
  b_text_764(0x8022);
}
static void b_software_763(void) {
  r_hdr();
  r_attr(0x8022, NULL, 763);
  r_fix();
}
static void b_error(uint8_t cls, uint8_t num) {
  uint8_t v[8] = {0, 0, cls, num, 'o', 'o', 'p', 's'};
  r_hdr();
  put16(R.b, 0x0111);
  r_attr(0x0009, v, sizeof v);
  r_fix();
}
static void b_error_class7(void) {
  b_error(7, 0);
}
static void b_error_class2(void) {
  b_error(2, 0);
}
static void b_error_num100(void) {
  b_error(4, 100);
}
static void b_error_len3(void) {
  r_hdr();
  r_attr(0x0009, "\0\0\4", 3);
  r_fix();
}
static void b_fixed(uint16_t type, size_t len) {
  r_hdr();
  r_attr(type, NULL, len);
  r_fix();
}
static void b_change_req_8(void) {
  b_fixed(0x0003, 8);
}
static void b_priority_2(void) {
  b_fixed(0x0024, 2);
}
static void b_controlled_4(void) {
  b_fixed(0x8029, 4);
}
static void b_controlling_12(void) {
  b_fixed(0x802A, 12);
}
static void b_use_candidate_4(void) {
  b_fixed(0x0025, 4);
}
static void b_response_port_2(void) {
  b_fixed(0x0027, 2);
}
static void b_fp_len8(void) {
  b_fixed(0x8028, 8);
}
static void b_unknown_attrs_odd(void) {
  b_fixed(0x000A, 3);
}
static void b_userhash_16(void) {
  b_fixed(0x001E, 16);
}
static void b_pwalg_overrun(void) {
  r_hdr();
  r_attr(0x001D, "\0\1\0\x10", 4); /* 16 parameter bytes announced, none */
  r_fix();
}
static void b_n_attrs(size_t n) {
  r_hdr();
  for (size_t i = 0; i < n; i++) {
    r_attr(0x8050, NULL, 0); /* unknown comprehension-optional, empty */
  }
  r_fix();
}
static void b_64_attrs(void) {
  b_n_attrs(NAT_STUN_MAX_ATTRS);
}
static void b_65_attrs(void) {
  b_n_attrs(NAT_STUN_MAX_ATTRS + 1);
}
static void b_2000_attrs(void) {
  b_n_attrs(2000);
}
static void b_64_then_ignored(void) {
  /* 63 attributes + MI, then one more (ignored) still counts */
  r_hdr();
  for (size_t i = 0; i < NAT_STUN_MAX_ATTRS - 1; i++) {
    r_attr(0x8050, NULL, 0);
  }
  r_attr(0x0008, NULL, 20);
  r_attr(0x8022, "x", 1);
  r_fix();
}
static void b_classic_bad_fp(void) {
  /* RFC 3489 has no FINGERPRINT: a wrong one does not fail a classic one */
  b_valid();
  put32(R.b + 4, 0x01020304);
}

#define OK (-1) /* expect success: nat_stun_decode() returns the length */

static const struct row {
  const char *name;
  void (*build)(void);
  int want;
} rows[] = {
    {"valid baseline", b_valid, OK},
    {"empty datagram", b_empty, NAT_ETRUNC},
    {"truncated header (10 bytes)", b_trunc_header, NAT_ETRUNC},
    {"19-byte header", b_trunc_19, NAT_ETRUNC},
    {"length field not multiple of 4", b_len_not_mult4, NAT_EBADLEN},
    {"length larger than datagram", b_len_larger, NAT_ETRUNC},
    {"length smaller than datagram", b_len_smaller, NAT_EBADLEN},
    {"top bit set", b_top_bit, NAT_ENOTSTUN},
    {"second bit set", b_second_bit, NAT_ENOTSTUN},
    {"attribute overrunning the message", b_attr_overrun, NAT_EATTRLEN},
    {"half an attribute header", b_attr_hdr_cut, NAT_EBADLEN},
    {"missing padding at the end", b_missing_padding, NAT_EPADDING},
    {"message over NAT_STUN_MAX_MSG", b_too_big, NAT_EBADLEN},
    {"bad address family 0x03", b_family3, NAT_EBADFAMILY},
    {"IPv4 family with IPv6 length", b_v4_len20, NAT_EBADATTR},
    {"IPv6 family with IPv4 length", b_v6_len8, NAT_EBADATTR},
    {"address attribute of 3 bytes", b_addr_len3, NAT_EBADATTR},
    {"wrong fingerprint", b_bad_fp, NAT_EFINGERPRINT},
    {"byte changed under fingerprint", b_fp_covers_changed_byte,
     NAT_EFINGERPRINT},
    {"attribute after FINGERPRINT", b_after_fp, NAT_EATTRORDER},
    {"MESSAGE-INTEGRITY of 16 bytes", b_mi_len16, NAT_EBADATTR},
    {"MESSAGE-INTEGRITY-SHA256 of 12 bytes", b_mi256_len12, NAT_EBADATTR},
    {"MESSAGE-INTEGRITY-SHA256 of 18 bytes", b_mi256_len18, NAT_EBADATTR},
    {"MESSAGE-INTEGRITY-SHA256 of 36 bytes", b_mi256_len36, NAT_EBADATTR},
    {"USERNAME of 764 bytes", b_username_764, NAT_EBADATTR},
    {"USERNAME of 763 bytes", b_username_763, OK},
    {"REALM of 764 bytes", b_realm_764, NAT_EBADATTR},
    {"NONCE of 764 bytes", b_nonce_764, NAT_EBADATTR},
    {"SOFTWARE of 764 bytes", b_software_764, NAT_EBADATTR},
    {"SOFTWARE of 763 bytes", b_software_763, OK},
    {"ERROR-CODE class 7", b_error_class7, NAT_EBADATTR},
    {"ERROR-CODE class 2", b_error_class2, NAT_EBADATTR},
    {"ERROR-CODE number 100", b_error_num100, NAT_EBADATTR},
    {"ERROR-CODE of 3 bytes", b_error_len3, NAT_EBADATTR},
    {"CHANGE-REQUEST of 8 bytes", b_change_req_8, NAT_EBADATTR},
    {"PRIORITY of 2 bytes", b_priority_2, NAT_EBADATTR},
    {"ICE-CONTROLLED of 4 bytes", b_controlled_4, NAT_EBADATTR},
    {"ICE-CONTROLLING of 12 bytes", b_controlling_12, NAT_EBADATTR},
    {"USE-CANDIDATE of 4 bytes", b_use_candidate_4, NAT_EBADATTR},
    {"RESPONSE-PORT of 2 bytes", b_response_port_2, NAT_EBADATTR},
    {"FINGERPRINT of 8 bytes", b_fp_len8, NAT_EBADATTR},
    {"UNKNOWN-ATTRIBUTES of odd length", b_unknown_attrs_odd, NAT_EBADATTR},
    {"USERHASH of 16 bytes", b_userhash_16, NAT_EBADATTR},
    {"PASSWORD-ALGORITHM params overrun", b_pwalg_overrun, NAT_EBADATTR},
    {"exactly NAT_STUN_MAX_ATTRS attributes", b_64_attrs, OK},
    {"NAT_STUN_MAX_ATTRS + 1 attributes", b_65_attrs, NAT_ETOOMANYATTRS},
    {"2000 zero-length attributes", b_2000_attrs, NAT_ETOOMANYATTRS},
    {"ignored attributes count too", b_64_then_ignored, NAT_ETOOMANYATTRS},
    {"classic message, FINGERPRINT not checked", b_classic_bad_fp, OK},
};

static void test_malformed_table(void **state) {
  nat_stun_msg m;
  (void)state;
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    rows[i].build();
    ssize_t want = rows[i].want == OK ? (ssize_t)R.len : rows[i].want;
    ssize_t got = nat_stun_decode(&m, R.b, R.len);
    if (got != want) {
      fail_msg("row '%s': got %zd (%s), want %zd (%s)", rows[i].name, got,
               nat_err_name((int)got), want, nat_err_name((int)want));
    }
    if (got < 0) {
      assert_int_equal(m.nattrs, 0); /* a failed view holds nothing */
    }
  }
}

static void test_null_args(void **state) {
  nat_stun_msg m;
  (void)state;
  assert_int_equal(nat_stun_decode(&m, NULL, 20), NAT_EINVAL);
  assert_int_equal(nat_stun_decode(NULL, R.b, 20), NAT_EINVAL);
  assert_null(nat_stun_msg_find(NULL, 1));
}

static void test_integrity_mismatch_and_absent(void **state) {
  nat_stun_msg m;
  uint8_t buf[128], tid[12] = {7};
  nat_stun_builder b;
  (void)state;
  nat_stun_builder_init(&b, buf, sizeof buf, 1, 0, tid);
  nat_stun_add_string(&b, NAT_ATTR_USERNAME, "bob");
  nat_stun_add_integrity(&b, (const uint8_t *)"right", 5);
  ssize_t n = nat_stun_builder_finish(&b, true);
  assert_int_equal(nat_stun_decode(&m, buf, (size_t)n), n);
  assert_int_equal(
      nat_stun_msg_check_integrity(&m, (const uint8_t *)"right", 5), 0);
  assert_int_equal(
      nat_stun_msg_check_integrity(&m, (const uint8_t *)"wrong", 5),
      NAT_EINTEGRITY);
  b_valid();
  assert_int_equal(nat_stun_decode(&m, R.b, R.len), (ssize_t)R.len);
  assert_int_equal(nat_stun_msg_check_integrity(&m, (const uint8_t *)"k", 1),
                   NAT_ENOINTEGRITY);
}

/* RFC 8489 14.5/14.6: after MESSAGE-INTEGRITY only MI-SHA256 and
 * FINGERPRINT count; after MI-SHA256 only FINGERPRINT. */
static void test_attrs_after_integrity_ignored(void **state) {
  nat_stun_msg m;
  uint8_t bad_family[8] = {0, 9};
  (void)state;
  r_hdr();
  r_attr(0x0006, "user", 4);
  r_attr(0x0008, NULL, 20);
  r_attr(0x8022, "after MI", 8);
  r_attr(0x0020, bad_family, 8); /* not even validated */
  r_attr(0x001C, NULL, 32);
  r_attr(0x0006, "second", 6);
  r_attr(0x0008, NULL, 20); /* a second MI after MI-SHA256: ignored */
  r_attr(0x7001, NULL, 4);  /* unknown required, but ignored */
  r_fp();
  assert_int_equal(nat_stun_decode(&m, R.b, R.len), (ssize_t)R.len);
  assert_int_equal(m.nattrs, 4);
  assert_null(nat_stun_msg_find(&m, NAT_ATTR_SOFTWARE));
  assert_null(nat_stun_msg_find(&m, NAT_ATTR_XOR_MAPPED_ADDRESS));
  assert_int_equal(m.mi_idx, 1);
  assert_int_equal(m.mi256_idx, 2);
  assert_int_equal(m.fp_idx, 3);
  assert_int_equal(m.nunknown, 0);
  const nat_stun_attr *u = nat_stun_msg_find(&m, NAT_ATTR_USERNAME);
  assert_non_null(u);
  assert_memory_equal(u->value, "user", 4);
  /* but FINGERPRINT is still the end */
  r_attr(0x8022, "x", 1);
  r_fix();
  assert_int_equal(nat_stun_decode(&m, R.b, R.len), NAT_EATTRORDER);
}

static void test_unknown_attributes(void **state) {
  nat_stun_msg m;
  (void)state;
  r_hdr();
  r_attr(0x7F01, "x", 1); /* comprehension-required, unknown */
  r_attr(0x8F02, "y", 1); /* comprehension-optional, unknown */
  r_attr(0x0012, NULL, 8);
  r_attr(0x0006, "known", 5);
  r_fp();
  assert_int_equal(nat_stun_decode(&m, R.b, R.len), (ssize_t)R.len);
  assert_int_equal(m.nunknown, 2);
  assert_int_equal(m.unknown[0], 0x7F01);
  assert_int_equal(m.unknown[1], 0x0012);
  assert_non_null(nat_stun_msg_find(&m, 0x8F02)); /* indexed, not listed */
  /* more than NAT_STUN_MAX_UNKNOWN: all counted, the first kept */
  r_hdr();
  for (uint16_t t = 0; t < NAT_STUN_MAX_UNKNOWN + 4; t++) {
    r_attr((uint16_t)(0x4000 + t), NULL, 0);
  }
  r_fix();
  assert_int_equal(nat_stun_decode(&m, R.b, R.len), (ssize_t)R.len);
  assert_int_equal(m.nunknown, NAT_STUN_MAX_UNKNOWN + 4);
  for (uint16_t t = 0; t < NAT_STUN_MAX_UNKNOWN; t++) {
    assert_int_equal(m.unknown[t], 0x4000 + t);
  }
}

/* Padding bytes are not interpreted: 0x20 or 0xFF padding decodes and the
 * attribute's length excludes it. */
static void test_padding_content_ignored(void **state) {
  nat_stun_msg m;
  (void)state;
  r_hdr();
  r_attr(0x0006, "abcde", 5);
  memset(R.b + R.len - 3, 0xFF, 3);
  r_fp();
  assert_int_equal(nat_stun_decode(&m, R.b, R.len), (ssize_t)R.len);
  assert_int_equal(nat_stun_msg_find(&m, NAT_ATTR_USERNAME)->len, 5);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_malformed_table),
      cmocka_unit_test(test_null_args),
      cmocka_unit_test(test_integrity_mismatch_and_absent),
      cmocka_unit_test(test_attrs_after_integrity_ignored),
      cmocka_unit_test(test_unknown_attributes),
      cmocka_unit_test(test_padding_content_ignored),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
