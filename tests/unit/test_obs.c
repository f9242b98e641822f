/* The observation log: nat_obslog growth and access, nat_obs_from_result()
 * reading real encoded responses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "nat/error.h"
#include "nat/obs.h"
#include "nat/stun.h"
#include "nat/txn.h"

static const uint8_t tid[NAT_STUN_TID_LEN] = {1, 2, 3, 4,  5,  6,
                                              7, 8, 9, 10, 11, 12};

static nat_addr addr(const char *s) {
  nat_addr a;
  assert_int_equal(nat_addr_parse(&a, s, 0), 0);
  return a;
}

/* A result for a response encoded into @p buf and decoded into @p m. */
static void make_result(nat_txn_result *r, nat_stun_msg *m, uint8_t *buf,
                        ssize_t len) {
  assert_true(len > 0);
  assert_int_equal(nat_stun_decode(m, buf, (size_t)len), len);
  memset(r, 0, sizeof *r);
  r->status = 0;
  r->response = m;
  r->from = addr("198.51.100.1:3478");
  r->dst = addr("198.51.100.1:3478");
  r->rtt = 12 * NAT_MILLISECONDS;
  r->transmissions = 2;
}

static void test_obslog_grows_and_indexes(void **state) {
  nat_obslog log;
  nat_obs o;
  size_t i;
  (void)state;
  nat_obslog_init(&log);
  assert_int_equal(nat_obslog_count(&log), 0);
  assert_null(nat_obslog_at(&log, 0));
  memset(&o, 0, sizeof o);
  for (i = 0; i < 1000; i++) {
    o.server_idx = (uint16_t)i;
    o.rtt = (nat_tstamp)i * 7;
    assert_int_equal(nat_obslog_append(&log, &o), 0);
  }
  assert_int_equal(nat_obslog_count(&log), 1000);
  for (i = 0; i < 1000; i++) {
    const nat_obs *p = nat_obslog_at(&log, i);
    assert_non_null(p);
    assert_int_equal(p->server_idx, i);
    assert_int_equal(p->rtt, i * 7);
  }
  assert_null(nat_obslog_at(&log, 1000));
  nat_obslog_free(&log);
  assert_int_equal(nat_obslog_count(&log), 0);
  assert_null(nat_obslog_at(&log, 0));
  /* usable again after free */
  assert_int_equal(nat_obslog_append(&log, &o), 0);
  assert_int_equal(nat_obslog_count(&log), 1);
  nat_obslog_free(&log);
  nat_obslog_free(NULL);
}

static void test_obslog_bad_args(void **state) {
  nat_obslog log;
  nat_obs o;
  (void)state;
  nat_obslog_init(&log);
  memset(&o, 0, sizeof o);
  assert_int_equal(nat_obslog_append(NULL, &o), NAT_EINVAL);
  assert_int_equal(nat_obslog_append(&log, NULL), NAT_EINVAL);
  assert_int_equal(nat_obslog_count(NULL), 0);
  assert_null(nat_obslog_at(NULL, 0));
  assert_int_equal(nat_obs_from_result(NULL, NULL, NULL), NAT_EINVAL);
  assert_int_equal(nat_obs_from_result(&o, NULL, NULL), NAT_EINVAL);
}

static void test_from_rfc5780_response(void **state) {
  uint8_t buf[512];
  nat_stun_builder b;
  nat_stun_msg m;
  nat_txn_result r;
  nat_obs o;
  nat_addr mapped = addr("203.0.113.7:40001");
  nat_addr origin = addr("198.51.100.1:3478");
  nat_addr other = addr("198.51.100.2:3479");
  nat_addr local = addr("192.0.2.10:5555");
  (void)state;
  assert_int_equal(nat_stun_builder_init(&b, buf, sizeof buf, NAT_STUN_BINDING,
                                         NAT_STUN_SUCCESS, tid),
                   0);
  nat_stun_add_addr(&b, NAT_ATTR_XOR_MAPPED_ADDRESS, &mapped);
  nat_stun_add_addr(&b, NAT_ATTR_RESPONSE_ORIGIN, &origin);
  nat_stun_add_addr(&b, NAT_ATTR_OTHER_ADDRESS, &other);
  nat_stun_add_string(&b, NAT_ATTR_SOFTWARE, "Coturn-4.6.1 'Gorst'");
  make_result(&r, &m, buf, nat_stun_builder_finish(&b, true));

  memset(&o, 0xAB, sizeof o); /* every field must be overwritten */
  assert_int_equal(nat_obs_from_result(&o, &r, &local), 0);
  assert_int_equal(o.status, 0);
  assert_true(nat_addr_equal(&o.local, &local));
  assert_true(nat_addr_equal(&o.server, &r.dst));
  assert_true(nat_addr_equal(&o.from, &r.from));
  assert_true(o.has_mapped);
  assert_true(nat_addr_equal(&o.mapped, &mapped));
  assert_true(o.has_response_origin);
  assert_true(nat_addr_equal(&o.response_origin, &origin));
  assert_true(o.has_other_address);
  assert_true(nat_addr_equal(&o.other_address, &other));
  assert_false(o.has_changed_address);
  assert_string_equal(o.software, "Coturn-4.6.1 'Gorst'");
  assert_int_equal(o.rtt, 12 * NAT_MILLISECONDS);
  assert_int_equal(o.transmissions, 2);
  assert_int_equal(o.error_code, 0);
  assert_string_equal(o.error_reason, "");
  assert_int_equal(o.server_idx, 0);
  assert_int_equal(o.test, NAT_OBS_BASIC);
  assert_int_equal(o.change_flags, 0);
  assert_int_equal(o.sent_at, 0);
  assert_int_equal(nat_obs_family(&o), NAT_AF_INET);
}

