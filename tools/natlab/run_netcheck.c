/* natlab -- the `netcheck` experiment's side: where netcheck is, and how
 * its JSON report (`netcheck --server 203.0.113.1:3478 --json`) compares
 * with a host's declared behaviour.
 *
 * Keys read (at the top level of the report, or one object down):
 *   mapping, filtering   "endpoint-independent", "address-dependent",
 *                        "address-and-port-dependent", "unknown"
 *   hairpinning          true, false, null
 *   port_allocation      {"kind": "preserving"|"sequential"|"random"|
 *                         "unknown", "delta": N}
 *   nat_present          false: a host without NAT */
#include "natlab.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

/** The netcheck program: $NATLAB_NETCHECK, else the one built beside
 * natlab (build/tools/netcheck), else `netcheck` from PATH. */
const char *nl_netcheck_path(void) {
  const char *env = getenv("NATLAB_NETCHECK");
  if (env && *env)
    return env;
  if (NATLAB_NETCHECK_BUILD[0] && access(NATLAB_NETCHECK_BUILD, X_OK) == 0)
    return NATLAB_NETCHECK_BUILD;
  return "netcheck";
}

/* @p key at the top level, else in the first object member that has it. */
static json_t *find_key(json_t *root, const char *key) {
  json_t *v = json_object_get(root, key), *m;
  const char *k;
  if (v)
    return v;
  json_object_foreach(root, k, m) {
    if (json_is_object(m) && (v = json_object_get(m, key)))
      return v;
  }
  return NULL;
}

static int beh_of(json_t *v) {
  const char *s = json_string_value(v);
  if (!s)
    return -2;                     /* absent or null */
  if (strcmp(s, "dependent") == 0) /* a verdict only: nat_beh_parse refuses
                                      it; it matches no expected AD/APD */
    return NAT_BEH_DEPENDENT;
  nat_beh b = nat_beh_parse(s);
  return b != NAT_BEH_UNKNOWN ? (int)b : -1; /* "unknown" or anything else */
}

static int alloc_of(json_t *v) {
  const char *s = json_string_value(v);
  if (!s)
    return -2;
  if (strcmp(s, "preserving") == 0)
    return NL_ALLOC_PRESERVE;
  if (strcmp(s, "sequential") == 0)
    return NL_ALLOC_SEQ;
  if (strcmp(s, "random") == 0)
    return NL_ALLOC_RANDOM;
  return -1;
}

/** Mapping and filtering as netcheck reported them in @p json: a
 * nat_beh, NL_NO_NAT when it saw no NAT (nat_present false and no
 * dependent behaviour), -1 unknown, -2 absent. 0, or -1 when @p json is no
 * JSON object. */
int nl_netcheck_mf(const char *json, int *mapping, int *filtering) {
  json_t *root = json_loads(json, 0, NULL);
  if (!json_is_object(root)) {
    json_decref(root);
    return -1;
  }
  *mapping = beh_of(find_key(root, "mapping"));
  *filtering = beh_of(find_key(root, "filtering"));
  if (json_is_false(json_object_get(root, "nat_present")) &&
      (*mapping == NAT_BEH_EI || *mapping == -2) &&
      (*filtering == NAT_BEH_EI || *filtering == -2))
    *mapping = *filtering = NL_NO_NAT;
  json_decref(root);
  return 0;
}

static bool beh_ok(int expected, int observed) {
  return expected < 0 || expected == observed;
}

/* hairpinning and port_allocation against @p e; appends to @p obs. */
static bool check_rest(json_t *root, const struct nl_expect *e, char *obs,
                       size_t len) {
  json_t *hp = find_key(root, "hairpinning");
  json_t *pa = find_key(root, "port_allocation");
  int alloc = alloc_of(json_object_get(pa, "kind"));
  json_t *dj = json_object_get(pa, "delta");
  long long delta = json_is_integer(dj) ? json_integer_value(dj) : 0;
  size_t l = strlen(obs);
  bool ok = true;
  snprintf(obs + l, len - l, " alloc=%s",
           alloc == -2   ? "null"
           : alloc == -1 ? "unknown"
                         : nl_alloc_name(alloc));
  l = strlen(obs);
  if (alloc == NL_ALLOC_SEQ)
    snprintf(obs + l, len - l, " delta=%lld", delta);
  l = strlen(obs);
  snprintf(obs + l, len - l, " hairpin=%s",
           json_is_true(hp)    ? "on"
           : json_is_false(hp) ? "off"
                               : "null");
  if (e->alloc >= 0 && alloc != e->alloc)
    ok = false;
  if (e->alloc == NL_ALLOC_SEQ && e->delta > 0 && delta != e->delta)
    ok = false;
  if (e->hairpin >= 0 && e->mapping != NL_NO_NAT &&
      !(json_is_boolean(hp) && json_is_true(hp) == (e->hairpin == 1)))
    ok = false;
  return ok;
}

/** Compare netcheck's JSON report @p json with @p e; *@p obs gets what it
 * observed in natlab's words. A host without NAT must be reported with
 * nat_present false. */
bool nl_check_netcheck(const char *json, const struct nl_expect *e, char *obs,
                       size_t len) {
  int m, f;
  json_t *root = json_loads(json, 0, NULL);
  if (!json_is_object(root) || nl_netcheck_mf(json, &m, &f) != 0) {
    snprintf(obs, len, "no JSON report");
    json_decref(root);
    return false;
  }
  snprintf(obs, len, "mapping=%s filtering=%s", nl_beh_seen_name(m),
           nl_beh_seen_name(f));
  bool ok = beh_ok(e->mapping, m) && beh_ok(e->filtering, f);
  if (e->mapping != NL_NO_NAT && (m < 0 || f < 0))
    ok = false;
  ok &= check_rest(root, e, obs, len);
  json_decref(root);
  return ok;
}
