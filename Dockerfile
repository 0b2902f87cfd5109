# syntax=docker/dockerfile:1
#
# opsworks-trail: Fluent Bit 5.1.1 with the opsworks filter (and the
# cloudtrail_s3 input) and the shipped pipelines.
#
#   docker build -t ghcr.io/opsworks-trail/fluent-bit-opsworks:5.1.1 .
#   docker run --rm -v "$PWD/ndjson:/var/log/cloudtrail:ro" -e ES_HOST=es.example.com \
#     ghcr.io/opsworks-trail/fluent-bit-opsworks:5.1.1                       # Elasticsearch (the default)
#   docker run … ghcr.io/opsworks-trail/fluent-bit-opsworks:5.1.1 -c /fluent-bit/etc/loki.yaml   # another pipeline
#
# The plugins are Go shared objects linked against glibc, so they must be built
# on a glibc no newer than the one Fluent Bit runs with. The official
# fluent/fluent-bit:5.1.1 image is gcr.io/distroless/cc-debian13, i.e. Debian
# 13 "trixie" (fluent-bit's dockerfiles/Dockerfile: FROM
# gcr.io/distroless/cc-debian13 AS production; its builders are
# debian:trixie-slim), so the Go builder is trixie too: the same glibc (2.41).
# Go: the minimum of go.mod.

FROM golang:1.24-trixie AS build
WORKDIR /src
# Module downloads first, so that source changes reuse this layer.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# The opsworks filter: a native Fluent Bit filter (see README, "Loading the filter").
RUN CGO_ENABLED=1 go build -trimpath -buildvcs=false -ldflags="-s -w" -buildmode=c-shared \
      -o /out/flb-filter_opsworks.so ./plugin/opsworks
# cloudtrail_s3: the S3 input (a Go input plugin). The shipped plugins files
# load both plugins.
RUN if [ -d plugin/cloudtrail_s3 ]; then \
      CGO_ENABLED=1 go build -trimpath -buildvcs=false -ldflags="-s -w" -buildmode=c-shared \
        -o /out/in_cloudtrail_s3.so ./plugin/cloudtrail_s3; \
    fi && rm -f /out/*.h
# Directories the pipelines write to, created here because the runtime image
# has no shell: state (tail DB, filesystem buffers), error records, records
# for review, and the default input directory.
RUN mkdir -p /dirs/var/lib/opsworks-trail/storage /dirs/var/lib/opsworks-trail/errors \
      /dirs/var/lib/opsworks-trail/unclassified /dirs/var/log/cloudtrail

FROM fluent/fluent-bit:5.1.1
# Every .so built above: the filter, and the S3 input when it was built.
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
# CLOUDTRAIL_S3_FORCE_PATH_STYLE); AWS credentials from the SDK's default chain.
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
