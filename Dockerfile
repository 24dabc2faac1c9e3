# The CodeRunner sandbox: Python with Jupyter and the scientific stack, bash, Chromium, and the
# `coderunner` binary serving the REST API. `coderunner up` builds this from a copy embedded in the
# binary; from a checkout: `npm run build && DOCKER_BUILDKIT=0 docker build -t coderunner .`
# Where debian:bookworm-slim cannot be pulled, `image/build-base.sh` builds it offline.
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

# Code runs as this unprivileged user; it may write only to its home and /tmp.
RUN useradd --create-home --uid 1000 --user-group --shell /bin/bash coderunner \
 && mkdir -p /home/coderunner/workspace \
 && chown -R coderunner:coderunner /home/coderunner

# The "python3" kernel spec, found before Debian's: the stock kernel without the debugger's import cost.
COPY image/kernel-launcher.py /usr/local/lib/coderunner/kernel-launcher.py
COPY --chown=coderunner:coderunner image/kernel.json /home/coderunner/.local/share/jupyter/kernels/python3/kernel.json

USER coderunner
# Matplotlib's font cache, built once here instead of on the first plot of every new container.
RUN python3 -c "import matplotlib; matplotlib.use('Agg'); import matplotlib.pyplot"

COPY dist/coderunner /usr/local/bin/coderunner

WORKDIR /home/coderunner/workspace
ENV HOME=/home/coderunner \
    CODERUNNER_HOST=0.0.0.0 \
    CODERUNNER_PORT=8223 \
    CODERUNNER_WORKSPACE=/home/coderunner/workspace \
    CODERUNNER_PYTHON=/usr/bin/python3 \
    CODERUNNER_CHROMIUM=/usr/bin/chromium

EXPOSE 8223
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 CMD ["/usr/local/bin/coderunner", "healthcheck"]
ENTRYPOINT ["/usr/bin/tini", "--", "/usr/local/bin/coderunner"]
CMD ["serve"]