static void test_from_classic_response(void **state) {
  uint8_t buf[512];
  uint8_t tid16[16] = {9, 9, 9, 9, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
  nat_stun_builder b;
  nat_stun_msg m;
  nat_txn_result r;
  nat_obs o;
  nat_addr mapped = addr("203.0.113.7:40001");
  nat_addr changed = addr("198.51.100.2:3479");
  (void)state;
  assert_int_equal(nat_stun_builder_init_classic(&b, buf, sizeof buf,
                                                 NAT_STUN_BINDING,
                                                 NAT_STUN_SUCCESS, tid16),
                   0);
  nat_stun_add_addr(&b, NAT_ATTR_MAPPED_ADDRESS, &mapped);
  nat_stun_add_addr(&b, NAT_ATTR_CHANGED_ADDRESS, &changed);
  make_result(&r, &m, buf, nat_stun_builder_finish(&b, false));
  assert_int_equal(nat_obs_from_result(&o, &r, NULL), 0);
  assert_int_equal(o.status, 0);
  assert_int_equal(o.local.family, NAT_AF_NONE);
  assert_true(o.has_mapped);
  assert_true(nat_addr_equal(&o.mapped, &mapped));
  assert_true(o.has_changed_address);
  assert_true(nat_addr_equal(&o.changed_address, &changed));
  assert_false(o.has_other_address);
  assert_false(o.has_response_origin);
  assert_string_equal(o.software, "");
}

static void test_from_error_response(void **state) {
  uint8_t buf[512];
  nat_stun_builder b;
  nat_stun_msg m;
  nat_txn_result r;
  nat_obs o;
  char longsw[200];
  (void)state;
  memset(longsw, 'x', sizeof longsw - 1);
  longsw[sizeof longsw - 1] = '\0';
  longsw[3] = '\n'; /* control bytes are not copied raw */
  assert_int_equal(nat_stun_builder_init(&b, buf, sizeof buf, NAT_STUN_BINDING,
                                         NAT_STUN_ERROR, tid),
                   0);
  nat_stun_add_error(&b, 420, "Unknown Attribute");
  nat_stun_add_string(&b, NAT_ATTR_SOFTWARE, longsw);
  make_result(&r, &m, buf, nat_stun_builder_finish(&b, true));
  assert_int_equal(nat_obs_from_result(&o, &r, NULL), 0);
  assert_int_equal(o.status, NAT_ESTUNERR);
  assert_int_equal(o.error_code, 420);
  assert_string_equal(o.error_reason, "Unknown Attribute");
  assert_false(o.has_mapped);
  assert_int_equal(strlen(o.software), NAT_OBS_SOFTWARE_LEN - 1);
  assert_int_equal(o.software[3], '?');
  assert_int_equal(o.software[4], 'x');
}

static void test_from_timeout(void **state) {
  nat_txn_result r;
  nat_obs o;
  nat_addr local = addr("[2001:db8::5]:6000");
  (void)state;
  memset(&r, 0, sizeof r);
  r.status = NAT_ETIMEDOUT;
  r.dst = addr("[2001:db8::1]:3478");
  r.rtt = 2750 * NAT_MILLISECONDS;
  r.transmissions = 4;
  assert_int_equal(nat_obs_from_result(&o, &r, &local), 0);
  assert_int_equal(o.status, NAT_ETIMEDOUT);
  assert_int_equal(o.transmissions, 4);
  assert_int_equal(o.rtt, 0); /* no response: no RTT */
  assert_false(o.has_mapped);
  assert_int_equal(o.from.family, NAT_AF_NONE);
  assert_int_equal(nat_obs_family(&o), NAT_AF_INET6);
  r.status = NAT_ECANCELED;
  assert_int_equal(nat_obs_from_result(&o, &r, &local), 0);
  assert_int_equal(o.status, NAT_ECANCELED);
  /* "success" without a message is not taken as an answer */
  r.status = 0;
  r.response = NULL;
  assert_int_equal(nat_obs_from_result(&o, &r, &local), 0);
  assert_int_equal(o.status, NAT_EINVAL);
  assert_false(o.has_mapped);
}

static void test_family_and_names(void **state) {
  nat_obs o;
  (void)state;
  memset(&o, 0, sizeof o);
  assert_int_equal(nat_obs_family(&o), NAT_AF_NONE);
  assert_int_equal(nat_obs_family(NULL), NAT_AF_NONE);
  o.local = addr("192.0.2.1:1");
  assert_int_equal(nat_obs_family(&o), NAT_AF_INET);
  assert_string_equal(nat_obs_test_name(NAT_OBS_BASIC), "basic");
  assert_string_equal(nat_obs_test_name(NAT_OBS_FILTERING), "filtering");
  assert_string_equal(nat_obs_test_name(NAT_OBS_ALLOCATION), "allocation");
  assert_string_equal(nat_obs_test_name(200), "unknown");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_obslog_grows_and_indexes),
      cmocka_unit_test(test_obslog_bad_args),
      cmocka_unit_test(test_from_rfc5780_response),
      cmocka_unit_test(test_from_classic_response),
      cmocka_unit_test(test_from_error_response),
      cmocka_unit_test(test_from_timeout),
      cmocka_unit_test(test_family_and_names),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
