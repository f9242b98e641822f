/* The rendezvous codec and crypto (rdv_msg.c): key derivation against an
 * independent HKDF computation (Python's hmac/hashlib), code normalisation,
 * sealing and opening (wrong key, wrong room, tampering, reflection
 * material), message round trips for every type, and a table of malformed
 * frames with the exact error each must give. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "nat/error.h"
#include "nat/rdv.h"

static void hex(const char *h, uint8_t *out, size_t n) {
  for (size_t i = 0; i < n; i++) {
    unsigned v;
    assert_int_equal(sscanf(h + 2 * i, "%2x", &v), 1);
    out[i] = (uint8_t)v;
  }
}

/* ---------------------------------------------------------------- keys */

static void test_keys_vector(void **state) {
  nat_rdv_keys k;
  uint8_t join[32], key[32], room[16];
  (void)state;
  /* python3: hkdf(b"abcde12345", salt=b"libnat-rdv-v1", info=b"join"), ... */
  hex("b7142a020341ffc420b0c72ccc7f6f6f941b2b8a6fe909bc0f005de733f4fb4a", join,
      32);
  hex("2f866bb82b6c9f2c631e6f19631c622ec73b500fc5ace71c64c3b57d9d54bc77", key,
      32);
  hex("c6e69522c6109a90041361c462edede1", room, 16);
  assert_int_equal(nat_rdv_keys_derive(&k, "ABCDE-12345"), 0);
  assert_memory_equal(k.join, join, 32);
  assert_memory_equal(k.key, key, 32);
  assert_memory_equal(k.room_id, room, 16);
  assert_true(nat_rdv_join_check(k.room_id, k.join));
  k.join[5] ^= 1;
  assert_false(nat_rdv_join_check(k.room_id, k.join));
}

