import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['__tests__/**/*.test.ts', 'src/**/*.test.ts'],
    globalSetup: ['__tests__/tmpdir-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 600_000,
  },
});
