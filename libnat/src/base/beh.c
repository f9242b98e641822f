/* libnat -- names of the mapping/filtering behaviours (nat/common.h). */
#include <string.h>

#include "nat/common.h"

static const char *const long_names[] = {
    "endpoint-independent", "address-dependent", "address-and-port-dependent"};
static const char *const short_names[] = {"ei", "ad", "apd"};

const char *nat_beh_name(uint8_t b) {
  if (b == NAT_BEH_DEPENDENT)
    return "dependent";
  return b >= NAT_BEH_EI && b <= NAT_BEH_APD ? long_names[b - NAT_BEH_EI]
                                             : "unknown";
}

const char *nat_beh_short_name(uint8_t b) {
  if (b == NAT_BEH_DEPENDENT)
    return "dependent";
  return b >= NAT_BEH_EI && b <= NAT_BEH_APD ? short_names[b - NAT_BEH_EI]
                                             : "unknown";
}

nat_beh nat_beh_parse(const char *s) {
  if (s == NULL)
    return NAT_BEH_UNKNOWN;
  for (unsigned i = 0; i < 3; i++)
    if (strcmp(s, long_names[i]) == 0 || strcmp(s, short_names[i]) == 0)
      return (nat_beh)(NAT_BEH_EI + i);
  return NAT_BEH_UNKNOWN;
}
