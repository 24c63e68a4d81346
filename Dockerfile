# syntax=docker/dockerfile:1
# The broker's image (docs/operations.md "The image"): built in one stage with every dependency
# (tsc compiles the server, vite builds the console), run in another with production
# dependencies only, as a non-root user, on a read-only root filesystem. The config comes from
# outside: QUARTERMASTER_CONFIG (the Helm chart mounts /etc/quartermaster/config.yaml).
#
#   docker build -t quartermaster:0.1.0 .
#   docker run --rm -p 8080:8080 -e QUARTERMASTER_CONFIG=/etc/quartermaster/config.yaml \
#     -v "$PWD/my-config.yaml:/etc/quartermaster/config.yaml:ro" --read-only --tmpfs /tmp quartermaster:0.1.0
ARG NODE_IMAGE=node:24-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY providers ./providers
COPY console ./console
COPY config ./config
RUN npm run build

FROM ${NODE_IMAGE} AS production-deps
WORKDIR /app
COPY package.json package-lock.json ./
# No install scripts: none of the production dependencies needs one.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

FROM ${NODE_IMAGE}
ENV NODE_ENV=production
WORKDIR /app
RUN groupadd --system --gid 10001 quartermaster \
  && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin quartermaster
COPY --from=production-deps /app/node_modules ./node_modules
COPY --from=build /app/dist/src ./dist/src
COPY --from=build /app/dist/providers ./dist/providers
COPY --from=build /app/dist/console ./dist/console
# package.json and config/ mark the package root (the shipped policies and the embedded default live there).
COPY package.json ./
COPY config ./config
USER 10001:10001
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8080) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["node", "dist/src/main.js"]
