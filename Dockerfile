# The CodeRunner sandbox: Python with Jupyter and the scientific stack, bash, Chromium, and the
# `coderunner` binary serving the REST API. `coderunner up` builds this from a copy embedded in the
# binary; from a checkout: `npm run build && DOCKER_BUILDKIT=0 docker build -t coderunner .`
# Where debian:bookworm-slim cannot be pulled, `image/build-base.sh` builds it offline.
#
# Started as its default user, `coderunner serve` runs everything as `coderunner` (uid 1000). Started
# as root with CODERUNNER_CONFINE=1 and the capabilities of `confinedContainer()`
# (src/confinement/container.ts), it installs the sandbox's firewall, then runs itself as
# `coderunner-server` (uid 990) and user code as `coderunner`, neither able to touch the other's
# processes or files. /home/coderunner, /tmp, /var/tmp and /app may be empty volumes and the root
# filesystem read-only (with a tmpfs at /run): nothing the server needs lives only in them.
FROM debian:bookworm-slim

ENV DEBIAN_FRONTEND=noninteractive \
    LANG=C.UTF-8 \
    PYTHONUNBUFFERED=1

# Packages first: this layer stays cached while the binary changes.
COPY image/packages.txt /tmp/packages.txt
RUN apt-get update \
 && grep -v '^\s*#' /tmp/packages.txt | xargs apt-get install -y --no-install-recommends \
 && apt-get clean \
 && rm -rf /var/lib/apt/lists/* /tmp/packages.txt /usr/share/doc/* /usr/share/man/*

# Code runs as `coderunner`, which may write only to its home, /app, /tmp and /var/tmp. The server
# user of a confined sandbox owns nothing in the image: its state lives under /run/coderunner.
# A session's sandbox runs code under a uid of its own (CODERUNNER_SANDBOX_UID), still named
# `coderunner`: the confined boot writes its passwd and group lines to /run/extrausers, which
# libnss-extrausers reads (first, so the name maps to that uid) through /var/lib/extrausers.
RUN useradd --create-home --uid 1000 --user-group --shell /bin/bash coderunner \
 && groupadd --system --gid 990 coderunner-server \
 && useradd --system --uid 990 --gid 990 --no-create-home --home-dir /run/coderunner/server --shell /usr/sbin/nologin coderunner-server \
 && mkdir -p /home/coderunner/workspace /app \
 && chown -R coderunner:coderunner /home/coderunner /app \
 && rm -rf /var/lib/extrausers && ln -s /run/extrausers /var/lib/extrausers \
 && sed -i -E 's/^(passwd|group):([[:space:]]+)files$/\1:\2extrausers files/' /etc/nsswitch.conf \
 && grep -q '^passwd:.*extrausers files' /etc/nsswitch.conf && grep -q '^group:.*extrausers files' /etc/nsswitch.conf

# Matplotlib's font cache, built once here instead of on the first plot of every new container. The
# confined boot copies it into a home that lacks it (an empty volume).
RUN MPLCONFIGDIR=/usr/local/share/coderunner/matplotlib python3 -c "import matplotlib; matplotlib.use('Agg'); import matplotlib.pyplot" \
 && mkdir -p /home/coderunner/.cache \
 && cp -r /usr/local/share/coderunner/matplotlib /home/coderunner/.cache/matplotlib \
 && chown -R coderunner:coderunner /home/coderunner/.cache

# The "python3" kernel spec, found before Debian's (JUPYTER_PATH): the stock kernel without the
# debugger's import cost, which in a confined sandbox drops to the sandbox user itself.
COPY image/kernel-launcher.py /usr/local/lib/coderunner/kernel-launcher.py
COPY image/kernel.json /usr/local/share/coderunner/jupyter/kernels/python3/kernel.json
COPY image/chromium-as-sandbox-user.sh /usr/local/lib/coderunner/chromium-as-sandbox-user
RUN chmod 0755 /usr/local/lib/coderunner/chromium-as-sandbox-user

# E2B's examples use /home/user (the E2B SDK surface, src/e2b): there it is the sandbox user's home.
RUN ln -s /home/coderunner /home/user

COPY dist/coderunner /usr/local/bin/coderunner

USER coderunner
WORKDIR /home/coderunner/workspace
ENV HOME=/home/coderunner \
    JUPYTER_PATH=/usr/local/share/coderunner/jupyter \
    CODERUNNER_HOST=0.0.0.0 \
    CODERUNNER_PORT=8223 \
    CODERUNNER_WORKSPACE=/home/coderunner/workspace \
    CODERUNNER_PYTHON=/usr/bin/python3 \
    CODERUNNER_CHROMIUM=/usr/bin/chromium

EXPOSE 8223
# Started as root (a confined sandbox), the check first gives up root and every capability.
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 CMD ["/bin/sh", "-c", "[ \"$(id -u)\" != 0 ] || exec /usr/bin/setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all --bounding-set=-all --no-new-privs -- /usr/local/bin/coderunner healthcheck; exec /usr/local/bin/coderunner healthcheck"]
# `coderunner serve` started as PID 1 puts tini in front of itself (after the confined boot, as the
# server user), so no process keeps the boot's capabilities.
ENTRYPOINT ["/usr/local/bin/coderunner"]
CMD ["serve"]
