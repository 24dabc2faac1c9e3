#!/bin/sh
# Chromium as the sandbox user, for a confined sandbox. `coderunner serve` runs as the server user
# (holding CAP_SETUID/CAP_SETGID) and gives this file to Playwright as the browser executable: it
# drops to the sandbox user (uid 1000) with no groups and no capabilities, then runs Chromium with a
# profile that user owns (Playwright's own profile directory is private to the server), removed when
# Chromium exits. Playwright talks to Chromium over inherited pipes, which survive the drop. A renderer
# taken over by a page so gets no more than the sandbox user's code already has.
set -eu
chromium=${CODERUNNER_CHROMIUM:-/usr/bin/chromium}
case $chromium in */chromium-as-sandbox-user) chromium=/usr/bin/chromium ;; esac
export HOME=/home/coderunner USER=coderunner LOGNAME=coderunner TMPDIR=/tmp
unset CODERUNNER_API_KEY JUPYTER_TOKEN
for arg do
  shift
  case $arg in --user-data-dir=*) ;; *) set -- "$@" "$arg" ;; esac
done
exec /usr/bin/setpriv --reuid=1000 --regid=1000 --clear-groups --inh-caps=-all --ambient-caps=-all --no-new-privs -- /bin/sh -c '
  profile=$(mktemp -d /tmp/coderunner-chromium-XXXXXX) || exit 1
  status=0
  "$@" --user-data-dir="$profile" || status=$?
  rm -rf -- "$profile"
  exit "$status"
' chromium-as-sandbox-user "$chromium" "$@"
