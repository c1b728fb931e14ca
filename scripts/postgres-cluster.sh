#!/usr/bin/env bash
# A private, throw-away PostgreSQL cluster for scim-rotator's tests.
#
#   postgres-cluster.sh start [--dir DIR] [--tls] [--port N]  -> one JSON line on stdout (urls, dirs, pid, timings)
#   postgres-cluster.sh stop DIR [--keep]                     -> pg_ctl stop -m fast, then removes DIR (unless --keep)
#   postgres-cluster.sh restart DIR [fast|immediate]          -> pg_ctl restart (immediate = crash + WAL recovery)
#   postgres-cluster.sh down DIR [fast|immediate] / up DIR    -> stopped for a while (clients get ECONNREFUSED), then back
#   postgres-cluster.sh freeze DIR / thaw DIR                 -> SIGSTOP/SIGCONT the postmaster and its backends: the port
#                                                       still accepts TCP, but nothing answers (a hung server)
#   postgres-cluster.sh psql DIR [DB] [psql args...]          -> psql as the superuser over the private socket
#
# Installs Debian's `postgresql` with apt-get when no /usr/lib/postgresql/*/bin/initdb exists. The server never runs
# as root: as root the cluster belongs to the `postgres` system user (the Debian package creates it); otherwise to the
# calling user. The server listens on 127.0.0.1 only, on a free port, plus a Unix socket inside DIR (mode 0700).
# fsync, synchronous_commit and full_page_writes are on (the defaults, stated explicitly).
#
# Roles: `postgres` (superuser, socket only, trust: the socket directory is private), `scim_owner` (owns database
# `scim` and schema `scim`, runs migrations), `scim_daemon` (LOGIN; SELECT+INSERT on every table scim_owner creates
# in schema scim by default privileges; UPDATE on the mutable tables is granted by the migration, never on events).
# TCP logins use SCRAM-SHA-256; the passwords are in DIR/pgpass (0600, libpq format), never in a URL or argv.
set -euo pipefail

die() { echo "postgres-cluster.sh: $*" >&2; exit 1; }
now_ms() { date +%s%3N; }

