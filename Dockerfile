# exchange-cert-exporter: docker build -t exchange-cert-exporter .
#
# Run (config and the LDAP bind password mounted read-only; see README "Docker"):
#   docker run -d -p 9940:9940 \
#     -v /etc/exchange-cert-exporter:/etc/exchange-cert-exporter:ro \
#     --secret ldap_password ...   (or -v .../ldap-password:/run/secrets/ldap_password:ro)
#     exchange-cert-exporter

# Build stage: a wheel from this source tree.
FROM python:3.12-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY exporter ./exporter
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

# Runtime: the wheel and its dependencies, a non-root user, nothing else.
FROM python:3.12-slim
LABEL org.opencontainers.image.title="exchange-cert-exporter" \
      org.opencontainers.image.description="Exchange internal URL certificate checks (KB 940726) for Prometheus"
RUN useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin exporter
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
USER 10001
EXPOSE 9940
# The config is mounted here; a bind password goes in /run/secrets/ldap_password and
# the config names it with `bind_password_file: /run/secrets/ldap_password`.
VOLUME ["/etc/exchange-cert-exporter"]
# The health check passes with TLS, basic auth or client certificates turned on by
# --web.config.file (README, "Docker and systemd"; exporter/service/healthcheck.py).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["exchange-cert-exporter", "healthcheck", "--web.listen-address", "127.0.0.1:9940"]
ENTRYPOINT ["exchange-cert-exporter"]
CMD ["serve", "--config.file", "/etc/exchange-cert-exporter/config.yaml", "--web.listen-address", ":9940"]
