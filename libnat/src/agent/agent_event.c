/* libnat -- the punch agent's driver: what it tells its caller (events,
 * and the end of a run by failure). The other files of this folder call
 * in here; this file calls none of them. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "agent/agent_internal.h"

void nat__agent_emit(nat_agent *a, nat_agent_event *ev) {
  ev->phase = (int)a->phase;
  if (ev->at == 0)
    ev->at = nat_udp_now();
  if (a->cb != NULL)
    a->cb(a, a->arg, ev);
}

void nat__agent_warn(nat_agent *a, const char *text) {
  nat_agent_event e;
  memset(&e, 0, sizeof e);
  e.type = NAT_AGENT_EV_WARNING;
  e.text = text;
  nat__agent_emit(a, &e);
}

static void stop_timers(nat_agent *a) {
  if (!a->timers_init)
    return;
  uv_timer_stop(&a->deadline);
  uv_timer_stop(&a->gather_timer);
  uv_timer_stop(&a->chk_timer);
  uv_timer_stop(&a->spray_timer);
  uv_timer_stop(&a->progress_timer);
}

void nat__agent_fail(nat_agent *a, int error, bool local, int hint,
                     const char *fmt, ...) {
  char reason[320];
  nat_agent_event e;
  va_list ap;
  if (a->finished)
    return;
  a->finished = true;
  va_start(ap, fmt);
  vsnprintf(reason, sizeof reason, fmt, ap);
  va_end(ap);
  stop_timers(a);
  memset(&e, 0, sizeof e);
  e.type = NAT_AGENT_EV_FAILED;
  e.text = reason;
  e.error = error;
  e.local = local;
  e.hint = hint;
  e.controlling = a->core.controlling;
  nat__agent_emit(a, &e);
}

const char *nat_agent_strategy_name(int s) {
  switch (s) {
  case NAT_AGENT_VIA_DIRECT:
    return "direct";
  case NAT_AGENT_VIA_PREDICTED:
    return "predicted";
  case NAT_AGENT_VIA_BIRTHDAY:
    return "birthday";
  case NAT_AGENT_VIA_MAPPED:
    return "mapped";
  default:
    return "none";
  }
}

const char *nat_agent_phase_name(int phase) {
  static const char *const names[] = {"setup", "rendezvous", "checks",
                                      "quic",  "connected",  "pipe"};
  return phase >= 0 && phase <= NAT_AGENT_PH_PIPE ? names[phase] : "unknown";
}
