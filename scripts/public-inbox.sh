#!/bin/sh
# A real public-inbox (Debian's package) on loopback, for tests and for trying patchgate's public-inbox
# sources without lore. Installs the package when it is missing and we are root.
#
#   scripts/public-inbox.sh create DIR NAME [MBOX...]   v2 inbox DIR/NAME (public-inbox-init -V2 -L basic),
#                                                       filled from the mbox files (mboxrd) in one import
#   scripts/public-inbox.sh import DIR NAME MBOX...      more mail (mboxrd) into an existing inbox, one import
#   scripts/public-inbox.sh deliver DIR NAME < MESSAGE  one message through public-inbox-mda (spamcheck none)
#   scripts/public-inbox.sh serve DIR PORT              public-inbox-httpd on 127.0.0.1:PORT, returns once it
#                                                       answers; prints the base URL (inboxes at URL/NAME/)
#   scripts/public-inbox.sh stop DIR                    stops the httpd started by serve
#
# DIR holds everything: the config ($DIR/config, used as PI_CONFIG), the inboxes, the httpd's pid and log.
set -eu

usage() { echo "usage: $0 create DIR NAME [MBOX...] | import DIR NAME MBOX... | deliver DIR NAME | serve DIR PORT | stop DIR" >&2; exit 2; }
[ $# -ge 2 ] || usage
cmd=$1
dir=$2
shift 2

need() {
  command -v public-inbox-init >/dev/null 2>&1 && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "public-inbox missing: installing Debian's package" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y public-inbox >&2 \
      || { apt-get update >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y public-inbox >&2; }
  else
    echo "$0: public-inbox not found (apt-get install public-inbox)" >&2; exit 1
  fi
}

mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
export PI_CONFIG="$dir/config"
export HOME="${HOME:-$dir}"

case $cmd in
  create|import)
    [ $# -ge 1 ] || usage
    name=$1; shift
    need
    case $name in ''|*[!A-Za-z0-9._-]*) echo "$0: bad inbox name: $name" >&2; exit 2 ;; esac
    if [ "$cmd" = create ]; then
      port=$(cat "$dir/port" 2>/dev/null || echo 0)
      public-inbox-init -V2 -L basic "$name" "$dir/$name" "http://127.0.0.1:$port/$name" "$name@patchgate.test" >&2
      git config -f "$PI_CONFIG" publicinboxmda.spamcheck none
      # a running httpd reads the new inbox after a SIGHUP
      if [ -f "$dir/httpd.pid" ] && kill -0 "$(cat "$dir/httpd.pid")" 2>/dev/null; then kill -HUP "$(cat "$dir/httpd.pid")"; sleep 0.5; fi
    fi
    if [ $# -gt 0 ]; then
      # one importer for the whole mbox: the same code path as public-inbox-mda, without a process per message
      perl -MPublicInbox::Config -MPublicInbox::MboxReader -MPublicInbox::InboxWritable -e '
        my $name = shift @ARGV;
        my $cfg = PublicInbox::Config->new;
        my $ibx = $cfg->lookup_name($name) or die "no inbox $name\n";
        $ibx = PublicInbox::InboxWritable->new($ibx);
        my $im = $ibx->importer(0);
        my $n = 0;
        for my $f (@ARGV) {
          open(my $fh, "<", $f) or die "$f: $!\n";
          PublicInbox::MboxReader->mboxrd($fh, sub { my ($eml) = @_; $n++ if defined $im->add($eml) });
        }
        $im->done;
        print STDERR "imported $n messages into $name\n";
      ' "$name" "$@"
    fi
    ;;
  deliver)
    [ $# -eq 1 ] || usage
    name=$1
    ORIGINAL_RECIPIENT="$name@patchgate.test" public-inbox-mda --no-precheck
    ;;
  serve)
    [ $# -eq 1 ] || usage
    port=$1
    case $port in ''|*[!0-9]*) echo "$0: bad port: $port" >&2; exit 2 ;; esac
    need
    echo "$port" > "$dir/port"
    if [ -f "$dir/httpd.pid" ] && kill -0 "$(cat "$dir/httpd.pid")" 2>/dev/null; then
      echo "http://127.0.0.1:$port"; exit 0
    fi
    public-inbox-httpd -l "http://127.0.0.1:$port" --pid-file "$dir/httpd.pid" \
      -1 "$dir/httpd.out.log" -2 "$dir/httpd.err.log" -D >/dev/null
    i=0
    until curl -fsS -o /dev/null "http://127.0.0.1:$port/" 2>/dev/null || \
          { [ $? -eq 22 ] && curl -sS -o /dev/null "http://127.0.0.1:$port/" 2>/dev/null; }; do
      i=$((i + 1))
      if [ $i -gt 100 ]; then echo "$0: public-inbox-httpd did not answer on $port; see $dir/httpd.err.log" >&2; exit 1; fi
      sleep 0.1
    done
    echo "http://127.0.0.1:$port"
    ;;
  stop)
    if [ -f "$dir/httpd.pid" ]; then
      pid=$(cat "$dir/httpd.pid")
      kill "$pid" 2>/dev/null || true
      i=0
      while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
      rm -f "$dir/httpd.pid"
    fi
    ;;
  *) usage ;;
esac
