import { describe, expect, it } from '@jest/globals';
import { QueryFailedError } from 'typeorm';
import { loggableError } from './loggable-error.js';

describe(loggableError.name, () => {
  it('should keep the class, code and message but drop the query parameters when a statement fails', () => {
    const driverError = Object.assign(new Error('value too long for type character varying(100)'), { code: '22001' });
    const err = new QueryFailedError(
      'INSERT INTO providers (name, smtp_password_encrypted) VALUES ($1, $2)',
      ['x', 'gAAAAA-sealed-secret'],
      driverError,
    );
    const logged = JSON.stringify(loggableError(err));
    expect(logged).toContain('QueryFailedError');
    expect(logged).toContain('value too long');
    expect(logged).not.toContain('gAAAAA-sealed-secret');
    expect(logged).not.toContain('INSERT INTO');
  });

  it('should follow causes and describe what is not an Error when something odd is thrown', () => {
    const err = new Error('outer', { cause: Object.assign(new Error('inner'), { code: 'ECONNRESET' }) });
    expect(loggableError(err)).toMatchObject({ message: 'outer', cause: { message: 'inner', code: 'ECONNRESET' } });
    expect(loggableError({ password: 'p' })).toBe('non-error thrown: object');
  });
});
