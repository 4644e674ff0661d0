import { describe, expect, it } from '@jest/globals';
import pg from 'pg';
import { QueryFailedError } from 'typeorm';
import { databaseUnavailability, DatabaseUnavailableError } from './database-unavailable.js';

/** An error as the server sends it, with its SQLSTATE. */
function serverError(code: string): pg.DatabaseError {
  return Object.assign(new pg.DatabaseError('server says no', 0, 'error'), { code });
}
const failedQuery = (driverError: Error) => new QueryFailedError('SELECT 1', [], driverError);

describe(databaseUnavailability.name, () => {
  it.each(['08006', '08001', '53300', '53100', '57P01', '57P02', '57P03', '57014', '25P03'])(
    'should call the database unavailable when the server answers SQLSTATE %s',
    (code) => {
      const driverError = serverError(code);
      expect(databaseUnavailability(failedQuery(driverError))).toBe(driverError);
    },
  );

  it.each(['23505', '22001', '42P01', '40001', '40P01'])(
    'should not when the server answers SQLSTATE %s (the statement is at fault)',
    (code) => {
      expect(databaseUnavailability(failedQuery(serverError(code)))).toBeNull();
    },
  );

  it('should when our driver could not connect, lost the connection or gave up waiting, however wrapped', () => {
    const lost = new DatabaseUnavailableError('the connection to the database was lost');
    expect(databaseUnavailability(lost)).toBe(lost);
    expect(databaseUnavailability(failedQuery(lost))).toBe(lost);
    expect(databaseUnavailability(new Error('outer', { cause: lost }))).toBe(lost);
  });

  it('should not for anything else, whatever its message or code says', () => {
    expect(databaseUnavailability(new Error('connect ECONNREFUSED 127.0.0.1:5432'))).toBeNull();
    expect(databaseUnavailability(Object.assign(new Error('x'), { code: 'ECONNREFUSED' }))).toBeNull();
    expect(databaseUnavailability(failedQuery(new TypeError('Do not know how to serialize a BigInt')))).toBeNull();
    expect(databaseUnavailability('ECONNREFUSED')).toBeNull();
    expect(databaseUnavailability(undefined)).toBeNull();
  });
});
