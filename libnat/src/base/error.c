/* Error codes: messages and names generated from NAT_ERRNO_MAP, with
 * libuv's codes passed through to libuv's own messages and names
 * (io/uv_error.c: base/ includes no libuv). */
#include <stdio.h>

#include "io/uv_error.h"
#include "nat/error.h"

#ifndef NAT_VERSION_STRING
#define NAT_VERSION_STRING "0.0.0"
#endif

const char *nat_version_string(void) {
  return NAT_VERSION_STRING;
}

const char *nat_strerror(int err) {
  switch (err) {
  case 0:
    return "success";
#define NAT__ERR_MSG(name, val, msg)                                           \
  case val:                                                                    \
    return msg;
    NAT_ERRNO_MAP(NAT__ERR_MSG)
#undef NAT__ERR_MSG
  default:
    break;
  }
  if (err < 0 && err > -5000) {
    static _Thread_local char msg[80];
    return nat__uv_strerror(err, msg, sizeof msg);
  }
  return "unknown error";
}

const char *nat_err_name(int err) {
  switch (err) {
  case 0:
    return "OK";
#define NAT__ERR_NAME(name, val, msg)                                          \
  case val:                                                                    \
    return "NAT_" #name;
    NAT_ERRNO_MAP(NAT__ERR_NAME)
#undef NAT__ERR_NAME
  default:
    break;
  }
  if (err < 0 && err > -5000) {
    /* libuv names lack the UV_ prefix ("ECONNREFUSED"); unknown codes come
     * back as "Unknown system error N". */
    static _Thread_local char name[48];
    char n[40];
    nat__uv_err_name(err, n, sizeof n);
    if (n[0] == 'E') {
      snprintf(name, sizeof name, "UV_%s", n);
      return name;
    }
  }
  return "UNKNOWN";
}
