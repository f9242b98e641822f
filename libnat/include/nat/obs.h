/* libnat -- the observation log.
 *
 * One nat_obs records one STUN transaction as seen by the client: where the
 * request went from and to, what it asked for (CHANGE-REQUEST, classic
 * RFC 3489), and what came back (mapped address, RESPONSE-ORIGIN,
 * OTHER-ADDRESS of RFC 5780 section 7, CHANGED-ADDRESS of RFC 3489
 * section 11.2.3, SOFTWARE, RTT) or that nothing did. Live runs and pcap
 * replays both produce a nat_obslog; the analyzers (nat/analyze.h) are pure
 * functions of it. Observations are plain values: copy them freely.
 */
#ifndef NAT_OBS_H
#define NAT_OBS_H

#include <stdbool.h>

#include "nat/addr.h"
#include "nat/common.h"
#include "nat/txn.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Which behaviour test a transaction belonged to. Open: values are only
 * ever added. */
typedef enum nat_obs_test {
  NAT_OBS_BASIC = 0,      /**< plain Binding request (netcheck's first run) */
  NAT_OBS_MAPPING = 1,    /**< RFC 5780 section 4.3 */
  NAT_OBS_FILTERING = 2,  /**< RFC 5780 section 4.4 */
  NAT_OBS_HAIRPIN = 3,    /**< RFC 5780 section 4.5 */
  NAT_OBS_ALLOCATION = 4, /**< port allocation pattern */
  NAT_OBS_LIFETIME = 5    /**< RFC 5780 section 4.6 */
} nat_obs_test;

/** Bytes kept of the SOFTWARE attribute (with the NUL). */
#define NAT_OBS_SOFTWARE_LEN 64
/** Bytes kept of an ERROR-CODE reason phrase (with the NUL). */
#define NAT_OBS_REASON_LEN 64

/** One STUN transaction. Zero-initialised fields mean "absent". */
typedef struct nat_obs {
  /* --- the request */
  nat_addr local;         /**< local transport address the request left from */
  nat_addr server;        /**< where the request went (NAT_AF_NONE if the
                               server's name never resolved) */
  uint16_t server_idx;    /**< index into the caller's server table */
  uint8_t test;           /**< nat_obs_test */
  bool classic;           /**< the request was a classic RFC 3489 one */
  uint32_t change_flags;  /**< CHANGE-REQUEST value sent, 0 for none */
  nat_tstamp sent_at;     /**< first transmission, ns since the run began */
  unsigned transmissions; /**< how many times the request was sent */
  nat_tstamp idle;        /**< NAT_OBS_LIFETIME: how long the mapping was
                               left idle before this probe */
  uint16_t response_port; /**< RESPONSE-PORT sent (RFC 5780 7.5), 0 none */

  /* --- the outcome */
  /** 0: a success response; NAT_ESTUNERR: an error response (see
   * error_code); NAT_ETIMEDOUT: no response; other negative codes: the
   * request could not be made (NAT_ERESOLVE, a UV_E* send error, ...). */
  int status;
  int error_code;                        /**< ERROR-CODE (300..699) or 0 */
  char error_reason[NAT_OBS_REASON_LEN]; /**< its reason phrase, truncated */
  nat_tstamp rtt; /**< first transmission to response, ns (0 if none) */
  nat_addr from;  /**< source address of the response */
  bool has_mapped;
  nat_addr mapped; /**< XOR-MAPPED-ADDRESS, else MAPPED-ADDRESS */
  bool has_response_origin;
  nat_addr response_origin; /**< RESPONSE-ORIGIN (RFC 5780 section 7.3) */
  bool has_other_address;
  nat_addr other_address; /**< OTHER-ADDRESS (RFC 5780 section 7.4) */
  bool has_changed_address;
  nat_addr changed_address; /**< CHANGED-ADDRESS (RFC 3489 section 11.2.3) */
  char software[NAT_OBS_SOFTWARE_LEN]; /**< SOFTWARE, truncated, "" if none */
} nat_obs;

/** Fill @p o from a finished transaction: the whole of @p o is overwritten.
 * Sets local (from @p local, may be NULL), server (r->dst), status, rtt and
 * transmissions, and from a response: the source address, the mapped
 * address, RESPONSE-ORIGIN, OTHER-ADDRESS, CHANGED-ADDRESS, SOFTWARE and
 * ERROR-CODE. A malformed optional attribute is treated as absent.
 * NAT_ECANCELED is kept as it is; a result with status 0 but no response
 * is recorded as NAT_EINVAL. The caller then sets server_idx, test,
 * classic, change_flags and sent_at, which a result does not carry.
 * @return 0, or NAT_EINVAL if @p o or @p r is NULL. */
NAT_EXTERN int nat_obs_from_result(nat_obs *o, const nat_txn_result *r,
                                   const nat_addr *local);

/** The family an observation belongs to: the server's, else the local
 * address's, else NAT_AF_NONE. */
NAT_EXTERN uint8_t nat_obs_family(const nat_obs *o);

/** Name of a nat_obs_test ("basic", "mapping", ...), or "unknown". */
NAT_EXTERN const char *nat_obs_test_name(uint8_t test);

/** A growable list of observations; a value object (init/free).
 * Zero-initialising it is the same as nat_obslog_init(). */
typedef struct nat_obslog {
  nat_obs *v;
  size_t n;
  size_t cap;
} nat_obslog;

/** Make @p log empty. Does not allocate. */
NAT_EXTERN void nat_obslog_init(nat_obslog *log);

/** Release the storage of @p log and make it empty again. NULL is fine. */
NAT_EXTERN void nat_obslog_free(nat_obslog *log);

/** Append a copy of @p o.
 * @return 0, NAT_EINVAL (NULL argument), NAT_ENOMEM (the log is unchanged).
 */
NAT_EXTERN int nat_obslog_append(nat_obslog *log, const nat_obs *o);

/** Number of observations in @p log (0 for NULL). */
NAT_EXTERN size_t nat_obslog_count(const nat_obslog *log);

/** The observation at index @p i, or NULL if @p i is out of range. The
 * pointer is valid until the next append or free. */
NAT_EXTERN const nat_obs *nat_obslog_at(const nat_obslog *log, size_t i);

#ifdef __cplusplus
}
#endif
#endif
