import { createRequire } from "node:module";
import { defineConfig } from "vitest/config";

const require = createRequire(import.meta.url);

export default defineConfig({
  resolve: {
    // graphql 16 ships CJS (main) and ESM (module); Node loads the CJS one for the libraries, so
    // the project's own code must get the same copy ("Cannot use GraphQLSchema from another realm").
    alias: [{ find: /^graphql$/, replacement: require.resolve("graphql") }],
  },
  test: {
    globalSetup: ["test/support/global-setup.ts"],
    include: ["test/**/*.test.ts"],
    // the holds' proof (two processes, a SIGKILL, a PostgreSQL restart, 1,000 holds for a minute)
    // loads both cores for two minutes: it runs on its own, `npm run test:proof` (.ci/run runs it
    // after the suite), so that it neither starves nor is starved by the other files
    exclude: process.env.TEST_PROOF ? [] : ["test/reservations-proof.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Two cores: files run two at a time in separate processes; each test builds its own stores.
    pool: "forks",
    maxWorkers: 2,
  },
});
