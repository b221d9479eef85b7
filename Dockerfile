# The service's image: compiled to JavaScript in a build stage, run by node itself from a slim
# stage holding the production dependencies only. Run it with an init (`docker run --init`, compose
# `init: true`): node is then the process that receives SIGTERM, and the init reaps.

FROM node:20-slim AS build
WORKDIR /app

# Dependencies first, so a change of code reuses this layer. Install scripts of dependencies are
# skipped (none is needed: the embedded PostgreSQL is not used, esbuild's binary comes in its
# platform package); the Prisma client is generated from the schema instead.
COPY package.json package-lock.json prisma.config.ts ./
COPY scripts ./scripts
COPY prisma ./prisma
RUN npm ci --ignore-scripts --no-audit --no-fund && npm run generate

COPY src ./src
COPY tsconfig.json ./
# .git stays out of the build context: the commit comes as an argument (docker-compose.yml passes
# GIT_COMMIT) and is what GET /health reports
ARG GIT_COMMIT
RUN GIT_COMMIT="$GIT_COMMIT" npm run build


FROM node:20-slim
WORKDIR /app
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=4000 \
    NODE_OPTIONS=--enable-source-maps

COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
# applied by the service at start (src/db/migrate.ts): the migrations, then the current SQL functions
COPY prisma/migrations ./prisma/migrations
COPY prisma/functions ./prisma/functions

# The service runs as `node`; .data is the one directory it may write (DATA_DIR).
RUN mkdir -p .data && chown node:node .data
USER node
EXPOSE 4000
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s \
  CMD ["node", "-e", "fetch(`http://127.0.0.1:${process.env.PORT}/health`).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# node itself, not npm: npm would be the process that docker stop signals
CMD ["node", "dist/main.js"]
