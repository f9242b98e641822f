/* libnat -- private state of the NAT model (natbox*.c).
 *
 * Mappings, permits (remote endpoints a mapping has sent to, for
 * filtering) and internal hosts live in pools addressed by uint32 index,
 * with chained hash tables over them. Because the timeout is the same for
 * every mapping, a list ordered by last refresh (an LRU list) is an exact
 * expiry queue: expiring pops from its head, O(1) per expired entry. */
#ifndef NAT_NATBOX_INTERNAL_H
#define NAT_NATBOX_INTERNAL_H

#include <stdbool.h>

#include "nat/natbox.h"

#define NAT__NB_NIL UINT32_MAX
/** Largest pool we index (well under NAT__NB_NIL). */
#define NAT__NB_MAX_ENTRIES (1u << 28)

/** Intrusive doubly linked list links (indices). */
typedef struct nat__nb_link {
  uint32_t prev, next;
} nat__nb_link;

/** A list head (first, last) over one pool's links. */
typedef struct nat__nb_list {
  uint32_t head, tail;
} nat__nb_list;

/** Sequential allocation state (global or per host). */
typedef struct nat__nb_seq {
  int32_t last;
  bool started;
} nat__nb_seq;

typedef struct nat__nb_map {
  uint32_t int_ip, key_dip, ext_ip; /**< key_dip: 0 unless AD/APD mapping */
  uint16_t int_port, key_dport;     /**< key_dport: 0 unless APD mapping */
  uint16_t ext_port;
  uint8_t ext_idx;
  bool live;
  uint32_t host;
  nat_tstamp last;
  uint32_t key_next, ext_next; /**< hash chains (free list: key_next) */
  nat__nb_link lru;
  uint32_t permits; /**< first permit of this mapping */
} nat__nb_map;

typedef struct nat__nb_permit {
  uint32_t map, rip;
  uint16_t rport; /**< 0 for address-dependent filtering */
  bool live;
  nat_tstamp last;
  uint32_t hnext;     /**< hash chain (free list) */
  nat__nb_link lru;   /**< global expiry order */
  nat__nb_link owner; /**< the mapping's permit list */
} nat__nb_permit;

typedef struct nat__nb_host {
  uint32_t ip;
  uint32_t nmappings;
  uint32_t hnext;    /**< hash chain (free list) */
  uint32_t block;    /**< port block: its index + 1, 0: none held */
  uint8_t ext_idx;   /**< paired pooling */
  uint8_t block_ips; /**< the public IPs (bits) the block is held on */
  bool live;
  nat__nb_seq seq;
} nat__nb_host;

/** A pool with a chained hash table (buckets) and a free list. */
typedef struct nat__nb_pool {
  uint32_t cap, max, count, free;
  uint32_t *bkt; /**< heads of primary chains */
  uint32_t mask; /**< bucket count - 1 */
} nat__nb_pool;

struct nat_box {
  nat_box_config cfg; /**< normalized copy */
  uint32_t range;     /**< port_max - port_min + 1 */
  bool overload;      /**< effective: cfg.overload and APD mapping */
  bool need_permits;  /**< filtering stricter than mapping */
  uint64_t rng, salt;
  nat_tstamp now; /**< largest time seen (the clock never runs back) */
  nat_box_stats st;
  uint32_t *inuse[NAT_BOX_MAX_PUBLIC]; /**< mappings per port - port_min */
  uint32_t nblocks;    /**< port blocks in the range (block_size set) */
  uint8_t *block_used; /**< per block: the public IPs (bits) holding it */
  nat__nb_seq seq;     /**< global sequential counter */

  nat__nb_map *maps;
  nat__nb_pool mp;
  uint32_t *ext_bkt; /**< second table over maps: external endpoint */
  nat__nb_list map_lru;

  nat__nb_permit *pms;
  nat__nb_pool pp;
  nat__nb_list pm_lru;

  nat__nb_host *hosts;
  nat__nb_pool hp;
};

/* natbox_rand.c: PRNG and hash (the bottom: calls nothing here). */
uint64_t nat__nb_rand(nat_box *b);
uint32_t nat__nb_rand_below(nat_box *b, uint32_t n);
uint32_t nat__nb_hash(uint64_t salt, uint64_t a, uint64_t c);

/* natbox_map.c: tables, lifecycle, expiry (uses natbox_rand.c). */
int nat__nb_tables_init(nat_box *b);
void nat__nb_tables_free(nat_box *b);
uint32_t nat__nb_map_find(const nat_box *b, uint32_t iip, uint16_t iport,
                          uint32_t kdip, uint16_t kdport);
uint32_t nat__nb_ext_find(const nat_box *b, unsigned eidx, uint16_t eport,
                          uint32_t rip, uint16_t rport);
int nat__nb_map_reserve(nat_box *b, uint32_t iip, uint32_t *hi);
uint32_t nat__nb_map_insert(nat_box *b, uint32_t hi, uint32_t iip,
                            uint16_t iport, uint32_t kdip, uint16_t kdport,
                            unsigned eidx, uint16_t eport);
void nat__nb_map_touch(nat_box *b, uint32_t mi);
uint32_t nat__nb_permit_find(const nat_box *b, uint32_t mi, uint32_t rip,
                             uint16_t rport);
void nat__nb_permit_note(nat_box *b, uint32_t mi, uint32_t rip, uint16_t rport);
void nat__nb_permit_touch(nat_box *b, uint32_t pi);
void nat__nb_expire(nat_box *b);
void nat__nb_block_release(nat_box *b, nat__nb_host *h);

/* natbox_alloc.c: port allocation and new mappings (uses natbox_map.c). */
int nat__nb_map_create(nat_box *b, uint32_t iip, uint16_t iport, uint32_t kdip,
                       uint16_t kdport, uint32_t *out);

#endif
