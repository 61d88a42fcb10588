# The indexer image: runs the worker by default, or the CLI (`node dist/src/client.js …`).
# Three stages: the first builds the native transcoder (Rust), the second compiles the TypeScript
# (`npm run build`, tsc) and bundles the workflows; the last holds only the compiled JavaScript,
# the transcoder and the runtime dependencies (`npm ci --omit=dev`), so the worker runs on plain
# `node`: no tsx loader thread, about 55 MB less memory per worker.
#   docker build -t evm-indexer .
#   docker run --rm -e RPC_URL=… -e CHAIN_ID=1 -e DATABASE_URL=… -e TEMPORAL_ADDRESS=… evm-indexer
# The native transcoder (native/, Rust, no crates): built on the runtime's Debian release so its
# glibc matches. The worker refuses to start without it (NATIVE_TRANSCODER=on below).
FROM rust:1-slim-bookworm AS native
WORKDIR /native
COPY native/Cargo.toml native/Cargo.lock ./
COPY native/src ./src
RUN cargo build --release --locked && mkdir -p build && cp target/release/libevm_indexer_transcode.so build/transcode.node

FROM node:20-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY migrations ./migrations
COPY src ./src
COPY scripts/build-workflow-bundle.ts ./scripts/
# The workflow bundle is built here, once, from the src above: workers skip webpack at every start
# (seconds of CPU and about 115 MB of memory each). Rebuilt whenever the image is.
RUN npm run build && node --import tsx scripts/build-workflow-bundle.ts /app/dist/workflow-bundle.js

FROM node:20-slim
# glibc malloc, measured with `npm run bench` (which starts its workers with the same values):
# MALLOC_ARENA_MAX=2 keeps 2 arenas instead of 8 per core, so the Temporal Core threads and libuv's
# pool do not each hold their own heap (about 25 MB less peak RSS); the mmap and trim thresholds
# fixed at 128 KiB give large buffers (an HTTP body of 10 mainnet blocks is 8 MB) back to the
# system when freed instead of keeping them in a fragmented heap (about 40 MB less).
# V8's young generation at 8 MB a semi-space instead of 16 (NODE_OPTIONS, so the decode thread's
# isolate too): the main isolate's heap 73 MB instead of 89–91, peak RSS 325–352 MB against
# 344–393 in alternating mainnet runs, no measurable CPU (session 24, README Performance).
ENV NODE_ENV=production \
    METRICS_PORT=9464 \
    MALLOC_ARENA_MAX=2 \
    MALLOC_MMAP_THRESHOLD_=131072 \
    MALLOC_TRIM_THRESHOLD_=131072 \
    NODE_OPTIONS=--max-semi-space-size=8 \
    WORKFLOW_BUNDLE=/app/dist/workflow-bundle.js \
    NATIVE_TRANSCODER=on
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY --from=native /native/build/transcode.node ./native/build/transcode.node

USER node
# /metrics, /healthz and /readyz (see the README, Operations / metrics).
EXPOSE 9464
# Exec form: node is PID 1 and receives SIGTERM itself, so in-flight ranges get the worker's
# shutdown grace (30 s) before it exits; keep the orchestrator's stop timeout above that.
CMD ["node", "dist/src/worker.js"]
