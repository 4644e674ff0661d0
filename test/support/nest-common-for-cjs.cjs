/**
 * Jest transform for @willsoto/nestjs-prometheus, a CommonJS package that require()s the ESM-only
 * @nestjs/common. Node (20.19+) loads that natively; Jest supports require(esm) only from Node 24.9,
 * so under Jest its require is swapped for the @nestjs/common instance the test itself imported
 * (test/support/nest-common-global.ts): the same decorators and metadata as the app's.
 */
const { createHash } = require('node:crypto');

module.exports = {
  process(source) {
    return { code: source.replace(/require\("@nestjs\/common"\)/g, 'globalThis.__nestjsCommonForCjs') };
  },
  getCacheKey(source, path) {
    return createHash('sha256').update('nest-common-for-cjs-1').update(path).update(source).digest('hex');
  },
};
