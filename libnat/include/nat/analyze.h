/* libnat -- analyzers: pure functions from an observation log to verdicts.
 *
 * No I/O, no clock. nat_analyze_basic() reads the NAT_OBS_BASIC
 * observations (plain Binding requests, RFC 8489 section 3) and computes,
 * per (server, family), whether the server answered, the mapped address,
 * the RTT and whether it speaks RFC 5780 (OTHER-ADDRESS present, RFC 5780
 * section 7.4); and overall: UDP reachability, the public address per
 * family (agreeing or varying between servers) and whether a NAT sits in
 * the path per family.
 *
 * NAT detection compares the mapped address with the local address the
 * request left from: equal means no NAT, different means a NAT. If the
 * local address is unspecified (0.0.0.0, ::) or absent, the observation
 * cannot tell: the caller must record a concrete local address.
 *
 * In the tree: libnat/src/analyze/ (this header is its main one, with obs.h
 * and verdict.h): the observation log (obs.c) and the analyzers, pure
 * functions from it to verdicts (analyze.c; verdict_*.c: mapping, filtering,
 * hairpinning, allocation, paths, strategies, explanations; double_nat.c:
 * double NAT from the log, the hop list and gateways). Live runs
 * (probe/) and replays (capture/) give it the same log. Uses stun/ and
 * base/.
 */
#ifndef NAT_ANALYZE_H
#define NAT_ANALYZE_H

#include <stdbool.h>

#include "nat/addr.h"
#include "nat/common.h"
#include "nat/obs.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Yes / no / cannot tell. */
typedef enum nat_tri {
  NAT_TRI_UNKNOWN = 0,
  NAT_TRI_NO = 1,
  NAT_TRI_YES = 2
} nat_tri;

/** Whether the servers that answered agree on a value. */
typedef enum nat_agree {
  NAT_AGREE_NONE = 0,  /**< no server answered with one */
  NAT_AGREE_SAME = 1,  /**< every server that answered gave the same */
  NAT_AGREE_VARIES = 2 /**< servers disagree */
} nat_agree;

/** The verdict for one (server, family). */
typedef struct nat_server_verdict {
  uint16_t server_idx;
  uint8_t family;   /**< nat_family; NAT_AF_NONE if never resolved */
  size_t obs_index; /**< the representative observation in the log: the
                         first answered one, else the last one */
  size_t attempts;  /**< basic observations for this (server, family) */
  bool reachable;   /**< some response (success or error) arrived */
  bool has_mapped;
  nat_addr mapped;     /**< from the representative observation */
  nat_tstamp rtt;      /**< smallest RTT over responses, 0 if none */
  bool rfc5780;        /**< OTHER-ADDRESS present in a response */
  nat_tri nat_present; /**< mapped vs local of the representative one */
} nat_server_verdict;

/** The verdict for one address family. */
typedef struct nat_family_verdict {
  size_t tried;           /**< (server, family) pairs of this family */
  size_t answered;        /**< of which reachable */
  nat_agree public_agree; /**< agreement of the mapped IPs (ports ignored) */
  nat_addr public_ip;     /**< the mapped IP (port 0) when public_agree is
                               NAT_AGREE_SAME; the first one seen when it
                               varies */
  nat_tri nat_present;    /**< YES if any server saw a NAT, NO if some saw
                               none and none saw one, else UNKNOWN */
} nat_family_verdict;

/** Result of nat_analyze_basic(); a value object (init/free). */
typedef struct nat_analysis {
  nat_server_verdict *servers; /**< in order of first appearance */
  size_t nservers;
  size_t cap;
  bool udp_reachable; /**< some server answered */
  nat_family_verdict v4, v6;
  nat_tri nat_present; /**< YES if a family has one, NO if some family
                            has none and none has one, else UNKNOWN */
} nat_analysis;

/** Make @p a empty. Does not allocate. */
NAT_EXTERN void nat_analyze_init(nat_analysis *a);

/** Release what @p a holds and make it empty again. NULL is fine. */
NAT_EXTERN void nat_analyze_free(nat_analysis *a);

/** Whether one observation shows a NAT: NAT_TRI_UNKNOWN without a mapped
 * address or with an absent or unspecified local address, NAT_TRI_NO if
 * the mapped address equals the local one (IP and port), else
 * NAT_TRI_YES. */
NAT_EXTERN nat_tri nat_analyze_obs_nat(const nat_obs *o);

/** Analyze the NAT_OBS_BASIC observations of @p log into @p out (which is
 * reset first; init it once before the first call). Observations of
 * other tests are ignored.
 * @return 0, NAT_EINVAL (NULL argument), NAT_ENOMEM (@p out is left
 *         empty). */
NAT_EXTERN int nat_analyze_basic(nat_analysis *out, const nat_obslog *log);

/** Name of a nat_tri value: "unknown", "no", "yes". */
NAT_EXTERN const char *nat_tri_name(nat_tri t);

#ifdef __cplusplus
}
#endif
#endif
