# Hookwell in a container: the management API and delivery, on embedded SQLite by default.
#
#   docker build -t hookwell .
#   docker run --stop-timeout 30 -p 8071:8071 -v hookwell-data:/data -e HOOKWELL_ADMIN_TOKEN=change-me-to-a-long-secret hookwell
#
# For PostgreSQL with separate API and worker processes, see compose.yaml.

FROM node:20-bookworm-slim AS build
# better-sqlite3 is compiled where no prebuilt binary fits the platform.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY package.json package-lock.json ./
COPY packages/receiver/package.json packages/receiver/
COPY packages/health/package.json packages/health/
COPY packages/server/package.json packages/server/
RUN npm ci --no-audit --no-fund --ignore-scripts \
 && npm rebuild better-sqlite3 esbuild
COPY . .
# Packed (each package's prepack builds it) and installed as a user installs them: the built
# JavaScript and the production dependencies, no sources, no build tools.
RUN mkdir /packs /app \
 && npm pack --pack-destination /packs -w packages/receiver -w packages/health -w packages/server \
 && cd /app \
 && echo '{"name":"hookwell-image","private":true}' > package.json \
 && npm install --omit=dev --no-audit --no-fund /packs/*.tgz

FROM node:20-bookworm-slim
ENV NODE_ENV=production \
    HOOKWELL_HOST=0.0.0.0 \
    HOOKWELL_PORT=8071 \
    HOOKWELL_DB=/data/hookwell.db
# The SQLite file lives on the volume, in a directory only Hookwell's user may use.
RUN mkdir -p /data && chown node:node /data && chmod 700 /data
COPY --from=build /app /app
USER node
WORKDIR /app
VOLUME ["/data"]
EXPOSE 8071
# Ready: the database answers and can write, the schema is current, not draining. A worker is
# probed on HOOKWELL_HEALTH_PORT, which `hookwell probe` uses when it is set.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "/app/node_modules/hookwell/bin/hookwell.js", "probe"]
# SIGTERM drains: no new work is claimed, attempts in flight finish (HOOKWELL_DRAIN_TIMEOUT_MS).
STOPSIGNAL SIGTERM
CMD ["node", "/app/node_modules/hookwell/bin/hookwell.js", "serve"]
