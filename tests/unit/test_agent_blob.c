/* Unit tests: the punch agent's blob (src/punch/agent_blob.c): our
 * ticket's text, then " map=N" and " rtt=N"; a strict parser that skips
 * unknown fields. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "nat/error.h"
#include "punch/agent_core.h"

static void fixed_rand(void *ctx, uint8_t *buf, size_t len) {
  (void)ctx;
  for (size_t i = 0; i < len; i++)
    buf[i] = (uint8_t)(i * 7 + 3);
}

static void make_ticket(nat_ticket *t) {
  nat_cand c;
  nat_addr a;
  assert_int_equal(nat_ticket_init_random(t, fixed_rand, NULL), 0);
  assert_int_equal(nat_addr_parse(&a, "198.51.100.7:4000", 0), 0);
  assert_int_equal(nat_cand_make(&c, NAT_CAND_SRFLX, &a, &a, NULL, 65535), 0);
  assert_int_equal(nat_ticket_add_cand(t, &c), 0);
}

static char blob[NAT__PUNCH_BLOB_MAX];
static char ticket_text[NAT_TICKET_TEXT_MAX];

static size_t encoded(int map, nat_tstamp rtt) {
  nat_ticket t;
  ssize_t n;
  make_ticket(&t);
  assert_true(nat_ticket_encode(&t, ticket_text, sizeof ticket_text) > 0);
  n = nat__punch_blob_encode(&t, map, rtt, blob, sizeof blob);
  assert_true(n > 0);
  assert_int_equal((size_t)n, strlen(blob));
  return (size_t)n;
}

static int parse(const char *text, int *map, nat_tstamp *rtt, char *why) {
  nat_ticket t;
  return nat__punch_blob_parse(text, strlen(text), &t, map, rtt, why, 200);
}

static void test_encode_format(void **state) {
  char want[NAT__PUNCH_BLOB_MAX];
  (void)state;
  encoded(3, 0);
  snprintf(want, sizeof want, "%s map=3", ticket_text);
  assert_string_equal(blob, want);
  /* 20.2 ms rounds up to 21 ms */
  encoded(-1, 20 * NAT_MILLISECONDS + 200000);
  snprintf(want, sizeof want, "%s map=-1 rtt=21", ticket_text);
  assert_string_equal(blob, want);
}

static void test_round_trip(void **state) {
  nat_ticket t, back;
  int map;
  nat_tstamp rtt;
  char why[200];
  size_t n;
  (void)state;
  n = encoded(2, 37 * NAT_MILLISECONDS);
  make_ticket(&t);
  assert_int_equal(
      nat__punch_blob_parse(blob, n, &back, &map, &rtt, why, sizeof why), 0);
  assert_int_equal(map, 2);
  assert_int_equal(rtt, 37 * NAT_MILLISECONDS);
  assert_memory_equal(back.pin, t.pin, NAT_TICKET_PIN_LEN);
  assert_string_equal(back.ufrag, t.ufrag);
  assert_int_equal(back.ncands, 1);
  assert_int_equal(back.cands[0].addr.port, 4000);
}

static void test_no_fields_and_unknown(void **state) {
  char text[NAT__PUNCH_BLOB_MAX + 64], why[200];
  int map;
  nat_tstamp rtt;
  (void)state;
  encoded(1, 0);
  /* a bare ticket (ticket text only): mapping unknown, no rtt */
  assert_int_equal(parse(ticket_text, &map, &rtt, why), 0);
  assert_int_equal(map, -1);
  assert_int_equal(rtt, 0);
  /* unknown fields before and after the known ones are skipped */
  snprintf(text, sizeof text, "%s via=relay map=1 x rtt=9 later=1,2",
           ticket_text);
  assert_int_equal(parse(text, &map, &rtt, why), 0);
  assert_int_equal(map, 1);
  assert_int_equal(rtt, 9 * NAT_MILLISECONDS);
}

static void test_malformed_fields(void **state) {
  static const char *const bad[] = {
      "map=x",  "map=4",  "map=-2",      "map=",         "map=12", "rtt=",
      "rtt=1a", "rtt=-5", "rtt=1234567", "map=1  rtt=3", "map=1 "};
  char text[NAT__PUNCH_BLOB_MAX + 64], why[200];
  int map;
  nat_tstamp rtt;
  (void)state;
  encoded(1, 0);
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    why[0] = '\0';
    snprintf(text, sizeof text, "%s %s", ticket_text, bad[i]);
    assert_int_equal(parse(text, &map, &rtt, why), NAT_ETICKET);
    assert_non_null(strstr(why, "malformed peer blob"));
  }
  snprintf(text, sizeof text, "%s rtt=1a", ticket_text);
  (void)parse(text, &map, &rtt, why);
  assert_non_null(strstr(why, "'rtt=1a'"));
}

static void test_too_long_and_missing(void **state) {
  char text[NAT__PUNCH_BLOB_MAX + 64], why[200];
  int map;
  nat_tstamp rtt;
  size_t n;
  (void)state;
  encoded(1, 0);
  n = (size_t)snprintf(text, sizeof text, "%s map=1 pad=", ticket_text);
  memset(text + n, 'z', sizeof text - n - 1);
  text[sizeof text - 1] = '\0';
  assert_int_equal(parse(text, &map, &rtt, why), NAT_ETICKET);
  assert_non_null(strstr(why, "at most 1087"));
  /* empty, and fields without a ticket */
  assert_int_equal(parse("", &map, &rtt, why), NAT_ETICKET);
  assert_non_null(strstr(why, "empty"));
  assert_int_equal(parse(" map=1 rtt=3", &map, &rtt, why), NAT_ETICKET);
  assert_int_equal(parse("hello map=1", &map, &rtt, why), NAT_ETICKET);
  /* a damaged ticket: the ticket decoder's message */
  text[0] = '\0';
  snprintf(text, sizeof text, "%s map=1", ticket_text);
  text[10] = text[10] == 'A' ? 'B' : 'A';
  assert_int_equal(parse(text, &map, &rtt, why), NAT_ETICKET);
  assert_null(strstr(why, "malformed peer blob"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_encode_format),
      cmocka_unit_test(test_round_trip),
      cmocka_unit_test(test_no_fields_and_unknown),
      cmocka_unit_test(test_malformed_fields),
      cmocka_unit_test(test_too_long_and_missing),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
