# Shared helpers for scripts/*; sourced, not run.
# shellcheck shell=bash
kpipe_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=versions.env
. "$kpipe_root/scripts/versions.env"

# Where fetched artefacts live: outside the tracked tree, shared by clones.
kpipe_cache() { printf '%s\n' "${KPIPE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kpipe}"; }
kpipe_kafka_home() { printf '%s/kafka-%s\n' "$(kpipe_cache)" "$KAFKA_VERSION"; }
kpipe_s3proxy_home() { printf '%s/s3proxy-%s\n' "$(kpipe_cache)" "$S3PROXY_VERSION"; }

# kpipe_venv DIR REQUIREMENTS: creates the virtual environment DIR from the pinned REQUIREMENTS
# unless its stamp (a hash of that file) says it is current. pip is bounded: a stalled index
# fails the setup instead of hanging it.
kpipe_venv() {
  local dir=$1 req=$2 sum
  sum=$(sha256sum "$req" | cut -c1-16)
  [ -f "$dir/.stamp-$sum" ] && return 0
  printf 'setup: creating %s from %s\n' "$dir" "$req" >&2
  [ -x "$dir/bin/python" ] || timeout 120 python3 -m venv "$dir"
  timeout 1200 "$dir/bin/python" -m pip install -q --disable-pip-version-check --timeout 60 -r "$req"
  rm -f "$dir"/.stamp-*
  touch "$dir/.stamp-$sum"
}

# kpipe_spark_jars POM DEST PYSPARK_JARS: resolves POM's runtime dependencies from Maven Central
# into DEST, keeping only the jars PySpark does not ship (PYSPARK_JARS is its jars folder): a
# second, older copy of a jar it ships (scala-library, slf4j, antlr4, the Hadoop client) on the
# class path would shadow its own. Skipped when DEST's stamp (a hash of POM) is current, so a
# job run afterwards gets everything through spark.jars and fetches nothing.
kpipe_spark_jars() {
  local pom=$1 dest=$2 pyspark_jars=$3 sum jar artifact
  sum=$(sha256sum "$pom" | cut -c1-16)
  [ -f "$dest/.stamp-$sum" ] && return 0
  printf 'setup: resolving %s from Maven Central into %s\n' "$pom" "$dest" >&2
  rm -rf "$dest" "$dest.all"
  timeout 900 mvn -q -B -f "$pom" dependency:copy-dependencies -DincludeScope=runtime \
    -DoutputDirectory="$dest.all" >&2
  mkdir -p "$dest"
  for jar in "$dest.all"/*.jar; do
    artifact=$(basename "$jar" | sed -E 's/-[0-9][^-]*(-[^-]*)?\.jar$//')
    compgen -G "$pyspark_jars/$artifact-[0-9]*.jar" >/dev/null || cp "$jar" "$dest/"
  done
  rm -rf "$dest.all"
  touch "$dest/.stamp-$sum"
}
