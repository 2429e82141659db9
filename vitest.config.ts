import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/setup/global.ts'],
    setupFiles: ['test/setup/slack-fidelity.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // 2 cores: more workers only add contention with the PostgreSQL and S3 servers.
    maxWorkers: 3,
    env: { LOG_LEVEL: 'silent' },
  },
});
