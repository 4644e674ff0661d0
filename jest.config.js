/**
 * Jest in ESM mode (Nest 12 is ESM-only; FINDINGS.md). ts-jest only transpiles:
 * `npm run typecheck` type-checks the whole tree once, which is faster than per file.
 */
const transform = {
  '^.+\\.ts$': [
    'ts-jest',
    {
      useESM: true,
      tsconfig: {
        module: 'nodenext',
        moduleResolution: 'nodenext',
        target: 'es2023',
        experimentalDecorators: true,
        emitDecoratorMetadata: true,
        esModuleInterop: true,
        skipLibCheck: true,
        isolatedModules: true,
        strictPropertyInitialization: false,
      },
    },
  ],
};

const common = {
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: { ...transform, 'node_modules/@willsoto/nestjs-prometheus/.+\\.js$': '<rootDir>/test/support/nest-common-for-cjs.cjs' },
  transformIgnorePatterns: ['/node_modules/(?!@willsoto/nestjs-prometheus/)'],
  setupFiles: ['<rootDir>/test/support/nest-common-global.ts'],
  testEnvironment: 'node',
};

export default {
  // Booting the app on a fresh embedded database takes a few seconds.
  testTimeout: 60_000,
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/src/**/*.spec.ts'] },
    { ...common, displayName: 'e2e', testMatch: ['<rootDir>/test/**/*.e2e-spec.ts'] },
  ],
};