find_bin() {
    local dir
    for dir in /usr/lib/postgresql/*/bin; do
        [[ -x $dir/initdb && -x $dir/pg_ctl ]] && { echo "$dir"; return 0; }
    done
    return 1
}

ensure_installed() {
    find_bin >/dev/null && return 0
    [[ $(id -u) -eq 0 ]] || die "PostgreSQL is not installed and this is not root: apt-get install postgresql"
    echo "postgres-cluster.sh: installing postgresql (apt-get)" >&2
    # Do not let the package create and start its own `main` cluster on 5432: tests use private clusters only.
    mkdir -p /etc/postgresql-common/createcluster.d
    echo "create_main_cluster = false" >/etc/postgresql-common/createcluster.d/scim-rotator-tests.conf
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >&2 \
        || { apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >&2; }
    find_bin >/dev/null || die "apt-get install postgresql did not provide initdb"
}

# The unprivileged user the server runs as, and how to run a command as that user.
server_user() {
    if [[ $(id -u) -eq 0 ]]; then
        id -u postgres >/dev/null 2>&1 || useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
        echo postgres
    else
        id -un
    fi
}
as_server() {  # as_server USER cmd...
    local user=$1; shift
    if [[ $(id -u) -eq 0 ]]; then runuser -u "$user" -- "$@"; else "$@"; fi
}

port_is_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
pick_port() {
    local port i
    for i in $(seq 1 50); do
        port=$(( 20000 + (RANDOM * 32768 + RANDOM) % 40000 ))
        port_is_free "$port" && { echo "$port"; return 0; }
    done
    die "no free port found"
}

random_password() { head -c 24 /dev/urandom | base64 | tr -d '/+=' | head -c 32; }

state() { # state DIR KEY
    sed -n "s/^$2=//p" "$1/cluster.env"
}

make_tls() { # make_tls DIR USER: a CA and a server certificate for 127.0.0.1 and localhost
    local dir=$1 user=$2
    command -v openssl >/dev/null || die "--tls needs openssl"
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=scim-rotator test CA" \
        -keyout "$dir/tls/ca.key" -out "$dir/tls/ca.crt" 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" \
        -keyout "$dir/tls/server.key" -out "$dir/tls/server.csr" 2>/dev/null
    printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' \
        >"$dir/tls/ext.cnf"
    openssl x509 -req -in "$dir/tls/server.csr" -CA "$dir/tls/ca.crt" -CAkey "$dir/tls/ca.key" -CAcreateserial \
        -days 2 -extfile "$dir/tls/ext.cnf" -out "$dir/tls/server.crt" 2>/dev/null
    chown "$user" "$dir/tls/server.key" "$dir/tls/server.crt"
    chmod 0600 "$dir/tls/server.key"
    chmod 0644 "$dir/tls/ca.crt"
}

cmd_start() {
    local dir="" tls=0 port=""
    while [[ $# -gt 0 ]]; do
        case $1 in
            --dir) dir=$2; shift 2 ;;
            --tls) tls=1; shift ;;
            --port) port=$2; shift 2 ;;
            *) die "start: unknown option $1" ;;
        esac
    done
    ensure_installed
    local bin user t0 t1 t2 t3
    bin=$(find_bin)
    user=$(server_user)
    [[ -n $dir ]] || dir=$(mktemp -d "${TMPDIR:-/tmp}/scim-pg.XXXXXX")
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    mkdir -p "$dir/data" "$dir/sock" "$dir/tls" "$dir/log"
    # The server user owns the data directory and socket directory; they stay private (0700). DIR itself must be
    # traversable by the server user; its parents too (mktemp's /tmp is).
    chmod 0711 "$dir"
    chown "$user" "$dir/data" "$dir/sock" "$dir/log"
    chmod 0700 "$dir/data" "$dir/sock" "$dir/log"

    local superpw ownerpw daemonpw
    superpw=$(random_password); ownerpw=$(random_password); daemonpw=$(random_password)
    local pwfile="$dir/data.pw"
    printf '%s\n' "$superpw" >"$pwfile"; chown "$user" "$pwfile"; chmod 0600 "$pwfile"

    t0=$(now_ms)
    # C collation (byte order, as SQLite compares text), UTF-8 (the hash chain hashes UTF-8 bytes).
    as_server "$user" "$bin/initdb" -D "$dir/data" -U postgres -E UTF8 --locale=C \
        --auth-local=trust --auth-host=scram-sha-256 --pwfile="$pwfile" >"$dir/initdb.log" 2>&1 \
        || { cat "$dir/initdb.log" >&2; die "initdb failed"; }
    rm -f "$pwfile"
    t1=$(now_ms)

    local conf="$dir/data/postgresql.conf"
    {
        echo "# scim-rotator test cluster"
        echo "listen_addresses = '127.0.0.1'"
        echo "unix_socket_directories = '$dir/sock'"
        echo "fsync = on"
        echo "synchronous_commit = on"
        echo "full_page_writes = on"
        echo "wal_sync_method = fdatasync"
        echo "max_connections = 60"
        echo "shared_buffers = 32MB"
        echo "password_encryption = 'scram-sha-256'"
        echo "log_line_prefix = '%m [%p] %q%u@%d '"
        echo "log_min_messages = warning"
        if [[ $tls -eq 1 ]]; then
            echo "ssl = on"
            echo "ssl_cert_file = '$dir/tls/server.crt'"
            echo "ssl_key_file = '$dir/tls/server.key'"
        fi
    } >>"$conf"
    if [[ $tls -eq 1 ]]; then
        chmod 0755 "$dir/tls"
        make_tls "$dir" "$user"
    fi
    # Only what the tests use: superuser over the private socket, every role over loopback TCP with SCRAM.
    cat >"$dir/data/pg_hba.conf" <<EOF
local   all   postgres                   trust
host    all   all        127.0.0.1/32    scram-sha-256
EOF
    chown "$user" "$dir/data/pg_hba.conf"

    local attempt started=0
    for attempt in 1 2 3 4 5; do
        [[ -n $port ]] || port=$(pick_port)
        sed -i '/^port = /d' "$conf"; echo "port = $port" >>"$conf"
        t2=$(now_ms)
        if as_server "$user" "$bin/pg_ctl" -D "$dir/data" -l "$dir/log/server.log" -w -t 30 start >/dev/null 2>&1; then
            started=1; break
        fi
        grep -q "could not bind\|Address already in use" "$dir/log/server.log" 2>/dev/null || break
        port=""
    done
    [[ $started -eq 1 ]] || { tail -20 "$dir/log/server.log" >&2; die "pg_ctl start failed"; }
    t3=$(now_ms)

    local psql=("$bin/psql" -X -q -v ON_ERROR_STOP=1 -h "$dir/sock" -p "$port" -U postgres)
    as_server "$user" "${psql[@]}" -d postgres >/dev/null <<EOF
CREATE ROLE scim_owner LOGIN PASSWORD '$ownerpw';
CREATE ROLE scim_daemon LOGIN PASSWORD '$daemonpw';
CREATE DATABASE scim OWNER scim_owner ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0;
REVOKE ALL ON DATABASE scim FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE scim TO scim_owner, scim_daemon;
ALTER ROLE scim_owner IN DATABASE scim SET search_path = scim;
ALTER ROLE scim_daemon IN DATABASE scim SET search_path = scim;
EOF
    as_server "$user" "${psql[@]}" -d scim >/dev/null <<EOF
REVOKE ALL ON SCHEMA public FROM PUBLIC;
CREATE SCHEMA scim AUTHORIZATION scim_owner;
GRANT USAGE ON SCHEMA scim TO scim_daemon;
-- Every table scim_owner creates in schema scim: the daemon may read it and append to it. UPDATE on the mutable
-- tables (rotations, keys, sinks, policy_state, leases, meta) is granted by the migration; never on events.
ALTER DEFAULT PRIVILEGES FOR ROLE scim_owner IN SCHEMA scim GRANT SELECT, INSERT ON TABLES TO scim_daemon;
ALTER DEFAULT PRIVILEGES FOR ROLE scim_owner IN SCHEMA scim GRANT USAGE, SELECT ON SEQUENCES TO scim_daemon;
EOF

    # libpq password file (hostname:port:database:username:password), 0600, owned by the caller.
    local pgpass="$dir/pgpass"
    umask 077
    {
        echo "# scim-rotator test cluster"
        echo "127.0.0.1:$port:*:postgres:$superpw"
        echo "127.0.0.1:$port:scim:scim_owner:$ownerpw"
        echo "127.0.0.1:$port:scim:scim_daemon:$daemonpw"
        echo "localhost:$port:scim:scim_owner:$ownerpw"
        echo "localhost:$port:scim:scim_daemon:$daemonpw"
    } >"$pgpass"
    chmod 0600 "$pgpass"

    local pid
    pid=$(head -1 "$dir/data/postmaster.pid")
    cat >"$dir/cluster.env" <<EOF
bin=$bin
user=$user
port=$port
data=$dir/data
sock=$dir/sock
EOF
    local ssl="disable" extra=""
    if [[ $tls -eq 1 ]]; then
        ssl="verify-full"
        extra=",\"ca\":\"$dir/tls/ca.crt\""
    fi
    local q="sslmode=$ssl"
    [[ $tls -eq 1 ]] && q="$q&sslrootcert=$dir/tls/ca.crt"
    local host=127.0.0.1
    [[ $tls -eq 1 ]] && host=localhost
    printf '{"dir":"%s","data":"%s","socket":"%s","port":%s,"pid":%s,"server_user":"%s","version":"%s","pgpassfile":"%s","superuser_url":"postgres://postgres@127.0.0.1:%s/postgres?sslmode=disable","owner_url":"postgres://scim_owner@%s:%s/scim?%s","daemon_url":"postgres://scim_daemon@%s:%s/scim?%s","log":"%s","initdb_ms":%s,"start_ms":%s,"total_ms":%s%s}\n' \
        "$dir" "$dir/data" "$dir/sock" "$port" "$pid" "$user" "$("$bin/postgres" --version | awk '{print $3}')" \
        "$pgpass" "$port" "$host" "$port" "$q" "$host" "$port" "$q" "$dir/log/server.log" \
        $((t1 - t0)) $((t3 - t2)) $(( $(now_ms) - t0 )) "$extra"
}

load() { # load DIR
    [[ -f $1/cluster.env ]] || die "$1 is not a cluster directory made by postgres-cluster.sh start"
    BIN=$(state "$1" bin); USER_=$(state "$1" user); PORT=$(state "$1" port); DATA=$(state "$1" data)
}

cmd_stop() {
    local dir=${1:?stop DIR}; local keep=${2:-}
    load "$dir"
    if [[ -f $DATA/postmaster.pid ]]; then
        # A frozen server cannot stop: thaw first.
        cmd_thaw "$dir" 2>/dev/null || true
        as_server "$USER_" "$BIN/pg_ctl" -D "$DATA" -m fast -w -t 30 stop >/dev/null
    fi
    [[ $keep == --keep ]] || rm -rf "$dir"
}

cmd_restart() {
    local dir=${1:?restart DIR}; local mode=${2:-fast}
    load "$dir"
    local t0; t0=$(now_ms)
    as_server "$USER_" "$BIN/pg_ctl" -D "$DATA" -l "$dir/log/server.log" -m "$mode" -w -t 60 restart >/dev/null
    echo "{\"restarted\":true,\"mode\":\"$mode\",\"ms\":$(( $(now_ms) - t0 )),\"pid\":$(head -1 "$DATA/postmaster.pid")}"
}

cmd_down() {
    local dir=${1:?down DIR}; local mode=${2:-fast}
    load "$dir"
    as_server "$USER_" "$BIN/pg_ctl" -D "$DATA" -m "$mode" -w -t 60 stop >/dev/null
}

cmd_up() {
    local dir=${1:?up DIR}
    load "$dir"
    as_server "$USER_" "$BIN/pg_ctl" -D "$DATA" -l "$dir/log/server.log" -w -t 60 start >/dev/null
}

# The postmaster and every process it started (backends, checkpointer, walwriter, ...), by pid.
server_pids() {
    local pm; pm=$(head -1 "$DATA/postmaster.pid")
    echo "$pm"
    ps -o pid= --ppid "$pm" || true
}

cmd_freeze() {
    local dir=${1:?freeze DIR}; load "$dir"
    # postmaster first, so that it does not notice its children stopping
    kill -STOP $(server_pids)
}

cmd_thaw() {
    local dir=${1:?thaw DIR}; load "$dir"
    kill -CONT $(server_pids)
}

cmd_psql() {
    local dir=${1:?psql DIR}; shift; local db=${1:-postgres}; [[ $# -gt 0 ]] && shift
    load "$dir"
    as_server "$USER_" "$BIN/psql" -X -h "$dir/sock" -p "$PORT" -U postgres -d "$db" "$@"
}

case ${1:-} in
    start) shift; cmd_start "$@" ;;
    stop) shift; cmd_stop "$@" ;;
    restart) shift; cmd_restart "$@" ;;
    down) shift; cmd_down "$@" ;;
    up) shift; cmd_up "$@" ;;
    freeze) shift; cmd_freeze "$@" ;;
    thaw) shift; cmd_thaw "$@" ;;
    psql) shift; cmd_psql "$@" ;;
    *) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
