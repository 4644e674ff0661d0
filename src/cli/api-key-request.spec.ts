import { describe, expect, it } from '@jest/globals';
import { parseKeyRequest } from './api-key-request.js';

describe(parseKeyRequest.name, () => {
  it('should split, trim and de-duplicate the scopes when they are all known', () => {
    expect(parseKeyRequest({ name: ' billing ', scopes: 'send, providers:read,send' })).toEqual({
      name: 'billing',
      scopes: ['send', 'providers:read'],
    });
  });

  it.each([
    [
      'an unknown scope',
      { name: 'n', scopes: 'send,root' },
      '--scopes: "root" is not a known scope; known scopes: providers:read, providers:write, send, metrics, webhooks, admin',
    ],
    ['a scope in the wrong case', { name: 'n', scopes: 'SEND' }, '"SEND" is not a known scope'],
    ['no scope', { name: 'n', scopes: ' , ' }, '--scopes must list at least one of'],
    ['a blank name', { name: '   ', scopes: 'send' }, '--name must not be blank'],
    ['a name over 100 characters', { name: 'x'.repeat(101), scopes: 'send' }, '--name must be at most 100 characters'],
  ])('should refuse %s with a clear message', (_, options, message) => {
    expect(() => parseKeyRequest(options)).toThrow(message);
  });
});
