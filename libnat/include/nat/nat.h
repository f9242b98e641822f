/* libnat -- NAT traversal diagnostics and hard-NAT toolkit.
 * Including this header includes every public header. */
#ifndef NAT_NAT_H
#define NAT_NAT_H

#include "nat/common.h"
#include "nat/error.h"
#include "nat/addr.h"
#include "nat/stun.h"
#include "nat/txn.h"
#include "nat/udp.h"
#include "nat/resolve.h"
#include "nat/obs.h"
#include "nat/analyze.h"
#include "nat/natbox.h"
#include "nat/link.h"
#include "nat/verdict.h"
#include "nat/probe.h"
#include "nat/hops.h"
#include "nat/stunsrv.h"
#include "nat/quic.h"
#include "nat/capture.h"
#include "nat/replay.h"
#include "nat/cand.h"
#include "nat/ticket.h"
#include "nat/check.h"
#include "nat/rdv_codec.h"
#include "nat/rdv.h"
#include "nat/agent.h"
#include "nat/netcheck.h"
#include "nat/portmap.h"

#endif
