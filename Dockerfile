# syntax=docker/dockerfile:1
# The dcr-provisioner image: `docker build -t dcr-provisioner .` then
# `docker run -e API_TOKEN=... -e REDIS_URL=redis://... -p 3000:3000 dcr-provisioner` (runs `start`:
# worker + scheduler + HTTP API in one process). Other commands: `docker run ... dcr-provisioner worker`.
#
# Install scripts are not run (`--ignore-scripts`), in either stage. The only dependencies that have any
# are esbuild (dev only; its platform binary comes as an optional package, the script just checks it)
# and msgpackr-extract (optional native speed-up of BullMQ's msgpackr, whose prebuilt binary also comes
# as an optional package, and msgpackr falls back to JavaScript without it). This is what package.json's
# `allowScripts` already decides for npm 11; the image's npm 10 does not read `allowScripts`, so the
# flag makes both behave the same, and the slim image needs no compiler toolchain.

ARG NODE_IMAGE=node:22-bookworm-slim

# ---- build: all dependencies, compile TypeScript to dist/ ----
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm \
    npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY workers ./workers
COPY jobs ./jobs
RUN npm run build

# ---- runtime: production dependencies and the compiled code only ----
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production HTTP_HOST=0.0.0.0
WORKDIR /app
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm \
    npm ci --omit=dev --ignore-scripts --no-audit --no-fund
COPY --from=build /app/dist ./dist
COPY infra/docker/healthcheck.mjs ./healthcheck.mjs
# Code and dependencies stay owned by root, read-only to the service. Only ./.data (the `file` secrets
# backend's default SECRETS_FILE_DIR) is writable; with SECRETS_BACKEND=aws nothing is written at all,
# so the container also runs with a read-only root filesystem.
RUN mkdir -p .data && chown node:node .data && chmod 700 .data
USER node
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "/app/healthcheck.mjs"]
ENTRYPOINT ["node", "dist/src/cli/main.js"]
CMD ["start"]
