# Shared helpers for scripts/*; sourced, not run.
# shellcheck shell=bash
kpipe_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=versions.env
. "$kpipe_root/scripts/versions.env"

# Where fetched artefacts live: outside the tracked tree, shared by clones.
kpipe_cache() { printf '%s\n' "${KPIPE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kpipe}"; }
kpipe_kafka_home() { printf '%s/kafka-%s\n' "$(kpipe_cache)" "$KAFKA_VERSION"; }
