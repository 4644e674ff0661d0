import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { SendMessageDto } from '../../sending/dto/send-message.dto.js';
import { ProviderUpdateDto } from '../../providers/dto/provider-update.dto.js';
import { ProviderListQuery } from '../../providers/dto/provider-list.query.js';
import { AppError, ErrorCode, type FieldErrors } from '../errors/app-error.js';
import { MSG, isPlainAddress, longestWord, textProblem } from './drf-fields.js';
import { MAX_NESTING, nestingErrors, textErrors } from './input-guard.js';
import { createValidationPipe } from './validation.pipe.js';

const pipe = createValidationPipe();
function nested(levels: number): unknown {
  let value: unknown = 'leaf';
  for (let i = 0; i < levels; i++) value = [value];
  return value;
}

async function fieldErrors(value: unknown, metatype: new () => object, type: 'body' | 'query' = 'body'): Promise<FieldErrors> {
  const error = await pipe.transform(value, { type, metatype }).then(
    () => {
      throw new Error('expected the input to be rejected');
    },
    (err: unknown) => err,
  );
  expect(error).toBeInstanceOf(AppError);
  expect((error as AppError).code).toBe(ErrorCode.ValidationFailed);
  return (error as AppError).fields ?? {};
}

describe('textProblem', () => {
  it.each([
    ['U+0000', 'a\u0000b', MSG.nullCharacters],
    ['a lone high surrogate', 'a\ud800', MSG.surrogate(0xd800)],
    ['a lone low surrogate', '\udfffb', MSG.surrogate(0xdfff)],
    ['two high surrogates', '\ud83d\ud83d\ude00', MSG.surrogate(0xd83d)],
  ])('should refuse %s with DRF wording', (_, value, message) => {
    expect(textProblem(value)).toBe(message);
  });

  it('should accept any string of whole characters', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (s) => expect(textProblem(s)).toBe(s.includes('\u0000') ? MSG.nullCharacters : null)),
    );
  });
});

describe('isPlainAddress', () => {
  it('should say no, not throw, when the address has a lone surrogate', () => {
    expect(isPlainAddress('a\ud800@example.com')).toBe(false);
    expect(isPlainAddress('a@exa\udc00mple.com')).toBe(false);
  });
});

describe('longestWord', () => {
  it.each([
    ['', 0],
    ['two words', 5],
    ['tab\tseparated', 9],
    ['déjà vu', 2],
    ['日本語のテキスト', 0],
  ])('should measure the longest ASCII word in %j as %d', (value, length) => {
    expect(longestWord(value)).toBe(length);
  });
});

describe('nestingErrors and textErrors', () => {
  it(`should allow ${MAX_NESTING} levels and refuse one more, keyed by the field`, () => {
    expect(nestingErrors({ a: nested(MAX_NESTING), b: 1 })).toEqual({});
    expect(nestingErrors({ a: nested(MAX_NESTING + 1), b: 1 })).toEqual({ a: [MSG.nesting(MAX_NESTING)] });
  });

  it('should key a nested problem by its dotted path and a bad key by the object holding it', () => {
    const fields = new Set(['headers', 'attachments', 'to']);
    expect(
      textErrors(
        { headers: { 'X-Ok': 'v', 'X-Bad': '\u0000' }, attachments: [{ filename: '\udc00' }], to: { 'k\u0000': 'v' }, other: '\u0000' },
        fields,
      ),
    ).toEqual({
      'headers.X-Bad': [MSG.nullCharacters],
      'attachments.0.filename': [MSG.surrogate(0xdc00)],
      to: [MSG.nullCharacters],
    });
  });
});

describe('the validation pipe on raw input', () => {
  it('should refuse deep nesting before class-transformer can overflow, even in an ignored field', async () => {
    expect(await fieldErrors({ name: 'x', unknown: nested(100_000) }, ProviderUpdateDto)).toEqual({ unknown: [MSG.nesting(MAX_NESTING)] });
  });

  it('should report bad text beside the other fields errors, one message per field', async () => {
    expect(await fieldErrors({ name: 'a\u0000', smtp_port: 0, from_email: 'x\ud800@example.com' }, ProviderUpdateDto)).toEqual({
      name: [MSG.nullCharacters],
      smtp_port: [MSG.minValue(1)],
      from_email: [MSG.surrogate(0xd800)],
    });
  });

  it('should ignore bad text in a field the DTO does not have, as it ignores the field', async () => {
    expect(await pipe.transform({ name: 'ok', favourite: '\u0000' }, { type: 'body', metatype: ProviderUpdateDto })).toEqual(
      Object.assign(new ProviderUpdateDto(), { name: 'ok' }),
    );
  });

  it('should check query strings too', async () => {
    expect(await fieldErrors({ provider_type: 'smtp\u0000' }, ProviderListQuery, 'query')).toEqual({ provider_type: [MSG.nullCharacters] });
  });

  it('should refuse a subject or header value word that nodemailer could not fold within 998 characters', async () => {
    const message = { to: 'a@example.com', text: 'x' };
    expect(await fieldErrors({ ...message, subject: 'w'.repeat(901) }, SendMessageDto)).toEqual({ subject: [MSG.maxWordLength(900)] });
    expect(await fieldErrors({ ...message, subject: 'ok', headers: { 'X-A': 'w'.repeat(901) } }, SendMessageDto)).toEqual({
      headers: ['The value of "X-A" has a word longer than 900 characters; put spaces in it.'],
    });
    await expect(
      pipe.transform({ ...message, subject: `${'w'.repeat(900)} é${'é'.repeat(96)}` }, { type: 'body', metatype: SendMessageDto }),
    ).resolves.toBeInstanceOf(SendMessageDto);
  });

  it('should leave path parameters to their own pipe', async () => {
    expect(await pipe.transform(' 1', { type: 'param', metatype: Number, data: 'id' })).toBe(' 1');
  });
});
