/* Fuzz target: punch ticket text (nat/ticket.h). Any input must decode
 * to a ticket or fail with NAT_ETICKET and a one-line "ticket: " message;
 * a decoded ticket must encode and decode again to the same fields. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nat/error.h"
#include "nat/ticket.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void same(const nat_ticket *a, const nat_ticket *b) {
  size_t i;
  if (memcmp(a->pin, b->pin, sizeof a->pin) != 0 ||
      strcmp(a->ufrag, b->ufrag) != 0 || strcmp(a->pwd, b->pwd) != 0 ||
      a->tie_breaker != b->tie_breaker || a->ncands != b->ncands)
    abort();
  for (i = 0; i < a->ncands; i++)
    if (a->cands[i].type != b->cands[i].type ||
        !nat_addr_equal(&a->cands[i].addr, &b->cands[i].addr) ||
        a->cands[i].priority != b->cands[i].priority)
      abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  nat_ticket t, u;
  nat_ticket_diag d;
  nat_cand_policy pol = {0};
  char text[NAT_TICKET_TEXT_MAX];
  ssize_t n;
  int rc = nat_ticket_decode(&t, (const char *)data, size, &d);
  if (rc != 0) {
    if (rc != NAT_ETICKET || d.status == NAT_TICKET_OK ||
        strncmp(d.msg, "ticket: ", 8) != 0 || strchr(d.msg, '\n') != NULL)
      abort();
    return 0;
  }
  n = nat_ticket_encode(&t, text, sizeof text);
  if (n <= 0)
    abort();
  if (nat_ticket_decode(&u, text, (size_t)n, &d) != 0)
    abort();
  same(&t, &u);
  nat_ticket_validate(&u, &pol, true, &d);
  return 0;
}
