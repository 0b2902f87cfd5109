# syntax=docker/dockerfile:1
#
# opsworks-trail: Fluent Bit 5.1.1 with the opsworks filter and the
# cloudtrail_s3 input, and the shipped pipelines; linux/amd64 and linux/arm64.
#
#   docker build -t ghcr.io/opsworks-trail/fluent-bit-opsworks:5.1.1 .
#   docker buildx build --platform linux/amd64,linux/arm64 -t ghcr.io/opsworks-trail/fluent-bit-opsworks:5.1.1 .
#   docker run --rm -e CLOUDTRAIL_BUCKET=my-org-trail -e AWS_REGION=us-east-1 -e ES_HOST=es.example.com \
#     ghcr.io/opsworks-trail/fluent-bit-opsworks:5.1.1                       # Elasticsearch (the default)
#   docker run … ghcr.io/opsworks-trail/fluent-bit-opsworks:5.1.1 -c /fluent-bit/etc/loki.yaml   # another pipeline
#
# The plugins are Go shared objects built with cgo. They run in this image
# (Fluent Bit's official one: distroless cc-debian13, glibc 2.41) and in
# aws-for-fluent-bit 3.x (Amazon Linux 2023, glibc 2.34), so they must need no
# glibc symbol newer than 2.34: deploy/build-plugins.sh builds them and fails
# above that floor, whatever glibc the builder has. The builder runs on the
# build machine's platform and cross-compiles cgo for the target (Debian's
# gcc-aarch64-linux-gnu for arm64), so a multi-arch build needs no emulation.
# Go: a release that still gets security fixes (its net/http and crypto/tls
# end up in the plugins).

FROM --platform=$BUILDPLATFORM golang:1.26-trixie AS build
ARG TARGETARCH
WORKDIR /src
# The target's C cross compiler, when it is not the builder's architecture.
RUN if [ -n "$TARGETARCH" ] && [ "$TARGETARCH" != "$(go env GOARCH)" ]; then \
      case "$TARGETARCH" in arm64) cc=gcc-aarch64-linux-gnu ;; amd64) cc=gcc-x86-64-linux-gnu ;; *) exit 1 ;; esac && \
      apt-get update -qq && apt-get install -y -qq --no-install-recommends "$cc" && rm -rf /var/lib/apt/lists/*; \
    fi
# Module downloads first, so that source changes reuse this layer.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# The opsworks filter (a native Fluent Bit filter, see README "Loading the
# filter") and cloudtrail_s3 (a Go input plugin), with the glibc floor check.
RUN sh deploy/build-plugins.sh /out "$TARGETARCH"
# Directories the pipelines write to, created here because the runtime image
# has no shell: state (checkpoints, filesystem buffers), error records,
# records for review, integrity findings.
RUN mkdir -p /dirs/var/lib/opsworks-trail/storage /dirs/var/lib/opsworks-trail/errors \
      /dirs/var/lib/opsworks-trail/unclassified /dirs/var/lib/opsworks-trail/integrity

FROM fluent/fluent-bit:5.1.1
# The two plugins built above.
COPY --from=build /out/ /fluent-bit/plugins/
# The shipped pipelines and plugins files; Elasticsearch is the default
# configuration. The image's own parsers files stay.
COPY examples/pipelines/ /fluent-bit/etc/
COPY examples/pipelines/elasticsearch.conf /fluent-bit/etc/fluent-bit.conf
COPY --from=build --chown=65532:65532 /dirs/ /
# Backend endpoints; credentials (ES_USER/ES_PASSWORD, OPENSEARCH_USER/
# OPENSEARCH_PASSWORD) come from the environment, unset = no authentication.
# The trail has no default: set CLOUDTRAIL_BUCKET and AWS_REGION (optional:
# CLOUDTRAIL_PREFIX, CLOUDTRAIL_ORG_ID, CLOUDTRAIL_S3_ENDPOINT,
# CLOUDTRAIL_S3_FORCE_PATH_STYLE, CLOUDTRAIL_VALIDATE_INTEGRITY,
# CLOUDTRAIL_PUBLIC_KEYS_FILE); AWS credentials from the SDK's default chain.
ENV ES_HOST=elasticsearch ES_PORT=9200 ES_TLS=off \
    OPENSEARCH_HOST=opensearch OPENSEARCH_PORT=9200 OPENSEARCH_TLS=off \
    LOKI_HOST=loki LOKI_PORT=3100 LOKI_TLS=off
VOLUME ["/var/lib/opsworks-trail"]
# The upstream image runs as root (distroless "cc", not ":nonroot"); nothing
# here needs root. 65532 is distroless's "nonroot" user; the files above are
# world-readable and the state directories belong to it.
USER 65532:65532
EXPOSE 2020
# As upstream: fluent-bit takes the CMD as its arguments and ignores the
# repeated program path, so `docker run IMAGE -c /fluent-bit/etc/loki.yaml` works too.
ENTRYPOINT ["/fluent-bit/bin/fluent-bit"]
CMD ["/fluent-bit/bin/fluent-bit", "-c", "/fluent-bit/etc/fluent-bit.conf"]
