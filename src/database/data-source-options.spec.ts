import { describe, expect, it } from '@jest/globals';
import { dataSourceOptions } from './data-source-options.js';
import { boundedPg, QUERY_TIMEOUT_OPTION } from './pg-driver.js';

const timeouts = { connectMs: 1000, statementMs: 2000, queryMs: 3000 };
const extraOf = (options: ReturnType<typeof dataSourceOptions>) => (options as { extra: Record<string, unknown> }).extra;

describe(dataSourceOptions.name, () => {
  it.each([
    ['a PostgreSQL server', { url: 'postgres://app@db:5432/email' }],
    ['the embedded PGlite', { host: '/data/run', port: 5432, user: 'postgres', database: 'postgres' }],
  ])('should bound connecting, statements, idle transactions and queries on %s', (_, target) => {
    const options = dataSourceOptions(target, 4, timeouts);
    expect(options).toMatchObject({ driver: boundedPg });
    expect(extraOf(options)).toEqual({
      max: 4,
      connectionTimeoutMillis: 1000,
      statement_timeout: 2000,
      idle_in_transaction_session_timeout: 3000,
      [QUERY_TIMEOUT_OPTION]: 3000,
    });
  });

  it('should bound only connecting for migrations, which may rightly run long', () => {
    const extra = extraOf(dataSourceOptions({ url: 'postgres://app@db:5432/email' }, 2, { connectMs: 1000 }));
    expect(extra).toMatchObject({ max: 2, connectionTimeoutMillis: 1000 });
    expect(extra.statement_timeout).toBeUndefined();
    expect(extra.idle_in_transaction_session_timeout).toBeUndefined();
    expect(extra[QUERY_TIMEOUT_OPTION]).toBeUndefined();
  });
});
