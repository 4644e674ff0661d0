import { describe, expect, it } from '@jest/globals';
import { ProviderCreateDto } from '../../providers/dto/provider-create.dto.js';
import { ProviderUpdateDto } from '../../providers/dto/provider-update.dto.js';
import { AppError, ErrorCode, type FieldErrors } from '../errors/app-error.js';
import { MSG } from './drf-fields.js';
import { createValidationPipe } from './validation.pipe.js';

const pipe = createValidationPipe();

function validBody(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: 'Gmail SMTP',
    provider_type: 'smtp',
    smtp_host: 'smtp.gmail.com',
    smtp_port: 587,
    from_email: 'sender@example.com',
    ...overrides,
  };
}

function transform(body: unknown, metatype: new () => object = ProviderCreateDto): Promise<unknown> {
  return pipe.transform(body, { type: 'body', metatype });
}

/** The field errors the pipe rejects the body with. */
async function fieldErrors(body: unknown, metatype: new () => object = ProviderCreateDto): Promise<FieldErrors> {
  const error = await transform(body, metatype).then(
    () => {
      throw new Error('expected the body to be rejected');
    },
    (err: unknown) => err,
  );
  expect(error).toBeInstanceOf(AppError);
  expect((error as AppError).code).toBe(ErrorCode.ValidationFailed);
  return (error as AppError).fields ?? {};
}

describe('DRF field decorators through the ValidationPipe', () => {
  describe(ProviderCreateDto.name, () => {
    it('should return a ProviderCreateDto when the body is valid', async () => {
      const dto = await transform(validBody());
      expect(dto).toBeInstanceOf(ProviderCreateDto);
      expect(dto).toMatchObject(validBody());
    });

    it.each([
      ['smtp_port', '587', 587],
      ['smtp_port', ' 465 ', 465],
      ['daily_limit', '0', 0],
      ['smtp_use_tls', 'true', true],
      ['smtp_use_tls', 'False', false],
      ['is_active', '1', true],
      ['is_default', 'off', false],
      ['priority', '2', 2],
    ])('should coerce %s from %j to %j as DRF does', async (field, given, expected) => {
      const dto = (await transform(validBody({ [field]: given }))) as Record<string, unknown>;
      expect(dto[field]).toBe(expected);
    });

    it('should trim surrounding whitespace from strings when they are valid', async () => {
      const dto = (await transform(validBody({ name: '  Padded  ', from_email: ' a@example.com ' }))) as ProviderCreateDto;
      expect(dto.name).toBe('Padded');
      expect(dto.from_email).toBe('a@example.com');
    });

    it('should drop unknown fields when the body has them', async () => {
      const dto = await transform(validBody({ favourite_colour: 'teal', id: 5 }));
      expect(dto).not.toHaveProperty('favourite_colour');
      expect(dto).not.toHaveProperty('id');
    });

    it('should name every required field when the body is empty', async () => {
      expect(await fieldErrors({})).toEqual({ name: [MSG.required], provider_type: [MSG.required], from_email: [MSG.required] });
    });

    it.each<[string, Record<string, unknown>, FieldErrors]>([
      ['a blank name', { name: '' }, { name: [MSG.blank] }],
      ['a number as name', { name: 42 }, { name: [MSG.notString] }],
      ['a port out of range', { smtp_port: 65536 }, { smtp_port: [MSG.maxValue(65535)] }],
      ['a port of 0', { smtp_port: 0 }, { smtp_port: [MSG.minValue(1)] }],
      ['a port that is not a number', { smtp_port: 'abc' }, { smtp_port: [MSG.integer] }],
      ['a port beyond safe integers', { smtp_port: 2 ** 60 }, { smtp_port: [MSG.integer] }],
      ['a boolean that is not one', { smtp_use_ssl: 'maybe' }, { smtp_use_ssl: [MSG.boolean] }],
      ['an unknown type', { provider_type: 'sendgrid' }, { provider_type: [MSG.choice('sendgrid')] }],
      ['an object as type', { provider_type: { a: 1 } }, { provider_type: ['"{"a":1}" is not a valid choice.'] }],
      ['a bad address', { from_email: 'nobody' }, { from_email: [MSG.email] }],
      ['an address with a header after it', { from_email: 'a@example.com\nBcc: b@example.com' }, { from_email: [MSG.email] }],
      ['a host with a space', { smtp_host: 'bad host' }, { smtp_host: [MSG.host] }],
      ['a display name with a line break', { from_name: 'A\rB' }, { from_name: [MSG.lineBreak] }],
    ])('should reject %s with DRF wording', async (_, overrides, expected) => {
      expect(await fieldErrors(validBody(overrides))).toEqual(expected);
    });

    it('should give one message per field when a value breaks several rules', async () => {
      const errors = await fieldErrors(
        validBody({ name: `${'x'.repeat(120)}\n`, smtp_port: -5, from_email: '<not an email>', priority: 'x', smtp_use_tls: 'nah' }),
      );
      expect(Object.keys(errors).sort()).toEqual(['from_email', 'name', 'priority', 'smtp_port', 'smtp_use_tls']);
      for (const messages of Object.values(errors)) expect(messages).toHaveLength(1);
      expect(errors.name).toEqual([MSG.maxLength(100)]);
      expect(errors.smtp_port).toEqual([MSG.minValue(1)]);
    });

    it('should say "may not be null" when a required field is null', async () => {
      expect(await fieldErrors(validBody({ from_email: null }))).toEqual({ from_email: [MSG.nullNotAllowed] });
    });

    it('should accept null when the field is nullable', async () => {
      const dto = (await transform(validBody({ daily_limit: null, reply_to: null }))) as ProviderCreateDto;
      expect(dto.daily_limit).toBeNull();
      expect(dto.reply_to).toBeNull();
    });

    it('should reject the body under non_field_errors when it is a list', async () => {
      expect(await fieldErrors([validBody()])).toEqual({ non_field_errors: ['Invalid data. Expected a dictionary, but got list.'] });
    });
  });

  describe(ProviderUpdateDto.name, () => {
    it('should accept an empty body when every field is optional', async () => {
      const dto = await transform({}, ProviderUpdateDto);
      expect(dto).toBeInstanceOf(ProviderUpdateDto);
      expect(Object.keys(dto as object)).toEqual([]);
    });

    it('should accept a single field when the others are left out', async () => {
      expect(await transform({ smtp_port: '2525' }, ProviderUpdateDto)).toEqual(
        Object.assign(new ProviderUpdateDto(), { smtp_port: 2525 }),
      );
    });

    it.each(['name', 'provider_type', 'from_email', 'smtp_use_tls', 'priority', 'is_active'])(
      'should say "may not be null" when %s is null',
      async (field) => {
        expect(await fieldErrors({ [field]: null }, ProviderUpdateDto)).toEqual({ [field]: [MSG.nullNotAllowed] });
      },
    );

    it.each(['smtp_host', 'smtp_port', 'reply_to', 'daily_limit', 'smtp_password'])(
      'should accept null when %s is nullable',
      async (field) => {
        const dto = (await transform({ [field]: null }, ProviderUpdateDto)) as Record<string, unknown>;
        expect(dto[field]).toBeNull();
      },
    );

    it('should still check the values that are given', async () => {
      expect(await fieldErrors({ name: '', smtp_port: 70000 }, ProviderUpdateDto)).toEqual({
        name: [MSG.blank],
        smtp_port: [MSG.maxValue(65535)],
      });
    });
  });
});
