/* libnat -- the birthday spray for hard NATs: the odds, the plan both
 * peers agree on, and a Monte Carlo over natbox's NAT model. Pure: no
 * I/O, no clock (the agent, nat/agent.h, runs the spray on its sockets).
 *
 * The technique: the peer behind a NAT that maps per destination with
 * unpredictable ports (the acceptor) opens K sockets and sends from each
 * to the other peer's public address, so that its NAT holds K mappings
 * that admit that address. The other peer (the dialer, behind an
 * endpoint-independent mapping) sends authenticated connectivity checks
 * from its one socket to distinct ports of the acceptor's public IP; a
 * check that lands on one of the K mapped ports gets through, and the
 * answer comes back through the dialer's NAT, which the check opened.
 * With K mapped ports among N possible and m distinct probes the chance
 * of a hit is P = 1 - prod_{i=0}^{m-1} (N-K-i)/(N-i) (nat_bday_odds()).
 *
 * In the tree: libnat/src/birthday/ (this header is its main one):
 * odds.c (the formula and its inverses), plan.c (roles, parameters,
 * caps, the refusal of both-hard pairs with its estimate, the dialer's
 * target order), sim.c (the Monte Carlo). The spray's sans-I/O engine is
 * in punch/ beside the checks (spray.c), its driver in agent/.
 */
#ifndef NAT_BIRTHDAY_H
#define NAT_BIRTHDAY_H

#include <stdbool.h>
#include <stdint.h>

#include "nat/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- caps (docs/birthday.md says where each figure comes from) */

/** Default acceptor sockets (K). */
#define NAT_BDAY_SOCKETS_DEFAULT 256
/** Default probe budget of the dialer (m): 99.9 % with K = 256 over the
 * full port range. */
#define NAT_BDAY_PROBES_DEFAULT 2048
/** Default probe rate, per second. */
#define NAT_BDAY_RATE_DEFAULT 250
/** Hard limits no flag can raise. */
#define NAT_BDAY_SOCKETS_MAX 1024
#define NAT_BDAY_PROBES_MAX  16384
#define NAT_BDAY_RATE_MAX    1000
/** The port range a NAT draws from when nothing narrower is known. */
#define NAT_BDAY_PORT_LO 1024
#define NAT_BDAY_PORT_HI 65535

/* ---- the odds (odds.c) */

/** The chance that @p m distinct probes, drawn without repetition among
 * @p n ports, hit at least one of @p k ports mapped uniformly at random
 * among the same @p n: 1 - prod_{i=0}^{m-1} (n-k-i)/(n-i). 0 when k or m
 * is 0; 1 when m > n - k. */
NAT_EXTERN double nat_bday_odds(uint32_t n, uint32_t k, uint32_t m);

/** The fewest probes whose nat_bday_odds() reaches @p p (0 < p < 1);
 * 0 for k == 0 or p out of range (never reached). */
NAT_EXTERN uint32_t nat_bday_probes_for(uint32_t n, uint32_t k, double p);

/** Both sides hard: every probe of either side makes a new mapping on
 * its own NAT at an unknown port, so a path needs a probe of one side
 * from port a to port b and one of the other from b to a: with @p m
 * probes a side over @p n ports, 1 - (1 - 1/n^2)^(m*m) (about 170,000
 * probes a side for 99.9 % over the full range). An estimate only. */
NAT_EXTERN double nat_bday_odds_both(uint32_t n, uint64_t m);

/** The probes a side needs for @p p (0 < p < 1) when both are hard:
 * ceil(n * sqrt(-ln(1 - p))); 0 for p out of range. */
NAT_EXTERN uint64_t nat_bday_probes_for_both(uint32_t n, double p);

/* ---- the plan both peers agree on (plan.c) */

