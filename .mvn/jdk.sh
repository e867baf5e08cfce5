# Sourced by ./mvnw and .ci/run: Attune builds with a JDK 25 or newer. Keeps JAVA_HOME when it is
# one, else takes the first JDK >= 25 among the java on PATH and the usual install folders and
# exports it as JAVA_HOME; with none, stops in one line naming what is needed and what was found.
attune_jdk_feature() {
  sed -n 's/^JAVA_VERSION="\([0-9]*\).*/\1/p' "$1/release" 2>/dev/null | head -n1
}

attune_find_jdk() {
  _attune_found=""
  _attune_globbing_off=false
  case $- in *f*) _attune_globbing_off=true; set +f ;; esac
  _attune_path_java=""
  if command -v java >/dev/null 2>&1; then
    _attune_path_java="$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")"
  fi
  for _attune_home in "${JAVA_HOME:-}" "$_attune_path_java" /usr/lib/jvm/* /usr/local/lib/jvm/* /opt/java/* /opt/jdk* \
      "$HOME"/.sdkman/candidates/java/* "$HOME"/.jdks/* /Library/Java/JavaVirtualMachines/*/Contents/Home; do
    [ -n "$_attune_home" ] && [ -x "$_attune_home/bin/javac" ] || continue
    _attune_v="$(attune_jdk_feature "$_attune_home")"
    [ -n "$_attune_v" ] || continue
    [ -n "$_attune_found" ] || _attune_found="Java $_attune_v at $_attune_home"
    if [ "$_attune_v" -ge 25 ]; then
      JAVA_HOME="$_attune_home"
      export JAVA_HOME
      $_attune_globbing_off && set -f
      return 0
    fi
  done
  $_attune_globbing_off && set -f
  echo "attune: the build needs a JDK 25 or newer (JAVA_HOME, the java on PATH, /usr/lib/jvm); found ${_attune_found:-no JDK}; install a JDK 25 (e.g. Temurin 25) and set JAVA_HOME to it" >&2
  return 1
}

attune_find_jdk || exit 1
