# nimscale in a container: the image `nimscale sweep --emit-job` runs.
#   docker build -t nimscale:0.1.0 .
#   docker run --rm -v "$PWD/out:/work/out" nimscale:0.1.0 simulate scenarios/cosmos-vlm-spike.yaml --out out/spike
# The shipped scenarios and traces are in /work (the Job's working
# directory); mount your own files there (--input-claim) to run them.

FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY . .
# The fully optimised profile (fat LTO, one codegen unit), locked deps.
RUN cargo build --locked --profile dist -p nimscale \
    && cp target/dist/nimscale /usr/local/bin/nimscale

FROM debian:bookworm-slim
# The Job runs `sh -c` (its shard index comes from the environment).
COPY --from=build /usr/local/bin/nimscale /usr/local/bin/nimscale
WORKDIR /work
COPY scenarios/ scenarios/
COPY traces/ traces/
USER 65532:65532
ENTRYPOINT ["nimscale"]
