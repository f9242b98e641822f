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
 *    Observations with idle 0 are not probes: with a RESPONSE-PORT they
 *    are control probes (if every control probe timed out, the lifetime
 *    is not measured: answers to RESPONSE-PORT do not arrive), without
 *    one they are the requests that made the mappings.
 *
 * How each analyzer decides (the rules the tests check):
 *  - Mapping: the local sockets are tried in log order, IPv4 first. With
 *    RFC 5780 the primary address is the server of the socket's earliest
 *    mapping observation and the alternate comes from its OTHER-ADDRESS
 *    (else CHANGED-ADDRESS): mapped(IP1:P1) == mapped(IP2:P1) -> EI; else
 *    mapped(IP2:P1) == mapped(IP2:P2) -> AD; else APD; no answer from
 *    IP2:P2 (not asked, as RFC 3489 clients do, or lost) after
 *    mapped(IP1:P1) != mapped(IP2:P1) -> DEPENDENT; any other missing
 *    answer that the decision needs -> UNKNOWN. Mapped == local -> EI (no
 *    translation). Without OTHER-ADDRESS, answers from one socket to
 *    different destinations are compared (NAT_OBS_MAPPING, else
 *    NAT_OBS_BASIC): a different port alone changes the mapping -> APD;
 *    a different IP changes it but a different port of one IP does not
 *    -> AD; the same mapping for different IPs -> EI; a mapping that
 *    varies by IP with no same-IP pair -> DEPENDENT (mapping_varies YES:
 *    not EI, but "the mapping changed with the destination IP; no two
 *    ports of one IP were asked, so address- and address-and-port-
 *    dependent are not told apart"). DEPENDENT is a last resort: it is
 *    the verdict only when no socket of either test decides EI, AD or
 *    APD (a log that decided before decides the same now). Every
 *    consumer treats it as a non-EI ("hard") mapping: self_class,
 *    difficulty, the strategy table, nat_classic_name() ("symmetric").
 *  - Filtering: the response to a change request only counts if its
 *    source (nat_obs.from, else RESPONSE-ORIGIN) really changed: change
 *    IP+port must come from another IP, change-port from another port.
 *    An answer from the primary address, or an error response (420 ...),
 *    means the server does not do CHANGE-REQUEST -> UNKNOWN (not EI, the
 *    classic false verdict). Change IP+port answered -> EI; else change
 *    port answered and change IP+port timed out -> AD; both timed out
 *    after an answered opening request -> APD, but only if the server
 *    advertised OTHER-ADDRESS or CHANGED-ADDRESS (else silence cannot be
 *    told from a server that drops change requests -> UNKNOWN).
 *    Without an opening request (or when no change-IP request was sent
 *    after it) -- Debian's classic `stun` client sends its change
 *    requests from a second socket that sent nothing else: a change-IP
 *    (+port) request answered (success) from an IP that differs from the
 *    IP of every request that socket sent, before or after, -> EI: only
 *    an endpoint-independent filter lets an answer from an address the
 *    socket never contacted in. An answer from the primary address or
 *    from any IP the socket sent to proves nothing (an address-dependent
 *    filter passes it). Timeouts and change-port answers without an
 *    opening request are rated only by the rule that follows. The log
 *    must come from the client side of the NAT (a live run; a replay
 *    withholds filtering unless the capture is known to be inside,
 *    nat/replay.h).
 *    Change requests that opened the mapping themselves: where the rules
 *    above leave filtering UNKNOWN and the socket made no opening request
 *    at all (no flags-0 filtering request, no answered plain request to
 *    the change requests' destination), each of its change requests,
 *    sent to one destination D (IP1:P1), opened the NAT's mapping and
 *    filter towards D itself. They are rated if the server of D
 *    advertised an alternate (OTHER-ADDRESS or CHANGED-ADDRESS, in any
 *    answer) and answered some request (any socket: the path works):
 *    change IP timed out over >= 3 transmissions (NAT__MIN_TRIES) and
 *    change port answered from D's IP with another port that the socket
 *    never sent to -> AD (confidence 1 - 0.1^t, t: change-IP
 *    transmissions); both timed out over >= 3 transmissions each -> APD
 *    (confidence 1 - 0.1^t, t: the fewer). A change-IP answer from
 *    another IP is the EI rule above. An answer from the primary address
 *    or an error response -> UNKNOWN (filtering_unsupported); change
 *    requests to several destinations, fewer tries, a change-IP answer
 *    from an IP the socket sent to -> UNKNOWN, with that reason.
 *  - Hairpinning: any answer -> YES; else any timeout -> NO; else UNKNOWN.
 *  - Allocation: nat_alloc_classify() over the NAT_OBS_ALLOCATION
 *    samples (fresh sockets, sent_at order). When it returns UNKNOWN
 *    (fewer than 3 samples after dedupe, or no pattern), the rules for
 *    few samples run over every answered observation of the family
 *    (IPv4 first) of the tests basic, mapping, filtering and allocation
 *    (not hairpin, not lifetime): each distinct (local address, mapped
 *    address) pair is one allocation, ordered by the sent_at of its
 *    first observation. Their verdict, when there is one, replaces the
 *    classifier's (samples, lo, hi, confidence, parity from these
 *    allocations), and a sequential one is predicted from them:
 *     (a) >= 2 allocations, every mapped port == its local port, from
 *         >= 2 local ports -> PRESERVING, confidence 1 - (1/64512)^n (a
 *         random allocator over 64512 ports keeps a port once in 64512;
 *         a sequential one keeps two different local ports only by the
 *         same kind of coincidence);
 *     (b) >= 3 allocations: the classifier's SEQUENTIAL (with its delta)
 *         or PRESERVING, with its confidence;
 *     (c) >= 4 allocations (after the classifier's dedupe) that the
 *         classifier calls RANDOM, none with its port preserved, and
 *         L >= 2 steps larger than 16 * 64 = 1024 ports (the largest step
 *         a sequential allocator with jitter takes, as the classifier
 *         allows) -> RANDOM, confidence 1 - 0.1^L (a sequential allocator
 *         steps that far, by a wrap or a burst of other hosts'
 *         allocations, at most 1 time in 10);
 *     else UNKNOWN, saying what is missing. turnutils_natdiscovery -m -f
 *     (two sockets) gives (a) behind a full cone and (c) behind a
 *     symmetric NAT with random ports (socket 1 to IP1:P1, IP2:P1 and
 *     IP2:P2: 3 new mappings; socket 2: 1). A live run's 8+ fresh
 *     sockets decide by the classifier as before.
 *  - Pooling: per family (IPv4 first), the mapped IPs of answered
 *    observations grouped by local IP: one public IP -> SINGLE; one local
 *    IP seeing several public IPs -> ARBITRARY; several local IPs each
 *    with its own single public IP -> PAIRED. One internal IP cannot tell
 *    PAIRED from SINGLE: that reports SINGLE.
 *  - Double NAT: YES if a local address is in 100.64.0.0/10 (the host sits
 *    directly behind a carrier-grade NAT), or if a server saw a private
 *    (RFC 1918, fc00::/7) or shared (100.64.0.0/10) mapped address that
 *    differs from the local one (that server is inside a carrier or
 *    private network, and a further NAT leads out of it); NO only if the
 *    host itself holds its public address (mapped == local, local not
 *    private/shared); else UNKNOWN -- STUN alone cannot prove there is no
 *    second NAT behind a public mapped address. nat_verdict_compute()
 *    applies these log rules only (replays and logs give what they gave
 *    before); double_nat_reason says which rule decided, and carrier_nat
 *    is YES by the shared-space rules, NO when the host holds its public
 *    address, else UNKNOWN. nat_verdict_double_nat() adds the evidence a
 *    log does not hold, in this order (the first rule that decides wins):
 *     1. the log rules above, when they decide (YES or NO);
 *     2. a gateway's external address (PCP, NAT-PMP or UPnP, nat/portmap.h)
 *        in private or shared space -> YES (the gateway sits behind
 *        another NAT; carrier_nat YES if shared);
 *     3. a gateway's public external address that differs from every
 *        public address STUN saw in its family -> YES (another NAT
 *        beyond the gateway; a gateway with several uplinks looks the
 *        same);
 *     4. a hop beyond the first (ttl >= 2, below the TTL that reached the
 *        server) that answered from shared space -> YES, carrier_nat YES
 *        ("hop 2 100.64.0.1 is in the shared address space of RFC 6598:
 *        carrier-grade NAT"). RFC 6598 reserves that space for carrier
 *        NAT, and it outweighs rule 5: a gateway may learn its external
 *        address by STUN itself (miniupnpd behind a carrier NAT reports
 *        the CGN's public address, measured in natlab cgn-upnp);
 *     5. a gateway's public external address equal to one STUN saw, and
 *        the hop probe saw beyond the first router (hop 2 answered, or the
 *        server at TTL 2) -> NO: the host's first router is the NAT whose
 *        address the servers see, so no NAT follows it. It overrides a
 *        private-space hop: routers numbered in RFC 1918 space without
 *        translating (many ISPs number internal links so) then show in the
 *        hop list. Without the hops it is UNKNOWN, with that reason: the
 *        gateway may have learned the address by STUN;
 *     6. the server answered the hop probe at TTL 2 -> NO: one router
 *        lies between the host and the server, and it is the NAT the
 *        server saw ("the server answered at TTL 2: hop 1 192.168.1.1 is
 *        the only router between the host and the server, so the only
 *        NAT"; a NAT that does not decrement the TTL would not show);
 *     7. a hop beyond the first from private space -> YES (a second
 *        private network behind the first router; a LAN router that
 *        routes private space without translating, or an ISP that numbers
 *        its links in RFC 1918 space, looks the same, which rule 5 settles
 *        when a gateway answers). Hop 1 in shared space sets carrier_nat
 *        YES only (the first router is the carrier's);
 *     8. else UNKNOWN, with the reason: what the hops showed (silent, or
 *        only public beyond hop 1: a NAT whose inside is numbered in
 *        public space, or one that does not send time-exceeded, would
 *        look the same) and that no gateway answered with an external
 *        address. Hops give NO only by rule 6.
 *
 * Evidence (nat_verdict.evidence, one nat_conclusion per nat_fact): a
 * concluded fact carries the probability that it is right under this
 * model, and a reason (what was seen: the analyzer's explanation line
 * without its "name: " prefix); an unknown one carries 0 and a reason
 * naming what is missing. The model: STUN answers are taken as exact (a
 * mapped address or a response source the server reports is what
 * happened), and each transmission or its answer is lost independently
 * with probability 0.1, so a silence after t transmissions is a real
 * drop with probability 1 - 0.1^t (t >= 3 gives 0.999; the classic
 * `stun` client's 7 tries 1 - 1e-7). Hence: NAT presence 1 (mapped vs
 * local; NO says "the server saw the request's own source address: no
 * translation"); mapping 1 (comparisons of mapped addresses); filtering
 * EI 1, AD 1 - 0.1^t (t: change-IP transmissions), APD 1 - 0.1^t (t: the
 * fewer of change IP's and change port's); hairpinning YES 1, NO
 * 1 - 0.1^t; allocation the classifier's confidence, or that of the
 * rules for few samples above.
 *
 * Strategy table (nat_strategy_for), from this host's class, its
 * filtering, and the peer's class; "hard" = non-EI mapping. Unknown
 * filtering counts as APD, an unknown own class as hard-random:
 *
 *   self            self filtering  peer             strategy
 *   easy            any             easy             direct
 *   easy            EI or AD        hard-*           direct (the peer's new
 *                                                    mapping reaches our
 *                                                    stable address and our
 *                                                    filter lets its IP in)
 *   easy            APD             hard-sequential  predict
 *   easy            APD             hard-random      birthday, one hard side
 *   hard-sequential any             easy             predict (the peer aims
 *                                                    at our predicted ports)
 *   hard-sequential any             hard-sequential  predict
 *   hard-sequential any             hard-random      birthday, one hard side
 *                                                    (our ports are known)
 *   hard-random     any             easy             birthday, one hard side
 *   hard-random     any             hard-sequential  birthday, one hard side
 *   hard-random     any             hard-random      birthday, both hard; relay
 *                                                    if probes_99 takes more
 *                                                    than
 * NAT_STRATEGY_MAX_SECONDS at NAT_SPRAY_DEFAULT_RATE
 *
 * Against an easy peer whose filtering is EI or AD a direct punch also
 * works for a hard self; the table gives what works whatever the peer's
 * filtering. UDP unreachable -> relay for every peer class.
 */
#ifndef NAT_VERDICT_H
#define NAT_VERDICT_H

#include <stdbool.h>

#include "nat/addr.h"
#include "nat/analyze.h"
#include "nat/common.h"
#include "nat/hops.h"
#include "nat/obs.h"

#ifdef __cplusplus
extern "C" {
#endif

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
                          discounted for few samples (nat_alloc_classify);
                          from the rules for few samples, their
                          likelihood (see "Allocation" above) */
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

/** Ports a birthday model draws from: 1024..65535 (65535 - 1023). With
 * it the one-hard-side model gives Tailscale's public figures (256 open:
 * 174 probes 50 %, 256 64 %, 1024 98 %, 2048 99.9 %) and the both-hard
 * model its 54,000 probes each for 50 % and 170,000 for 99.9 %. */
#define NAT_BIRTHDAY_RANGE 64512.0
/** A birthday spray longer than this (at NAT_SPRAY_DEFAULT_RATE) is
 * impractical: the strategy becomes a relay. */
#define NAT_STRATEGY_MAX_SECONDS 60.0
/** Probes per second the birthday tool sends by default. */
#define NAT_SPRAY_DEFAULT_RATE 250.0
/** Ports the acceptor side opens by default in a birthday spray. */
#define NAT_SPRAY_DEFAULT_PORTS 256

#define NAT_EXPLAIN_MAX 16
#define NAT_EXPLAIN_LEN 256

/** The facts a verdict concludes or abstains on, each with its evidence
 * (nat_verdict.evidence). */
typedef enum nat_fact {
  NAT_FACT_NAT = 0,        /**< NAT presence (basic.nat_present) */
  NAT_FACT_MAPPING = 1,    /**< mapping */
  NAT_FACT_FILTERING = 2,  /**< filtering */
  NAT_FACT_HAIRPIN = 3,    /**< hairpinning */
  NAT_FACT_ALLOCATION = 4, /**< alloc.kind (and delta) */
  NAT_FACTS = 5
} nat_fact;

/** What one conclusion rests on. Concluded (the fact is not unknown):
 * @c confidence is the probability, under the analyzer's model, that
 * the conclusion is right given the evidence (e.g. 1 - 0.1^7 for seven
 * unanswered tries at an assumed 10 % loss; 1 - 1/64512^2 for two
 * preserved ports against a random allocator), and @c reason says what
 * was seen. Abstained (unknown): @c confidence is 0 and @c reason names
 * what is missing ("no CHANGE-REQUEST probe was answered or timed out
 * after an opening request", "fewer than two fresh mappings"). Never
 * empty once nat_verdict_compute() returned 0. */
typedef struct nat_conclusion {
  double confidence;
  char reason[NAT_EXPLAIN_LEN];
} nat_conclusion;

/** JSON-facing name of a nat_fact: "nat_present", "mapping",
 * "filtering", "hairpinning", "allocation"; "unknown" for others. */
NAT_EXTERN const char *nat_fact_name(uint8_t f);

/** The whole verdict. A value object (init/free): it holds the basic
 * analysis, which allocates. */
typedef struct nat_verdict {
  nat_analysis basic; /**< reachability, public addresses, NAT presence:
                           nat_analyze_basic(); udp_reachable is also set
                           by an answer of any test, and nat_present, when
                           the basic observations cannot tell, from the
                           mapping, filtering, allocation and lifetime
                           ones (mapped vs local) */
  uint8_t mapping;    /**< nat_beh, NAT_BEH_DEPENDENT included */
  uint8_t filtering;  /**< nat_beh */
  nat_tri hairpinning;
  uint8_t pooling; /**< nat_pooling */
  nat_alloc_verdict alloc;
  nat_prediction prediction; /**< n == 0 unless sequential */
  nat_tri double_nat;        /**< see "Double NAT" above */
  /** YES: evidence of a carrier-grade NAT (shared address space, RFC
   * 6598) in the path; NO: the host holds its public address; else
   * UNKNOWN (see "Double NAT" above). */
  nat_tri carrier_nat;
  /** One line: the evidence double_nat rests on, or why it is unknown. */
  char double_nat_reason[NAT_EXPLAIN_LEN];
  nat_tstamp lifetime_min; /**< longest idle time the mapping survived (0:
                                not measured) */
  nat_tstamp lifetime_max; /**< shortest idle time it did not (0: none) */
  bool rfc5780_used;  /**< mapping/filtering came from an RFC 5780 server */
  uint8_t difficulty; /**< 0 unknown, 1 easy, 2 hard */
  /** YES if the mapped address changed with the destination (set even
   * when AD cannot be told from APD), NO if it did not. */
  nat_tri mapping_varies;
  /** The filtering server ignored or refused CHANGE-REQUEST (answered
   * from the primary address, or an error response such as 420). */
  bool filtering_unsupported;
  uint8_t self_class;  /**< nat_peer_class of this host; NAT_PEER_CLASSES
                            when unknown (the strategies then assume
                            hard-random). A port-preserving NAT with a
                            non-EI mapping counts as hard-sequential (its
                            ports are predictable) */
  size_t observations; /**< observations in the log */
  nat_strategy strategy[NAT_PEER_CLASSES];
  /** Plain-language lines: what was tried and why the verdict follows. */
  char explain[NAT_EXPLAIN_MAX][NAT_EXPLAIN_LEN];
  size_t nexplain;
  /** Per fact (nat_fact): its confidence and reason, or why it is
   * unknown. nat_replay_mask() replaces a withheld fact's with "not
   * measurable from this capture: WHY". */
  nat_conclusion evidence[NAT_FACTS];
} nat_verdict;

/** Make @p v empty (no allocation). NULL is fine. */
NAT_EXTERN void nat_verdict_init(nat_verdict *v);
/** Release what @p v holds and make it empty again. NULL is fine. */
NAT_EXTERN void nat_verdict_free(nat_verdict *v);

/** Run every analyzer over @p log into @p v (reset first). Takes
 * O(n log n) time and O(n) memory for n observations (a 100,000-entry
 * replay log takes a fraction of a second).
 * @return 0, NAT_EINVAL, NAT_ENOMEM. */
NAT_EXTERN int nat_verdict_compute(nat_verdict *v, const nat_obslog *log);

/** A gateway's external address, as a port-mapping protocol gave it. */
typedef struct nat_gateway_addr {
  nat_addr external; /**< the IP (port ignored) */
  const char *via;   /**< who said it, e.g. "PCP" (static; NULL: "the
                          gateway") */
} nat_gateway_addr;

/** Decide double_nat and carrier_nat from all the evidence (rules 1-6 of
 * "Double NAT" above): the log's rules over @p log (NULL: none), the hop
 * list @p hops (NULL or target family NONE: the hop probe did not run)
 * and the @p ngw gateway external addresses @p gw (NULL: port mapping
 * was not probed; not NULL with @p ngw 0: no gateway answered with an
 * external address). @p v must hold nat_verdict_compute()'s result (its
 * basic analysis gives the public addresses STUN saw). Sets double_nat,
 * carrier_nat and double_nat_reason, and replaces the "double NAT: ..."
 * explanation line (adds it if missing). Calling it again with the same
 * inputs gives the same result.
 * @return 0, NAT_EINVAL (NULL @p v, NULL @p gw with @p ngw > 0). */
NAT_EXTERN int nat_verdict_double_nat(nat_verdict *v, const nat_obslog *log,
                                      const nat_hop_list *hops,
                                      const nat_gateway_addr *gw, size_t ngw);

/** Mapping behaviour from the NAT_OBS_MAPPING observations (RFC 5780 4.3,
 * or across servers without RFC 5780). NAT_BEH_UNKNOWN also if memory
 * for the log's index runs out (as for the two analyzers below). */
NAT_EXTERN nat_beh nat_analyze_mapping(const nat_obslog *log, bool *rfc5780);

/** Filtering behaviour from the NAT_OBS_FILTERING observations (4.4). */
NAT_EXTERN nat_beh nat_analyze_filtering(const nat_obslog *log);

/** Hairpinning from the NAT_OBS_HAIRPIN observations (4.5). */
NAT_EXTERN nat_tri nat_analyze_hairpin(const nat_obslog *log);

/** Port allocation as nat_verdict_compute() decides it ("Allocation"
 * above): nat_alloc_classify() over the NAT_OBS_ALLOCATION samples, else
 * the rules for few samples over every allocation of the log. A replay
 * can ask it whether a capture supports an allocation verdict. @p pred
 * (may be NULL) gets the prediction when the verdict is sequential (else
 * n == 0).
 * @return 0, NAT_EINVAL (NULL @p log or @p out), NAT_ENOMEM (@p out is
 *         then unknown). */
NAT_EXTERN int nat_analyze_allocation(const nat_obslog *log,
                                      nat_alloc_verdict *out,
                                      nat_prediction *pred);

/** Address pooling from the mapped IPs across all observations. */
NAT_EXTERN nat_pooling nat_analyze_pooling(const nat_obslog *log);

/** Classify a sequence of port samples (in allocation order). Tolerates
 * jitter from other hosts' allocations (steps that are small multiples of
 * delta), wraparound at the end of the range, and some noise.
 *
 * A sample repeating an earlier (local port, mapped port) pair is a reused
 * mapping, not an allocation, and is dropped first. Then, with n >= 3
 * allocations left: PRESERVING if mapped == local for >= 75 % of them;
 * SEQUENTIAL if, for the best delta d (0 < |d| <= 64, taken from the
 * steps seen), >= 60 % of the allocations follow the previous consistent
 * one by k*d, k = 1..16 (a step across the end of the range -- the
 * observed one (from 6 samples on), 1024..65535, 0..65535 or 49152..65535
 * -- counts as its
 * wrapped value; a lone outlier is skipped, a run that restarts elsewhere
 * re-anchors); RANDOM if no d explains more than 35 % and most steps are
 * large, or (from 6 samples and an observed range of 256 ports on) if what
 * misses those thresholds is within chance for random ports drawn from
 * the observed range (probability >= 1e-4 for the best delta's fitting and
 * exact steps, corrected for the 128 deltas, and for the small steps,
 * whose directions must then also be within chance for a random order);
 * else UNKNOWN. confidence = that share * (1 - 1/n). parity: YES
 * when preserving, else (n >= 4) YES if every mapped port has its local
 * port's parity, NO if not; UNKNOWN below 4.
 * @return 0, NAT_EINVAL (NULL @p out, or NULL @p s with n > 0),
 *         NAT_ENOMEM. */
NAT_EXTERN int nat_alloc_classify(const nat_port_sample *s, size_t n,
                                  nat_alloc_verdict *out);

/** Predict the next @p max (1..NAT_PREDICT_MAX) ports after the last
 * sample for a sequential verdict, with probabilities from the step
 * distribution seen: candidate k (port last + k*delta, k = 1..max) gets
 * (count of steps equal to k*delta + 0.5/k) / (steps + sum of 0.5/j), so
 * the probabilities sum to <= 1. Sorted by probability, highest first.
 * Ports past 65535 (or below 1) wrap into the observed range if a wrap
 * was seen, else into 1024..65535.
 * @return 0, NAT_EINVAL (not sequential, NULL argument, bad @p max),
 *         NAT_ENOMEM. */
NAT_EXTERN int nat_alloc_predict(const nat_alloc_verdict *a,
                                 const nat_port_sample *s, size_t n, size_t max,
                                 nat_prediction *out);

/** Probability that a birthday spray succeeds after @p probes when one
 * side has @p open ports open among @p range and the other probes random
 * ports (one hard side): 1 - (1 - open/range)^probes. With @p both_hard,
 * both sides spray @p probes each from fresh random mappings to random
 * ports of the other; each of the probes^2 pairs matches on both ports
 * with probability 1/range^2: 1 - (1 - 1/range^2)^(probes^2) (@p open is
 * not used). Use NAT_BIRTHDAY_RANGE for @p range. Bad arguments give 0. */
NAT_EXTERN double nat_birthday_success(double probes, double open, double range,
                                       bool both_hard);

/** Probes needed for success probability @p p (inverse of the above).
 * Returns 0 for @p p <= 0 and HUGE_VAL for @p p >= 1 or bad arguments. */
NAT_EXTERN double nat_birthday_probes(double p, double open, double range,
                                      bool both_hard);

/** Fill @p out with the strategy against peers of class @p peer (see the
 * table above). @p self_class is a nat_peer_class (NAT_PEER_CLASSES:
 * unknown), @p self_filtering a nat_beh, @p self_pred our own prediction
 * (may be NULL; used for probe counts when we are the sequential side).
 * Probe counts: predict uses the top predicted ports (our own
 * distribution, or 1 for 50 % and NAT_PREDICT_MAX for 99 % when the
 * peer is the sequential side); birthday uses nat_birthday_probes() with
 * NAT_SPRAY_DEFAULT_PORTS open in NAT_BIRTHDAY_RANGE.
 * @return 0, NAT_EINVAL (NULL @p out, @p peer out of range). */
NAT_EXTERN int nat_strategy_for(uint8_t self_class, uint8_t self_filtering,
                                const nat_prediction *self_pred, uint8_t peer,
                                nat_strategy *out);

/** JSON-facing names (nat_beh_name() is in nat/common.h): "preserving",
 * "sequential", "random", "unknown"; "single", "paired", "arbitrary",
 * "unknown"; "direct", "predict", "birthday", "relay"; "easy",
 * "hard-sequential", "hard-random"; nat_fact_name() (above) names the
 * facts "nat_present", "mapping", "filtering", "hairpinning",
 * "allocation". */
NAT_EXTERN const char *nat_pa_kind_name(uint8_t k);
NAT_EXTERN const char *nat_pooling_name(uint8_t p);
NAT_EXTERN const char *nat_strategy_name(uint8_t k);
NAT_EXTERN const char *nat_peer_class_name(uint8_t c);
/** "unknown", "easy", "hard" for nat_verdict.difficulty. */
NAT_EXTERN const char *nat_difficulty_name(uint8_t d);
/** Classic RFC 3489 name from mapping and filtering: "open internet",
 * "symmetric udp firewall" (no NAT, filtering not EI), "full cone",
 * "restricted cone", "port-restricted cone", "symmetric", "udp blocked"
 * (no server answered), "unknown". */
NAT_EXTERN const char *nat_classic_name(const nat_verdict *v);

#ifdef __cplusplus
}
#endif
#endif
