#!/bin/sh
# Chromium as the sandbox user, for a confined sandbox. `coderunner serve` runs as the server user
# (holding CAP_SETUID/CAP_SETGID) and gives this file to Playwright as the browser executable: it
# drops to the sandbox user (CODERUNNER_SANDBOX_UID, which the boot put in the server's environment;
# 1000 by default) with no groups and no capabilities, within the user's process budget
# (CODERUNNER_USER_PROCESSES as RLIMIT_NPROC, and with it the lowest priority, set before the drop;
# 0 for none: see SandboxAccount in src/confinement/layout.ts), then runs Chromium
# with a profile that user owns (Playwright's own profile directory is private to the server),
# removed when Chromium exits. Playwright talks to Chromium over inherited pipes, which survive the
# drop. A renderer taken over by a page so gets no more than the sandbox user's code already has.
set -eu
chromium=${CODERUNNER_CHROMIUM:-/usr/bin/chromium}
case $chromium in */chromium-as-sandbox-user) chromium=/usr/bin/chromium ;; esac
uid=${CODERUNNER_SANDBOX_UID:-1000}
processes=${CODERUNNER_USER_PROCESSES:-0}
case $uid in '' | *[!0-9]* | 0*) echo "chromium-as-sandbox-user: bad CODERUNNER_SANDBOX_UID '$uid'" >&2; exit 2 ;; esac
case $processes in '' | *[!0-9]*) echo "chromium-as-sandbox-user: bad CODERUNNER_USER_PROCESSES '$processes'" >&2; exit 2 ;; esac
export HOME=/home/coderunner USER=coderunner LOGNAME=coderunner TMPDIR=/tmp
unset CODERUNNER_API_KEY JUPYTER_TOKEN
for arg do
  shift
  case $arg in --user-data-dir=*) ;; *) set -- "$@" "$arg" ;; esac
done
set -- /bin/sh -c '
  profile=$(mktemp -d /tmp/coderunner-chromium-XXXXXX) || exit 1
  status=0
  "$@" --user-data-dir="$profile" || status=$?
  rm -rf -- "$profile"
  exit "$status"
' chromium-as-sandbox-user "$chromium" "$@"
set -- /usr/bin/setpriv --reuid="$uid" --regid="$uid" --clear-groups --inh-caps=-all --ambient-caps=-all --no-new-privs -- "$@"
[ "$processes" = 0 ] || set -- /usr/bin/prlimit --nproc="$processes:$processes" -- /usr/bin/nice -n 19 -- "$@"
exec "$@"
