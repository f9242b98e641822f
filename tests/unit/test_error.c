/* Error codes: every NAT_E* has a distinct value, a name and a message;
 * libuv codes pass through. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>
#include <uv.h>

#include "nat/error.h"

static void test_every_code_named(void **state) {
  static const struct {
    int code;
    const char *name;
    const char *msg;
  } codes[] = {
#define ROW(name, val, msg) {val, "NAT_" #name, msg},
      NAT_ERRNO_MAP(ROW)
#undef ROW
  };
  size_t n = sizeof codes / sizeof codes[0];
  (void)state;
  for (size_t i = 0; i < n; i++) {
    assert_true(codes[i].code <= -5000 && codes[i].code > -6000);
    assert_string_equal(nat_err_name(codes[i].code), codes[i].name);
    assert_string_equal(nat_strerror(codes[i].code), codes[i].msg);
    for (size_t j = i + 1; j < n; j++)
      assert_int_not_equal(codes[i].code, codes[j].code);
  }
}

static void test_passthrough(void **state) {
  (void)state;
  assert_string_equal(nat_err_name(0), "OK");
  assert_string_equal(nat_strerror(0), "success");
  assert_string_equal(nat_err_name(UV_ECONNREFUSED), "UV_ECONNREFUSED");
  assert_string_equal(nat_strerror(UV_ECONNREFUSED), "connection refused");
  assert_string_equal(nat_err_name(UV_EAI_NONAME), "UV_EAI_NONAME");
  assert_string_equal(nat_err_name(-4999), "UNKNOWN");
  assert_string_equal(nat_err_name(-7000), "UNKNOWN");
  assert_string_equal(nat_strerror(-7000), "unknown error");
  assert_string_equal(nat_strerror(42), "unknown error");
  assert_non_null(strstr(nat_strerror(-4999), "nknown"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_every_code_named),
      cmocka_unit_test(test_passthrough),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
