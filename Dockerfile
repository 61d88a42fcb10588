# The indexer image: runs the worker by default, or the CLI (`node --import tsx src/client.ts …`).
# TypeScript runs through tsx, a runtime dependency, so `npm ci --omit=dev` keeps everything the
# worker needs (tsx, the Temporal SDK with its prebuilt Core, pg, viem) and drops the test tools.
#   docker build -t evm-indexer .
#   docker run --rm -e RPC_URL=… -e CHAIN_ID=1 -e DATABASE_URL=… -e TEMPORAL_ADDRESS=… evm-indexer
FROM node:20-slim

ENV NODE_ENV=production \
    METRICS_PORT=9464
WORKDIR /app

COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

COPY tsconfig.json ./
COPY bin ./bin
COPY migrations ./migrations
COPY src ./src
COPY scripts/build-workflow-bundle.ts ./scripts/
# The workflow bundle is built here, once, from the src above: workers skip webpack at every start
# (seconds of CPU and about 115 MB of memory each). Rebuilt whenever the image is.
RUN node --import tsx scripts/build-workflow-bundle.ts /app/workflow-bundle.js
ENV WORKFLOW_BUNDLE=/app/workflow-bundle.js

USER node
# /metrics, /healthz and /readyz (see the README, Operations / metrics).
EXPOSE 9464
# Exec form: node is PID 1 and receives SIGTERM itself, so in-flight ranges get the worker's
# shutdown grace (30 s) before it exits; keep the orchestrator's stop timeout above that.
CMD ["node", "--import", "tsx", "src/worker.ts"]