static void test_keys_normalise(void **state) {
  nat_rdv_keys a, b;
  (void)state;
  assert_int_equal(nat_rdv_keys_derive(&a, "abcde-fghij"), 0);
  assert_int_equal(nat_rdv_keys_derive(&b, " ABCDE FGH1J "), 0);
  assert_memory_equal(&a, &b, sizeof a);
  assert_int_equal(nat_rdv_keys_derive(&b, "abcde.fghIj"), 0);
  assert_memory_equal(&a, &b, sizeof a);
  assert_int_equal(nat_rdv_keys_derive(&a, "hello0world"), 0);
  assert_int_equal(nat_rdv_keys_derive(&b, "HELLO-OWORLD"), 0);
  assert_memory_equal(&a, &b, sizeof a);
  assert_int_equal(nat_rdv_keys_derive(&b, "abcde-fghik"), 0);
  assert_memory_not_equal(a.room_id, b.room_id, 16);
  assert_memory_not_equal(a.key, b.key, 32);
  /* too short, control characters, too long, NULL */
  assert_int_equal(nat_rdv_keys_derive(&a, "abc-def"), NAT_EINVAL);
  assert_int_equal(nat_rdv_keys_derive(&a, "- - - - - - - - - -"), NAT_EINVAL);
  assert_int_equal(nat_rdv_keys_derive(&a, "abcde\nfghij"), NAT_EINVAL);
  char big[200];
  memset(big, 'x', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  assert_int_equal(nat_rdv_keys_derive(&a, big), NAT_EINVAL);
  assert_int_equal(nat_rdv_keys_derive(&a, NULL), NAT_EINVAL);
  assert_int_equal(nat_rdv_keys_derive(NULL, "abcdefghij"), NAT_EINVAL);
}

static void fixed_rand(void *ctx, uint8_t *buf, size_t len) {
  unsigned *seed = ctx;
  for (size_t i = 0; i < len; i++)
    buf[i] = (uint8_t)(*seed += 37);
}

static void test_code_new(void **state) {
  char code[NAT_RDV_CODE_BUFLEN], code2[NAT_RDV_CODE_BUFLEN];
  unsigned seed = 1;
  nat_rdv_keys k;
  (void)state;
  assert_int_equal(nat_rdv_code_new(code, sizeof code, fixed_rand, &seed), 0);
  assert_int_equal(strlen(code), 11);
  assert_int_equal(code[5], '-');
  for (int i = 0; i < 11; i++)
    if (i != 5)
      assert_non_null(strchr("0123456789abcdefghjkmnpqrstvwxyz", code[i]));
  assert_int_equal(nat_rdv_keys_derive(&k, code), 0);
  assert_int_equal(nat_rdv_code_new(code2, sizeof code2, NULL, NULL), 0);
  assert_int_equal(nat_rdv_code_new(code2, 11, NULL, NULL), NAT_ENOBUFS);
  assert_int_equal(nat_rdv_code_new(NULL, 12, NULL, NULL), NAT_EINVAL);
}

/* -------------------------------------------------------------- sealing */

static void test_seal_open(void **state) {
  nat_rdv_keys k, other, moved;
  uint8_t nonce[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, got[12];
  uint8_t sealed[NAT_RDV_MAX_SEALED + 8], pt[NAT_RDV_MAX_BLOB];
  const char *msg = "candidates and a pin";
  size_t len = strlen(msg);
  ssize_t n;
  (void)state;
  assert_int_equal(nat_rdv_keys_derive(&k, "room-code-one"), 0);
  assert_int_equal(nat_rdv_keys_derive(&other, "room-code-two"), 0);
  n = nat_rdv_seal(&k, nonce, (const uint8_t *)msg, len, sealed, sizeof sealed);
  assert_int_equal(n, (ssize_t)(len + NAT_RDV_SEAL_OVERHEAD));
  assert_int_equal(sealed[0], 1);
  assert_memory_equal(sealed + 1, nonce, 12);
  assert_null(memmem(sealed, (size_t)n, "pin", 3)); /* encrypted */
  assert_int_equal(nat_rdv_open(&k, sealed, (size_t)n, pt, sizeof pt, got),
                   (ssize_t)len);
  assert_memory_equal(pt, msg, len);
  assert_memory_equal(got, nonce, 12);
  /* another code */
  assert_int_equal(nat_rdv_open(&other, sealed, (size_t)n, pt, sizeof pt, NULL),
                   NAT_EROOMSECRET);
  /* the same K bound to another room (AAD) */
  moved = k;
  moved.room_id[0] ^= 0x80;
  assert_int_equal(nat_rdv_open(&moved, sealed, (size_t)n, pt, sizeof pt, NULL),
                   NAT_EROOMSECRET);
  /* every byte matters */
  for (size_t i = 1; i < (size_t)n; i++) {
    sealed[i] ^= 0x01;
    assert_int_equal(nat_rdv_open(&k, sealed, (size_t)n, pt, sizeof pt, NULL),
                     NAT_EROOMSECRET);
    sealed[i] ^= 0x01;
  }
  sealed[0] = 2;
  assert_int_equal(nat_rdv_open(&k, sealed, (size_t)n, pt, sizeof pt, NULL),
                   NAT_ERDVMSG);
  sealed[0] = 1;
  assert_int_equal(nat_rdv_open(&k, sealed, 28, pt, sizeof pt, NULL),
                   NAT_ERDVMSG);
  assert_int_equal(nat_rdv_open(&k, sealed, (size_t)n, pt, 3, NULL),
                   NAT_ENOBUFS);
  /* empty and largest blobs */
  n = nat_rdv_seal(&k, nonce, NULL, 0, sealed, sizeof sealed);
  assert_int_equal(n, NAT_RDV_SEAL_OVERHEAD);
  assert_int_equal(nat_rdv_open(&k, sealed, (size_t)n, pt, sizeof pt, NULL), 0);
  memset(pt, 0xab, sizeof pt);
  n = nat_rdv_seal(&k, nonce, pt, NAT_RDV_MAX_BLOB, sealed, sizeof sealed);
  assert_int_equal(n, NAT_RDV_MAX_SEALED);
  assert_int_equal(
      nat_rdv_seal(&k, nonce, pt, NAT_RDV_MAX_BLOB + 1, sealed, sizeof sealed),
      NAT_EINVAL);
  assert_int_equal(nat_rdv_seal(&k, nonce, pt, 10, sealed, 38), NAT_ENOBUFS);
}

/* ------------------------------------------------------------- messages */

static nat_rdv_msg roundtrip(const nat_rdv_msg *m, uint8_t *buf, size_t cap) {
  nat_rdv_msg d;
  ssize_t n = nat_rdv_msg_encode(m, buf, cap);
  assert_true(n >= 3);
  assert_int_equal(nat_rdv_frame_len(buf, (size_t)n), n);
  assert_int_equal(nat_rdv_msg_decode(&d, buf, (size_t)n), n);
  assert_int_equal(d.type, m->type);
  /* every proper prefix is truncated */
  for (size_t i = 0; i < (size_t)n; i++) {
    nat_rdv_msg t;
    assert_int_equal(nat_rdv_msg_decode(&t, buf, i), NAT_ERDVTRUNC);
  }
  return d;
}

static void test_msg_roundtrip(void **state) {
  uint8_t buf[NAT_RDV_MAX_MSG], data[NAT_RDV_MAX_SEALED];
  nat_rdv_msg m, d;
  (void)state;
  memset(&m, 0, sizeof m);
  m.type = NAT_RDV_HELLO;
  memset(m.room_id, 0x11, sizeof m.room_id);
  memset(m.join, 0x22, sizeof m.join);
  d = roundtrip(&m, buf, sizeof buf);
  assert_memory_equal(d.room_id, m.room_id, 16);
  assert_memory_equal(d.join, m.join, 32);

  memset(&m, 0, sizeof m);
  m.type = NAT_RDV_SEEN;
  assert_int_equal(nat_addr_parse(&m.addr, "198.51.100.2:40000", 0), 0);
  d = roundtrip(&m, buf, sizeof buf);
  assert_true(nat_addr_equal(&d.addr, &m.addr));
  assert_int_equal(nat_addr_parse(&m.addr, "[2001:db8::7]:65535", 0), 0);
  d = roundtrip(&m, buf, sizeof buf);
  assert_true(nat_addr_equal(&d.addr, &m.addr));

  memset(data, 0x5a, sizeof data);
  for (int t = NAT_RDV_BLOB; t <= NAT_RDV_PEER; t++) {
    memset(&m, 0, sizeof m);
    m.type = (uint8_t)t;
    m.data = data;
    m.data_len = sizeof data; /* the largest */
    d = roundtrip(&m, buf, sizeof buf);
    assert_int_equal(d.data_len, sizeof data);
    assert_ptr_equal(d.data, buf + 6); /* a view: zero-copy */
    m.data_len = 1;
    d = roundtrip(&m, buf, sizeof buf);
    assert_int_equal(d.data_len, 1);
  }

  memset(&m, 0, sizeof m);
  m.type = NAT_RDV_ERROR;
  m.code = NAT_RDV_ERR_ROOM_FULL;
  m.text = "room full (2 peers)";
  m.text_len = strlen(m.text);
  d = roundtrip(&m, buf, sizeof buf);
  assert_int_equal(d.code, NAT_RDV_ERR_ROOM_FULL);
  assert_int_equal(d.text_len, m.text_len);
  assert_memory_equal(d.text, m.text, m.text_len);
  m.text = NULL;
  m.text_len = 0;
  d = roundtrip(&m, buf, sizeof buf);
  assert_int_equal(d.text_len, 0);

  memset(&m, 0, sizeof m);
  m.type = NAT_RDV_BYE;
  d = roundtrip(&m, buf, sizeof buf);
  assert_int_equal(nat_rdv_msg_encode(&m, buf, sizeof buf), 3);
}

static void test_msg_encode_refuses(void **state) {
  uint8_t buf[NAT_RDV_MAX_MSG], data[NAT_RDV_MAX_SEALED + 1] = {0};
  nat_rdv_msg m;
  (void)state;
  memset(&m, 0, sizeof m);
  m.type = 9;
  assert_int_equal(nat_rdv_msg_encode(&m, buf, sizeof buf), NAT_EINVAL);
  m.type = NAT_RDV_SEEN; /* no family */
  assert_int_equal(nat_rdv_msg_encode(&m, buf, sizeof buf), NAT_EINVAL);
  m.type = NAT_RDV_BLOB;
  m.data = data;
  assert_int_equal(nat_rdv_msg_encode(&m, buf, sizeof buf), NAT_EINVAL);
  m.data_len = sizeof data;
  assert_int_equal(nat_rdv_msg_encode(&m, buf, sizeof buf), NAT_EINVAL);
  m.data_len = 10;
  assert_int_equal(nat_rdv_msg_encode(&m, buf, 12), NAT_ENOBUFS);
  memset(&m, 0, sizeof m);
  m.type = NAT_RDV_ERROR;
  m.text = "bad\ntext";
  m.text_len = 8;
  assert_int_equal(nat_rdv_msg_encode(&m, buf, sizeof buf), NAT_EINVAL);
}

/* Malformed frames: bytes and the error each must give. */
typedef struct bad {
  const char *what;
  const uint8_t *b;
  size_t len;
  int err;
} bad;

#define B(...)                                                                 \
  (const uint8_t[]){__VA_ARGS__}, sizeof((const uint8_t[]){__VA_ARGS__})

static void test_msg_malformed(void **state) {
  uint8_t hello_long_room[58] = {0, 56, 1, 1, 0, 17};
  uint8_t huge[4] = {0x04, 0xb0, 3, 0}; /* 1200 + 2 > cap */
  const bad table[] = {
      {"empty buffer", (const uint8_t[]){0}, 0, NAT_ERDVTRUNC},
      {"one byte", (const uint8_t[]){0}, 1, NAT_ERDVTRUNC},
      {"zero-length frame", B(0, 0), NAT_ERDVMSG},
      {"frame past the data", B(0, 5, 6), NAT_ERDVTRUNC},
      {"over the cap", huge, sizeof huge, NAT_ERDVSIZE},
      {"type 0", B(0, 1, 0), NAT_ERDVTYPE},
      {"type 7", B(0, 1, 7), NAT_ERDVTYPE},
      {"type 255", B(0, 1, 255), NAT_ERDVTYPE},
      {"HELLO without fields", B(0, 1, 1), NAT_ERDVMSG},
      {"HELLO room ID too long", hello_long_room, sizeof hello_long_room,
       NAT_ERDVMSG},
      {"BYE with a field", B(0, 6, 6, 5, 0, 2, 0, 1), NAT_ERDVMSG},
      {"field header cut", B(0, 3, 6, 5, 0), NAT_ERDVTRUNC},
      {"field past the frame", B(0, 5, 5, 5, 0, 3, 0), NAT_ERDVTRUNC},
      {"ERROR code 1 byte", B(0, 5, 5, 5, 0, 1, 9), NAT_ERDVMSG},
      {"ERROR without code", B(0, 5, 5, 6, 0, 1, 'x'), NAT_ERDVMSG},
      {"ERROR code twice", B(0, 11, 5, 5, 0, 2, 0, 1, 5, 0, 2, 0, 1),
       NAT_ERDVMSG},
      {"ERROR unprintable text", B(0, 10, 5, 5, 0, 2, 0, 1, 6, 0, 1, 7),
       NAT_ERDVMSG},
      {"unknown field 9", B(0, 10, 5, 5, 0, 2, 0, 1, 9, 0, 1, 7), NAT_ERDVMSG},
      {"field type 200", B(0, 10, 5, 5, 0, 2, 0, 1, 200, 0, 1, 7), NAT_ERDVMSG},
      {"SEEN family 3", B(0, 11, 2, 3, 0, 7, 3, 0, 80, 1, 2, 3, 4),
       NAT_ERDVMSG},
      {"SEEN v4 with 16 bytes",
       B(0, 23, 2, 3, 0, 19, 1, 0, 80, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
         13, 14, 15, 16),
       NAT_ERDVMSG},
      {"SEEN v6 with 4 bytes", B(0, 11, 2, 3, 0, 7, 2, 0, 80, 1, 2, 3, 4),
       NAT_ERDVMSG},
      {"SEEN addr 2 bytes", B(0, 6, 2, 3, 0, 2, 1, 0), NAT_ERDVMSG},
      {"BLOB empty data", B(0, 4, 3, 4, 0, 0), NAT_ERDVMSG},
      {"PEER with a room ID",
       B(0, 24, 4, 1, 0, 16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4,
         0, 1, 9),
       NAT_ERDVMSG},
      {"SEEN addr (HELLO field) in BLOB",
       B(0, 11, 3, 3, 0, 7, 1, 0, 80, 1, 2, 3, 4), NAT_ERDVMSG},
  };
  (void)state;
  hello_long_room[6 + 17] = 2; /* JOIN field after a 17-byte room ID */
  hello_long_room[6 + 19] = 32;
  for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
    nat_rdv_msg m;
    ssize_t rc = nat_rdv_msg_decode(&m, table[i].b, table[i].len);
    if (rc != table[i].err)
      fail_msg("%s: got %s, want %s", table[i].what, nat_err_name((int)rc),
               nat_err_name(table[i].err));
  }
  assert_int_equal(nat_rdv_msg_decode(NULL, huge, 4), NAT_EINVAL);
}

static void test_frames_in_a_stream(void **state) {
  uint8_t buf[256];
  size_t len = 0, off = 0;
  nat_rdv_msg m;
  int types[3] = {NAT_RDV_SEEN, NAT_RDV_BYE, NAT_RDV_ERROR};
  (void)state;
  for (int i = 0; i < 3; i++) {
    memset(&m, 0, sizeof m);
    m.type = (uint8_t)types[i];
    nat_addr_set_v4(&m.addr, 0x7f000001, 4242);
    m.code = 7;
    ssize_t n = nat_rdv_msg_encode(&m, buf + len, sizeof buf - len);
    assert_true(n > 0);
    len += (size_t)n;
  }
  assert_int_equal(nat_rdv_frame_len(buf, 1), 0);
  for (int i = 0; i < 3; i++) {
    ssize_t n = nat_rdv_msg_decode(&m, buf + off, len - off);
    assert_true(n > 0);
    assert_int_equal(m.type, types[i]);
    off += (size_t)n;
  }
  assert_int_equal(off, len);
  assert_string_equal(nat_rdv_type_name(NAT_RDV_PEER), "PEER");
  assert_string_equal(nat_rdv_type_name(99), "?");
  assert_string_equal(nat_rdv_strerror(NAT_RDV_ERR_ROOM_FULL), "room full");
  assert_string_equal(nat_strerror(NAT_EROOMSECRET),
                      "wrong room secret: the peer's data failed "
                      "authentication");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_keys_vector),
      cmocka_unit_test(test_keys_normalise),
      cmocka_unit_test(test_code_new),
      cmocka_unit_test(test_seal_open),
      cmocka_unit_test(test_msg_roundtrip),
      cmocka_unit_test(test_msg_encode_refuses),
      cmocka_unit_test(test_msg_malformed),
      cmocka_unit_test(test_frames_in_a_stream),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
