/* Names of STUN attribute types and message classes, for diagnostics. */
#include "nat/stun.h"

static const struct {
  uint16_t type;
  const char *name;
} attr_names[] = {
    {NAT_ATTR_MAPPED_ADDRESS, "MAPPED-ADDRESS"},
    {NAT_ATTR_RESPONSE_ADDRESS, "RESPONSE-ADDRESS"},
    {NAT_ATTR_CHANGE_REQUEST, "CHANGE-REQUEST"},
    {NAT_ATTR_SOURCE_ADDRESS, "SOURCE-ADDRESS"},
    {NAT_ATTR_CHANGED_ADDRESS, "CHANGED-ADDRESS"},
    {NAT_ATTR_USERNAME, "USERNAME"},
    {NAT_ATTR_PASSWORD, "PASSWORD"},
    {NAT_ATTR_MESSAGE_INTEGRITY, "MESSAGE-INTEGRITY"},
    {NAT_ATTR_ERROR_CODE, "ERROR-CODE"},
    {NAT_ATTR_UNKNOWN_ATTRIBUTES, "UNKNOWN-ATTRIBUTES"},
    {NAT_ATTR_REFLECTED_FROM, "REFLECTED-FROM"},
    {NAT_ATTR_REALM, "REALM"},
    {NAT_ATTR_NONCE, "NONCE"},
    {NAT_ATTR_MESSAGE_INTEGRITY_SHA256, "MESSAGE-INTEGRITY-SHA256"},
    {NAT_ATTR_PASSWORD_ALGORITHM, "PASSWORD-ALGORITHM"},
    {NAT_ATTR_USERHASH, "USERHASH"},
    {NAT_ATTR_XOR_MAPPED_ADDRESS, "XOR-MAPPED-ADDRESS"},
    {NAT_ATTR_PADDING, "PADDING"},
    {NAT_ATTR_RESPONSE_PORT, "RESPONSE-PORT"},
    {NAT_ATTR_PRIORITY, "PRIORITY"},
    {NAT_ATTR_USE_CANDIDATE, "USE-CANDIDATE"},
    {NAT_ATTR_PASSWORD_ALGORITHMS, "PASSWORD-ALGORITHMS"},
    {NAT_ATTR_ALTERNATE_DOMAIN, "ALTERNATE-DOMAIN"},
    {NAT_ATTR_SOFTWARE, "SOFTWARE"},
    {NAT_ATTR_ALTERNATE_SERVER, "ALTERNATE-SERVER"},
    {NAT_ATTR_FINGERPRINT, "FINGERPRINT"},
    {NAT_ATTR_ICE_CONTROLLED, "ICE-CONTROLLED"},
    {NAT_ATTR_ICE_CONTROLLING, "ICE-CONTROLLING"},
    {NAT_ATTR_RESPONSE_ORIGIN, "RESPONSE-ORIGIN"},
    {NAT_ATTR_OTHER_ADDRESS, "OTHER-ADDRESS"},
};

const char *nat_stun_attr_name(uint16_t type) {
  for (size_t i = 0; i < sizeof attr_names / sizeof attr_names[0]; i++) {
    if (attr_names[i].type == type) {
      return attr_names[i].name;
    }
  }
  return "UNKNOWN";
}

const char *nat_stun_class_name(uint8_t cls) {
  static const char *const names[] = {"request", "indication", "success",
                                      "error"};
  return cls < 4 ? names[cls] : "unknown";
}
