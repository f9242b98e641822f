/* A consumer of the installed libnat: encodes and decodes a Binding
 * request and checks nat_strerror() through the public API only. */
#include <nat/nat.h>
#include <stdio.h>
#include <string.h>

int main(void) {
  uint8_t buf[128],
      tid[NAT_STUN_TID_LEN] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
  nat_stun_builder b;
  nat_stun_msg m;
  if (nat_stun_builder_init(&b, buf, sizeof buf, NAT_STUN_BINDING,
                            NAT_STUN_REQUEST, tid) != 0)
    return 1;
  ssize_t n = nat_stun_builder_finish(&b, true);
  if (n != 28 || nat_stun_decode(&m, buf, (size_t)n) != n ||
      memcmp(m.tid, tid, sizeof tid) != 0) {
    fprintf(stderr, "consumer: STUN round trip failed (%zd)\n", n);
    return 1;
  }
  if (strcmp(nat_err_name(NAT_EFINGERPRINT), "NAT_EFINGERPRINT") != 0)
    return 1;
  printf("consumer: libnat %s works\n", nat_version_string());
  return 0;
}