/** What a peer says about itself in its blob (and what the user set). */
typedef struct nat_bday_side {
  int mapping;          /**< nat_beh, -1 or 0: unknown */
  int alloc;            /**< nat_pa_kind (nat/verdict.h), 0: unknown */
  int32_t delta;        /**< sequential: the step */
  uint16_t last;        /**< sequential: the latest port seen, 0: none */
  uint16_t lo, hi;      /**< ports the NAT draws from (measured or set);
                             0, 0: unknown */
  uint32_t sockets;     /**< K this peer opens as the acceptor */
  uint32_t probes;      /**< m this peer sends as the dialer */
  uint32_t rate;        /**< probes per second as the dialer */
  bool enabled;         /**< false: --no-birthday */
  bool allow_both_hard; /**< the explicit flag */
  bool force_acceptor;  /**< --role acceptor (ticket mode, no verdicts) */
  bool force_dialer;    /**< --role dialer */
  bool mapped;          /**< the gateway forwards a port to this peer's
                             socket (a mapped candidate, nat/portmap.h):
                             reachable from any address, so not hard */
} nat_bday_side;

typedef enum nat_bday_role {
  NAT_BDAY_NONE = 0,     /**< no spray: the pair is easy, or refused */
  NAT_BDAY_ACCEPTOR = 1, /**< we open K sockets */
  NAT_BDAY_DIALER = 2,   /**< we spray from our one socket */
  NAT_BDAY_BOTH = 3      /**< both NATs hard and both peers allowed it:
                              each side sprays from its K sockets in turn
                              to ports of the other's IP; any keyed check
                              that gets through proves a path (the
                              tie-breakers pick the QUIC client) */
} nat_bday_role;

/** Why there is no spray. */
typedef enum nat_bday_why {
  NAT_BDAY_WHY_SPRAY = 0,      /**< there is one (role set) */
  NAT_BDAY_WHY_EASY,           /**< no side is hard: plain checks work */
  NAT_BDAY_WHY_PREDICTED,      /**< the hard side is sequential: predicted
                                    candidates (the spray still runs over
                                    the predicted window first) */
  NAT_BDAY_WHY_DISABLED,       /**< a peer said --no-birthday */
  NAT_BDAY_WHY_UNKNOWN,        /**< a mapping is unknown: no verdict to act
                                    on (ticket mode without --role) */
  NAT_BDAY_WHY_BOTH_HARD,      /**< refused: both sides hard (estimate) */
  NAT_BDAY_WHY_ROLES_CONFLICT, /**< both forced into the same role */
  NAT_BDAY_WHY_MAPPED          /**< a peer holds a port mapping: the
                                    other's checks reach it, no spray */
} nat_bday_why;

typedef struct nat_bday_plan {
  int role;         /**< nat_bday_role, ours */
  int why;          /**< nat_bday_why */
  uint32_t sockets; /**< K: the acceptor's, capped */
  uint32_t probes;  /**< m: the dialer's, capped */
  uint32_t rate;    /**< the dialer's, capped */
  uint16_t lo, hi;  /**< the acceptor's range the dialer sprays first */
  uint32_t n;       /**< ports in that range (both hard: the wider of
                         the two ranges) */
  double p_success; /**< nat_bday_odds(n, sockets, probes); both hard:
                         nat_bday_odds_both(n, probes), and probes_50,
                         probes_99, t_median as that model has them */
  uint32_t probes_50, probes_99; /**< for 50 % and 99 % */
  nat_tstamp t_expected;         /**< time to spend all probes at the rate */
  nat_tstamp t_median;           /**< time to the 50 % probe at the rate */
  /** both hard (why BOTH_HARD, or allowed): per side probes for 99.9 %,
   * minutes at the rate, NAT table entries each NAT would hold */
  uint64_t both_probes, both_entries;
  double both_minutes;
} nat_bday_plan;

/** The plan from our side and the peer's, the same on both peers (the
 * roles mirrored): one side hard (mapping AD or APD) and the other
 * endpoint-independent makes the hard one the acceptor; the parameters
 * are the acceptor's sockets and the dialer's probes and rate, each
 * clamped to the hard limits; the range is the acceptor's (the full one
 * when unknown). Both hard: refused (NAT_BDAY_WHY_BOTH_HARD, with the
 * estimate) unless both peers allow it, then NAT_BDAY_BOTH with the
 * smaller of each parameter and the odds of nat_bday_odds_both() over the
 * peer's range. @return 0, NAT_EINVAL (NULL). */
NAT_EXTERN int nat_bday_plan_make(const nat_bday_side *us,
                                  const nat_bday_side *peer,
                                  nat_bday_plan *out);

