/* libuv's messages and names for the libuv codes nat_strerror() and
 * nat_err_name() pass through (see io/uv_error.h). */
#include <uv.h>

#include "io/uv_error.h"

const char *nat__uv_strerror(int err, char *buf, size_t len) {
  /* The _r variants never allocate (uv_strerror leaks on unknown codes). */
  return uv_strerror_r(err, buf, len);
}

const char *nat__uv_err_name(int err, char *buf, size_t len) {
  return uv_err_name_r(err, buf, len);
}
