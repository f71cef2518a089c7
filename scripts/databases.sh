#!/bin/sh
# Test database servers: a PostgreSQL 15 cluster and a MariaDB server of our own,
# listening on 127.0.0.1 only, on fixed ports that are not the defaults, with data
# under $KEYCRM_DB_DIR (default /tmp/keycrm-stock-sync-databases). Installs the
# Debian packages when missing and starts each server unless it already answers;
# a second run takes a second or two.
#
# Prints, on stdout and nothing else there, the variables the tests read:
#   eval "$(sh scripts/databases.sh)"
# Logs go to stderr. `sh scripts/databases.sh stop` stops both servers.
set -eu

DIR=${KEYCRM_DB_DIR:-/tmp/keycrm-stock-sync-databases}
PG_PORT=${KEYCRM_PG_PORT:-54329}
MY_PORT=${KEYCRM_MYSQL_PORT:-33069}
PG_BIN=/usr/lib/postgresql/15/bin
DB_NAME=keycrm_test
DB_USER=keycrm
# A throwaway password for servers that only listen on loopback. The tests use it
# to check that a password in --db never reaches the output.
DB_PASSWORD=keycrm-test-Pa55word

say() { printf 'databases: %s\n' "$*" >&2; }
die() {
  say "$*"
  exit 1
}

# Every command's chatter goes to stderr: stdout is for the variables alone.
quiet() { "$@" >&2; }

# MariaDB's administrator is the system user that runs the script (socket
# authentication): root, or the owner of the data directory.
if [ "$(id -u)" = 0 ]; then
  PG_OWNER=postgres
  MY_OWNER=mysql
  MY_ADMIN=root
else
  PG_OWNER=$(id -un)
  MY_OWNER=$(id -un)
  MY_ADMIN=$(id -un)
fi

# Runs a command as the owner of a data directory (PostgreSQL refuses root).
as() {
  owner=$1
  shift
  if [ "$owner" = "$(id -un)" ]; then
    "$@"
  else
    runuser -u "$owner" -- "$@"
  fi
}

install_packages() {
  missing=""
  [ -x "$PG_BIN/postgres" ] || missing="$missing postgresql-15"
  command -v mariadbd >/dev/null 2>&1 || missing="$missing mariadb-server"
  [ -n "$missing" ] || return 0
  [ "$(id -u)" = 0 ] || die "missing packages:$missing; install them or run as root"
  say "installing$missing (once)"
  export DEBIAN_FRONTEND=noninteractive
  quiet apt-get update -qq
  # The packages' own services stay off: a policy-rc.d answering 101 forbids
  # starting them. One the machine already has is left as it is.
  policy=/usr/sbin/policy-rc.d
  made_policy=""
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod +x "$policy"
    made_policy=yes
    trap 'rm -f "$policy"' EXIT
  fi
  # shellcheck disable=SC2086
  quiet apt-get install -y -qq --no-install-recommends $missing
  if [ -n "$made_policy" ]; then
    rm -f "$policy"
    trap - EXIT
  fi
}

wait_for() {
  tries=0
  until "$@" >/dev/null 2>&1; do
    tries=$((tries + 1))
    [ "$tries" -lt 120 ] || return 1
    sleep 0.25
  done
}

pg_ready() { "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT"; }
pg_sql() {
  as "$PG_OWNER" "$PG_BIN/psql" -q -v ON_ERROR_STOP=1 -h "$DIR/pg-socket" \
    -p "$PG_PORT" -U postgres -d "${2:-postgres}" -tA -c "$1"
}