/** A one-line reason for a nat_bday_why; never NULL. */
NAT_EXTERN const char *nat_bday_why_strerror(int why);
/** A short key: "spray", "easy", "predicted", "disabled", "unknown",
 * "both-hard", "roles-conflict", "mapped"; never NULL. */
NAT_EXTERN const char *nat_bday_why_name(int why);
/** "none", "acceptor", "dialer", "both"; never NULL. */
NAT_EXTERN const char *nat_bday_role_name(int role);

/** The dialer's targets, without repetition: the acceptor's range (or,
 * sequential, the predicted window after @c last) first in a random
 * order, then the rest of 1024-65535. Each tier's order is a keyed
 * pseudo-random permutation (a 4-round Feistel network over the next
 * even power of two, walking past values outside the tier), so that any
 * run of ports a NAT allocates meets the probes as a random set would
 * (an arithmetic progression misses runs shorter than its gaps). An
 * iterator over a bitmap; no allocation. */
typedef struct nat_bday_targets {
  uint8_t sent[65536 / 8];
  uint32_t tier_lo[3], tier_n[3]; /* up to 3 tiers */
  unsigned ntiers, tier;
  uint32_t i;      /* position in the tier's permutation domain */
  uint32_t key[4]; /* the tier's round keys */
  unsigned hbits;  /* half the domain's bits (domain 2^(2*hbits)) */
  uint32_t count;  /* targets given so far */
  nat_rand_fn rand;
  void *rand_ctx;
} nat_bday_targets;

NAT_EXTERN void nat_bday_targets_init(nat_bday_targets *t,
                                      const nat_bday_plan *plan,
                                      const nat_bday_side *acceptor,
                                      nat_rand_fn rand, void *rand_ctx);
/** The next port; 0 once every port was given. */
NAT_EXTERN uint16_t nat_bday_targets_next(nat_bday_targets *t);

/* ---- the Monte Carlo (sim.c) */

/** The NAT the simulation sprays at (natbox's model, nat/natbox.h). */
typedef struct nat_bday_sim_config {
  uint32_t sockets;        /**< K */
  uint32_t probes;         /**< m, the dialer's budget */
  uint32_t rate;           /**< probes per second (for timeouts; 0: 250) */
  uint8_t alloc;           /**< nat_alloc (natbox.h): random or sequential */
  int32_t delta;           /**< sequential step (default 1) */
  double interleave;       /**< sequential jitter, as natbox */
  unsigned interleave_max; /**< as natbox (default 3) */
  uint16_t port_min, port_max; /**< the NAT's range (default 1024-65535) */
  uint32_t block;              /**< carrier NAT port block per subscriber
                                    (0: none): the acceptor's ports come from
                                    one block of this size at a random place
                                    in the range */
  bool dialer_knows_range;     /**< the dialer sprays the range (or block)
                                    first, as the plan does when it is known */
  uint32_t max_mappings;       /**< session table limit (0: none): mappings
                                    past it are not made */
  nat_tstamp timeout;          /**< mapping lifetime without keepalives (0:
                                    none): mappings older than this when a
                                    probe arrives are gone */
  uint32_t trials;
  uint64_t seed;
} nat_bday_sim_config;

typedef struct nat_bday_sim_result {
  uint32_t trials, hits;
  double rate, ci_lo, ci_hi; /**< measured success and its Wilson 95 %
                                  interval */
  double predicted;          /**< nat_bday_odds() for the same n, K, m */
  double mean_probe;         /**< mean index (1-based) of the hitting probe */
  uint64_t probes_sent;      /**< over all trials */
  double seconds;            /**< wall time the run took */
  double probes_per_sec;     /**< simulated probes per second of CPU */
} nat_bday_sim_result;

/** Run the simulation. @return 0, NAT_EINVAL (NULL, no trials, K or m 0,
 * an allocation other than random or sequential, interleave outside 0..1,
 * port_min > port_max, a range or block that cannot hold K ports, a block
 * larger than the range). */
NAT_EXTERN int nat_bday_sim_run(const nat_bday_sim_config *cfg,
                                nat_bday_sim_result *out);

/** The Wilson 95 % interval of @p hits in @p n trials. */
NAT_EXTERN void nat_bday_wilson(uint32_t hits, uint32_t n, double *lo,
                                double *hi);

#ifdef __cplusplus
}
#endif
#endif
