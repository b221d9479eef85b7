# The service as docker-compose.yml runs it: Node 20, the locked dependencies, `npm start`.
FROM node:20-slim

WORKDIR /app

# Dependencies first, so a change of code reuses this layer. Install scripts of dependencies are
# skipped (none is needed with DATABASE_URL set: the embedded PostgreSQL is not used, esbuild's
# binary comes in its platform package); the Prisma client is generated from the schema instead.
COPY package.json package-lock.json prisma.config.ts ./
COPY scripts ./scripts
COPY prisma ./prisma
RUN npm ci --ignore-scripts --no-audit --no-fund && npm run generate && npm cache clean --force

COPY src ./src
COPY tsconfig.json schema.graphql ./

# The service runs as `node`; .data is the one directory it may write (DATA_DIR).
RUN mkdir -p .data && chown node:node .data

ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=4000
EXPOSE 4000
USER node
CMD ["npm", "start"]
