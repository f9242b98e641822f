/* libnat -- connectivity checks (nat/check.h): a check configuration from
 * two tickets (nat/ticket.h). Pure. */
#include <stddef.h>

#include "nat/check.h"
#include "nat/error.h"
#include "nat/ticket.h"

int nat_check_config_from_tickets(nat_check_config *cfg,
                                  const struct nat_ticket *local,
                                  const struct nat_ticket *remote) {
  if (cfg == NULL || local == NULL || remote == NULL)
    return NAT_EINVAL;
  cfg->local_ufrag = local->ufrag;
  cfg->local_pwd = local->pwd;
  cfg->remote_ufrag = remote->ufrag;
  cfg->remote_pwd = remote->pwd;
  cfg->tie_breaker = local->tie_breaker;
  cfg->controlling =
      nat_check_role_for(local->tie_breaker, remote->tie_breaker);
  return 0;
}
