/* Randomness from the operating system: OpenSSL's CSPRNG, falling back to
 * getrandom(2) and then /dev/urandom. Used for STUN transaction IDs when the
 * caller supplies no nat_rand_fn. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/rand.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "nat/common.h"

/* getrandom(2), retried on EINTR and short reads. @return 0 or -1. */
static int fill_getrandom(uint8_t *buf, size_t len) {
  while (len > 0) {
    ssize_t n = getrandom(buf, len, 0);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return -1;
    }
    buf += (size_t)n;
    len -= (size_t)n;
  }
  return 0;
}

/* /dev/urandom, for kernels without getrandom(2). @return 0 or -1. */
static int fill_urandom(uint8_t *buf, size_t len) {
  int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return -1;
  while (len > 0) {
    ssize_t n = read(fd, buf, len);
    if (n <= 0) {
      if (n < 0 && errno == EINTR)
        continue;
      close(fd);
      return -1;
    }
    buf += (size_t)n;
    len -= (size_t)n;
  }
  close(fd);
  return 0;
}

/* Last resort when the OS gives nothing (not seen on Linux >= 3.17): a
 * splitmix64 stream seeded from the clock. Not cryptographic, but the
 * contract says this function never aborts. */
static void fill_clock(uint8_t *buf, size_t len) {
  struct timespec ts;
  uint64_t x;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  x = (uint64_t)ts.tv_sec * 1000000007u ^ (uint64_t)ts.tv_nsec ^
      (uint64_t)(uintptr_t)buf;
  for (size_t i = 0; i < len; i++) {
    uint64_t z = (x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    buf[i] = (uint8_t)(z ^ (z >> 31));
  }
}

/** Fill @p buf with @p len bytes from OpenSSL's RAND_bytes(); if that fails,
 * from getrandom(2) (then /dev/urandom). @p ctx is unused. Never fails. */
void nat_rand_system(void *ctx, uint8_t *buf, size_t len) {
  size_t done = 0;
  (void)ctx;
  if (!buf || len == 0)
    return;
  while (done < len) {
    size_t chunk = len - done;
    if (chunk > INT_MAX)
      chunk = INT_MAX;
    if (RAND_bytes(buf + done, (int)chunk) != 1)
      break;
    done += chunk;
  }
  if (done == len)
    return;
  if (fill_getrandom(buf + done, len - done) == 0)
    return;
  if (fill_urandom(buf + done, len - done) == 0)
    return;
  fill_clock(buf + done, len - done);
}
