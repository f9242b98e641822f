/* The libuv part of nat_strerror() / nat_err_name() (base/error.c): the
 * message and name of a libuv code passed through, so that base/ needs
 * no libuv header. Private to the library. */
#ifndef NAT_IO_UV_ERROR_H
#define NAT_IO_UV_ERROR_H

#include <stddef.h>

/* libuv's message for @p err into @p buf (never allocates); returns
 * @p buf. */
const char *nat__uv_strerror(int err, char *buf, size_t len);

/* libuv's name for @p err ("ECONNREFUSED", no UV_ prefix) into @p buf;
 * an unknown code gives "Unknown system error N". Returns @p buf. */
const char *nat__uv_err_name(int err, char *buf, size_t len);

#endif