start_postgres() {
  data=$DIR/postgres
  mkdir -p "$DIR/pg-socket"
  chown "$PG_OWNER" "$DIR/pg-socket"
  if ! pg_ready; then
    if [ ! -f "$data/PG_VERSION" ]; then
      say "creating a PostgreSQL cluster in $data"
      rm -rf "$data"
      mkdir -p "$data"
      chown "$PG_OWNER" "$data"
      quiet as "$PG_OWNER" "$PG_BIN/initdb" -D "$data" -U postgres -E UTF8 \
        --locale=C.UTF-8 --auth-local=trust --auth-host=scram-sha-256
    fi
    say "starting PostgreSQL on 127.0.0.1:$PG_PORT"
    # A cluster killed without a shutdown leaves its pid file behind.
    rm -f "$data/postmaster.pid"
    as "$PG_OWNER" "$PG_BIN/pg_ctl" -D "$data" -l "$data/server.log" -w -s \
      -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $DIR/pg-socket" start >&2 ||
      die "PostgreSQL did not start; see $DIR/postgres/server.log"
  fi
  wait_for pg_ready || die "PostgreSQL does not answer; see $DIR/postgres/server.log"
  if [ "$(pg_sql "SELECT 1 FROM pg_roles WHERE rolname = '$DB_USER'")" != 1 ]; then
    pg_sql "CREATE ROLE $DB_USER LOGIN PASSWORD '$DB_PASSWORD'"
  fi
  if [ "$(pg_sql "SELECT 1 FROM pg_database WHERE datname = '$DB_NAME'")" != 1 ]; then
    pg_sql "CREATE DATABASE $DB_NAME OWNER $DB_USER"
  fi
}

my_socket() { printf '%s' "$DIR/my-socket/mysqld.sock"; }
my_ready() { mariadb-admin --no-defaults --socket="$(my_socket)" -u "$MY_ADMIN" ping; }

start_mariadb() {
  data=$DIR/mariadb
  mkdir -p "$DIR/my-socket"
  chown "$MY_OWNER" "$DIR/my-socket"
  if ! my_ready >/dev/null 2>&1; then
    if [ ! -d "$data/mysql" ]; then
      say "creating a MariaDB data directory in $data"
      rm -rf "$data"
      mkdir -p "$data"
      chown "$MY_OWNER" "$data"
      quiet mariadb-install-db --no-defaults --user="$MY_OWNER" --datadir="$data" \
        --auth-root-authentication-method=socket --skip-test-db
    fi
    say "starting MariaDB on 127.0.0.1:$MY_PORT"
    rm -f "$(my_socket)" "$DIR/my-socket/mysqld.pid"
    # The usual CMS defaults: utf8mb4 with a case-insensitive, PAD SPACE collation,
    # so the tests see the collation quirks real sites have.
    # In a subshell that exits at once, so the server is not left to this
    # script's caller to reap.
    (setsid mariadbd --no-defaults --user="$MY_OWNER" --datadir="$data" \
      --bind-address=127.0.0.1 --port="$MY_PORT" --socket="$(my_socket)" \
      --pid-file="$DIR/my-socket/mysqld.pid" --log-error="$data/server.log" \
      --character-set-server=utf8mb4 --collation-server=utf8mb4_general_ci \
      --innodb-buffer-pool-size=256M </dev/null >/dev/null 2>&1 &)
  fi
  wait_for my_ready || die "MariaDB does not answer; see $DIR/mariadb/server.log"
  mariadb --no-defaults --socket="$(my_socket)" -u "$MY_ADMIN" -e "
    CREATE DATABASE IF NOT EXISTS $DB_NAME CHARACTER SET utf8mb4;
    CREATE USER IF NOT EXISTS '$DB_USER'@'%' IDENTIFIED BY '$DB_PASSWORD';
    GRANT ALL ON *.* TO '$DB_USER'@'%';" >&2
}

stop_all() {
  if pg_ready; then
    say "stopping PostgreSQL"
    as "$PG_OWNER" "$PG_BIN/pg_ctl" -D "$DIR/postgres" -w -s -m fast stop >&2
  fi
  if my_ready >/dev/null 2>&1; then
    say "stopping MariaDB"
    mariadb-admin --no-defaults --socket="$(my_socket)" -u "$MY_ADMIN" shutdown >&2
  fi
}

mkdir -p "$DIR"
chmod 755 "$DIR"
if [ "${1:-}" = stop ]; then
  stop_all
  exit 0
fi
install_packages
start_postgres
start_mariadb

echo "export KEYCRM_TEST_POSTGRES_URL='postgres://$DB_USER:$DB_PASSWORD@127.0.0.1:$PG_PORT/$DB_NAME'"
echo "export KEYCRM_TEST_MYSQL_URL='mysql://$DB_USER:$DB_PASSWORD@127.0.0.1:$MY_PORT/$DB_NAME'"
