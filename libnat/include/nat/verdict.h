/* libnat -- behaviour analyzers and the verdict: pure functions from an
 * observation log (nat/obs.h) to what a NAT does and how to get through it.
 *
 * RFC 5780 section 4 (behaviour discovery), RFC 4787 (terms: mapping,
 * filtering, pooling, port assignment, hairpinning, lifetime), RFC 3489
 * section 5 (the classic names). No I/O, no clock: live runs and capture
 * replays call the same functions.
 *
 * What each test expects in the log (the probe plan that runs live,
 * nat/probe.h, records exactly this; a replay reconstructs it):
 *  - NAT_OBS_MAPPING: Binding requests from ONE local socket to the
 *    primary address (IP1:P1), to IP2:P1 (OTHER-ADDRESS's IP, primary
 *    port) and to IP2:P2 (OTHER-ADDRESS) -- RFC 5780 section 4.3. When no
 *    server supports RFC 5780, the same shape from requests to different
 *    servers: the analyzer compares mapped addresses by destination IP and
 *    by destination port.
 *  - NAT_OBS_FILTERING: from one socket, a request to IP1:P1 (which opens
 *    the mapping), then CHANGE-REQUEST change-IP+port and change-port-only
 *    -- RFC 5780 section 4.4. A response that arrives means that kind of
 *    inbound traffic passes; a timeout means it is filtered.
 *  - NAT_OBS_HAIRPIN: a request from socket B sent to socket A's mapped
 *    address; status 0 if it came back through the NAT (socket A answers
 *    it), NAT_ETIMEDOUT if not -- RFC 5780 section 4.5.
 *  - NAT_OBS_ALLOCATION: requests from fresh sockets (one each) and from
 *    one socket to several destinations; the analyzer orders them by
 *    sent_at.
 *  - NAT_OBS_LIFETIME: see nat_obs.idle (time the mapping was left idle
 *    before the probe); status 0 = the mapping was still alive.
 */
#ifndef NAT_VERDICT_H
#define NAT_VERDICT_H

#include <stdbool.h>

#include "nat/addr.h"
#include "nat/analyze.h"
#include "nat/common.h"
#include "nat/obs.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Mapping or filtering behaviour as measured. */
typedef enum nat_beh {
  NAT_BEH_UNKNOWN = 0,
  NAT_BEH_EI = 1, /**< endpoint-independent */
  NAT_BEH_AD = 2, /**< address-dependent */
  NAT_BEH_APD = 3 /**< address-and-port-dependent */
} nat_beh;

/** Port allocation (RFC 4787 section 4.2 "port assignment"). */
typedef enum nat_pa_kind {
  NAT_PA_UNKNOWN = 0,
  NAT_PA_PRESERVING = 1, /**< external port == internal port */
  NAT_PA_SEQUENTIAL = 2, /**< each new mapping = previous + delta */
  NAT_PA_RANDOM = 3
} nat_pa_kind;

/** Address pooling (RFC 4787 section 4.1). */
typedef enum nat_pooling {
  NAT_POOL_UNKNOWN = 0,
  NAT_POOL_SINGLE = 1,   /**< one public IP seen */
  NAT_POOL_PAIRED = 2,   /**< one public IP per internal IP */
  NAT_POOL_ARBITRARY = 3 /**< the public IP varies by destination */
} nat_pooling;

/** One (internal port, external port) pair, in allocation order. */
typedef struct nat_port_sample {
  uint16_t local_port;
  uint16_t mapped_port;
  nat_tstamp at; /**< when the mapping was made (sent_at) */
} nat_port_sample;

typedef struct nat_alloc_verdict {
  uint8_t kind;      /**< nat_pa_kind */
  int32_t delta;     /**< when sequential: the step (may be negative) */
  uint16_t lo, hi;   /**< range of external ports observed */
  size_t samples;    /**< mappings the verdict rests on */
  double confidence; /**< 0..1: share of steps that fit the verdict,
                          discounted for few samples */
  nat_tri parity;    /**< port parity preserved (RFC 4787 REQ-3 style) */
} nat_alloc_verdict;

#define NAT_PREDICT_MAX 16

/** The next likely external ports of a sequential NAT. */
typedef struct nat_prediction {
  size_t n;
  uint16_t port[NAT_PREDICT_MAX];
  double prob[NAT_PREDICT_MAX]; /**< probability that the next mapping
                                     gets this port; sums to <= 1 */
} nat_prediction;

/** Peer classes a strategy is given for. */
typedef enum nat_peer_class {
  NAT_PEER_EASY = 0,            /**< EI mapping */
  NAT_PEER_HARD_SEQUENTIAL = 1, /**< non-EI mapping, sequential ports */
  NAT_PEER_HARD_RANDOM = 2,     /**< non-EI mapping, random ports */
  NAT_PEER_CLASSES = 3
} nat_peer_class;

typedef enum nat_strategy_kind {
  NAT_STRAT_DIRECT = 0,   /**< plain hole punch to the server-reflexive
                               address */
  NAT_STRAT_PREDICT = 1,  /**< punch to predicted ports */
  NAT_STRAT_BIRTHDAY = 2, /**< birthday spray */
  NAT_STRAT_RELAY = 3     /**< no direct path: relay */
} nat_strategy_kind;

