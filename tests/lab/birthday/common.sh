# shellcheck shell=bash
# Shared by the birthday lab tests (sourced after tests/lab/natlab/common.sh).

# The pairs of the birthday experiment as `natlab up` arguments:
# NAME TOPOLOGY [--set ...]. ha is the easy side, hb the hard one (both
# hard for the last two).
bday_pairs() {
  cat <<'P'
port-restricted:symmetric pair --set a=port-restricted --set b=symmetric
full-cone:symmetric pair --set a=full-cone --set b=symmetric
port-restricted:symmetric-4096 birthday-range
port-restricted:cgn-block birthday-cgn
symmetric-sequential:symmetric pair --set a=symmetric-sequential --set b=symmetric
symmetric:symmetric pair --set a=symmetric --set b=symmetric
P
}
