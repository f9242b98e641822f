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
  n = nat__punch_blob_encode(&t, map, rtt, NULL, blob, sizeof blob);
  assert_true(n > 0);
  assert_int_equal((size_t)n, strlen(blob));
  return (size_t)n;
}

static int parse(const char *text, int *map, nat_tstamp *rtt, char *why) {
  nat_ticket t;
  return nat__punch_blob_parse(text, strlen(text), &t, map, rtt, NULL, why,
                               200);
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
      nat__punch_blob_parse(blob, n, &back, &map, &rtt, NULL, why, sizeof why),
      0);
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
  assert_non_null(strstr(why, "at most 1151"));
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

/* The birthday fields: encoded as the plan needs them, read back; a value
 * past the hard limits or malformed is refused with a reason. */
static void test_birthday_fields(void **state) {
  nat_ticket t, back;
  nat_bday_side bd, got;
  char text[NAT__PUNCH_BLOB_MAX + 64], why[200];
  int map;
  nat_tstamp rtt;
  ssize_t n;
  static const char *const bad[] = {
      "bd=1025/2048/250/-", /* sockets over 1024 */
      "bd=256/16385/250/-", /* probes over 16384 */
      "bd=256/2048/1001/-", /* rate over 1000 */
      "bd=256/2048/250/x",  /* unknown flag */
      "bd=256/2048/-",      /* too few parts */
      "bd=256/2048/250/",   /* no flags */
      "bd=2a6/2048/250/-",  /* not a number */
      "range=30000-20000",  /* LO > HI */
      "range=0-100",        /* port 0 */
      "range=1-70000",      /* past 65535 */
      "seq=0/4000",         /* a step of 0 */
      "seq=2/70000",        /* past 65535 */
      "alloc=9",            /* no such kind */
  };
  (void)state;
  make_ticket(&t);
  memset(&bd, 0, sizeof bd);
  bd.alloc = 2; /* sequential */
  bd.delta = -3;
  bd.last = 40000;
  bd.lo = 10000;
  bd.hi = 10999;
  bd.sockets = 300;
  bd.probes = 4096;
  bd.rate = 500;
  bd.enabled = true;
  bd.force_dialer = true;
  n = nat__punch_blob_encode(&t, 3, 0, &bd, blob, sizeof blob);
  assert_true(n > 0);
  assert_non_null(strstr(blob, " map=3 alloc=2 seq=-3/40000 range=10000-10999 "
                               "bd=300/4096/500/d"));
  assert_int_equal(nat__punch_blob_parse(blob, (size_t)n, &back, &map, &rtt,
                                         &got, why, sizeof why),
                   0);
  assert_int_equal(got.alloc, 2);
  assert_int_equal(got.delta, -3);
  assert_int_equal(got.last, 40000);
  assert_int_equal(got.lo, 10000);
  assert_int_equal(got.hi, 10999);
  assert_int_equal(got.sockets, 300);
  assert_int_equal(got.probes, 4096);
  assert_int_equal(got.rate, 500);
  assert_true(got.enabled);
  assert_true(got.force_dialer);
  assert_false(got.force_acceptor);
  /* off and both-hard flags */
  bd.enabled = false;
  bd.force_dialer = false;
  bd.allow_both_hard = true;
  n = nat__punch_blob_encode(&t, 3, 0, &bd, blob, sizeof blob);
  assert_non_null(strstr(blob, "/nb"));
  assert_int_equal(nat__punch_blob_parse(blob, (size_t)n, &back, &map, &rtt,
                                         &got, why, sizeof why),
                   0);
  assert_false(got.enabled);
  assert_true(got.allow_both_hard);
  /* a peer that says nothing allows the spray with our defaults */
  encoded(1, 0);
  assert_int_equal(nat__punch_blob_parse(blob, strlen(blob), &back, &map, &rtt,
                                         &got, why, sizeof why),
                   0);
  assert_true(got.enabled);
  assert_int_equal(got.sockets, 0);
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    snprintf(text, sizeof text, "%s map=1 %s", ticket_text, bad[i]);
    assert_int_equal(nat__punch_blob_parse(text, strlen(text), &back, &map,
                                           &rtt, &got, why, sizeof why),
                     NAT_ETICKET);
    assert_non_null(strchr(why, '\''));
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_birthday_fields),
      cmocka_unit_test(test_encode_format),
      cmocka_unit_test(test_round_trip),
      cmocka_unit_test(test_no_fields_and_unknown),
      cmocka_unit_test(test_malformed_fields),
      cmocka_unit_test(test_too_long_and_missing),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