typedef struct nat_strategy {
  uint8_t peer;      /**< nat_peer_class */
  uint8_t kind;      /**< nat_strategy_kind */
  double probes_50;  /**< expected probes for 50 % success (0 if n/a) */
  double probes_99;  /**< ... for 99 % */
  double seconds_99; /**< time for probes_99 at NAT_SPRAY_DEFAULT_RATE */
} nat_strategy;

/** Probes per second the birthday tool sends by default. */
#define NAT_SPRAY_DEFAULT_RATE 250.0
/** Ports the acceptor side opens by default in a birthday spray. */
#define NAT_SPRAY_DEFAULT_PORTS 256

#define NAT_EXPLAIN_MAX 12
#define NAT_EXPLAIN_LEN 160

/** The whole verdict. A value object (init/free): it holds the basic
 * analysis, which allocates. */
typedef struct nat_verdict {
  nat_analysis basic; /**< reachability, public addresses, NAT presence */
  uint8_t mapping;    /**< nat_beh */
  uint8_t filtering;  /**< nat_beh */
  nat_tri hairpinning;
  uint8_t pooling; /**< nat_pooling */
  nat_alloc_verdict alloc;
  nat_prediction prediction; /**< n == 0 unless sequential */
  nat_tri double_nat;        /**< mapped IP in 100.64.0.0/10 or RFC 1918 space,
                                  or a private local behind a non-public mapped
                                  IP */
  nat_tstamp lifetime_min;   /**< longest idle time the mapping survived (0:
                                  not measured) */
  nat_tstamp lifetime_max;   /**< shortest idle time it did not (0: none) */
  bool rfc5780_used;  /**< mapping/filtering came from an RFC 5780 server */
  uint8_t difficulty; /**< 0 unknown, 1 easy, 2 hard */
  nat_strategy strategy[NAT_PEER_CLASSES];
  /** Plain-language lines: what was tried and why the verdict follows. */
  char explain[NAT_EXPLAIN_MAX][NAT_EXPLAIN_LEN];
  size_t nexplain;
} nat_verdict;

NAT_EXTERN void nat_verdict_init(nat_verdict *v);
NAT_EXTERN void nat_verdict_free(nat_verdict *v);

/** Run every analyzer over @p log into @p v (reset first).
 * @return 0, NAT_EINVAL, NAT_ENOMEM. */
NAT_EXTERN int nat_verdict_compute(nat_verdict *v, const nat_obslog *log);

/** Mapping behaviour from the NAT_OBS_MAPPING observations (RFC 5780 4.3,
 * or across servers without RFC 5780). */
NAT_EXTERN nat_beh nat_analyze_mapping(const nat_obslog *log, bool *rfc5780);

/** Filtering behaviour from the NAT_OBS_FILTERING observations (4.4). */
NAT_EXTERN nat_beh nat_analyze_filtering(const nat_obslog *log);

/** Hairpinning from the NAT_OBS_HAIRPIN observations (4.5). */
NAT_EXTERN nat_tri nat_analyze_hairpin(const nat_obslog *log);

/** Address pooling from the mapped IPs across all observations. */
NAT_EXTERN nat_pooling nat_analyze_pooling(const nat_obslog *log);

/** Classify a sequence of port samples (in allocation order). Tolerates
 * jitter from other hosts' allocations (steps that are small multiples of
 * delta), wraparound at the end of the range, and some noise.
 * @return 0, NAT_EINVAL. */
NAT_EXTERN int nat_alloc_classify(const nat_port_sample *s, size_t n,
                                  nat_alloc_verdict *out);

/** Predict the next @p max (<= NAT_PREDICT_MAX) ports after @p last for a
 * sequential verdict, with probabilities from the step distribution seen.
 * @return 0, NAT_EINVAL (not sequential). */
NAT_EXTERN int nat_alloc_predict(const nat_alloc_verdict *a,
                                 const nat_port_sample *s, size_t n, size_t max,
                                 nat_prediction *out);

/** Probability that a birthday spray succeeds after @p probes when one
 * side has @p open ports open among @p range and the other probes random
 * ports (one hard side); with @p both_hard, both sides spray @p probes each
 * and a pair must match on both ports. */
NAT_EXTERN double nat_birthday_success(double probes, double open, double range,
                                       bool both_hard);

/** Probes needed for success probability @p p (inverse of the above). */
NAT_EXTERN double nat_birthday_probes(double p, double open, double range,
                                      bool both_hard);

/** JSON-facing names: "endpoint-independent", "address-dependent",
 * "address-and-port-dependent", "unknown"; "preserving", "sequential",
 * "random", "unknown"; "single", "paired", "arbitrary", "unknown";
 * "direct", "predict", "birthday", "relay"; "easy", "hard-sequential",
 * "hard-random". */
NAT_EXTERN const char *nat_beh_name(uint8_t b);
NAT_EXTERN const char *nat_pa_kind_name(uint8_t k);
NAT_EXTERN const char *nat_pooling_name(uint8_t p);
NAT_EXTERN const char *nat_strategy_name(uint8_t k);
NAT_EXTERN const char *nat_peer_class_name(uint8_t c);
/** Classic RFC 3489 name from mapping and filtering: "open internet",
 * "full cone", "restricted cone", "port-restricted cone", "symmetric",
 * "unknown". */
NAT_EXTERN const char *nat_classic_name(const nat_verdict *v);

#ifdef __cplusplus
}
#endif
#endif
