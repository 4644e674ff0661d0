import { Injectable } from '@nestjs/common';
import { AppError, ErrorCode, type FieldErrors } from '../common/errors/app-error.js';
import { createValidationPipe } from '../common/validation/validation.pipe.js';
import { CredentialsService } from '../credentials/credentials.service.js';
import { ProviderCreateDto } from './dto/provider-create.dto.js';
import { ProvidersService, type SealedSecrets } from './providers.service.js';

export type ImportOutcome =
  | { index: number; name: string | null; outcome: 'created'; id: number }
  | { index: number; name: string | null; outcome: 'skipped'; reason: string }
  | { index: number; name: string | null; outcome: 'rejected'; errors: FieldErrors };

/** Secrets that may arrive already encrypted by the old deployment, and the field each seals. */
const SEALED_FIELDS = [
  { plain: 'smtp_password', sealed: 'smtp_password_encrypted', key: 'smtpPassword' },
  { plain: 'aws_secret_access_key', sealed: 'aws_secret_access_key_encrypted', key: 'awsSecretAccessKey' },
] as const;

const NOT_OPENED = 'No key in FERNET_KEYS opens this token.';

/**
 * Imports providers exported from the existing deployment, in the seed's field names.
 * Idempotent by name: a live provider with the same name is left alone.
 */
@Injectable()
export class ProviderImportService {
  private readonly pipe = createValidationPipe();

  constructor(
    private readonly providers: ProvidersService,
    private readonly credentials: CredentialsService,
  ) {}

  async importAll(records: unknown[]): Promise<ImportOutcome[]> {
    const outcomes: ImportOutcome[] = [];
    for (const [index, record] of records.entries()) outcomes.push(await this.importOne(index, record));
    return outcomes;
  }

  private async importOne(index: number, record: unknown): Promise<ImportOutcome> {
    if (typeof record !== 'object' || record === null || Array.isArray(record))
      return { index, name: null, outcome: 'rejected', errors: { non_field_errors: ['Expected an object.'] } };
    const raw = record as Record<string, unknown>;
    const name = typeof raw.name === 'string' ? raw.name.trim() : null;

    const sealed: SealedSecrets = {};
    const errors: FieldErrors = {};
    for (const f of SEALED_FIELDS) {
      const token = raw[f.sealed];
      if (token === undefined || token === null || token === '') continue;
      if (raw[f.plain]) errors[f.sealed] = [`Give ${f.plain} or ${f.sealed}, not both.`];
      else if (typeof token !== 'string' || !this.credentials.opens(token)) errors[f.sealed] = [NOT_OPENED];
      else sealed[f.key] = token;
    }
    if (Object.keys(errors).length) return { index, name, outcome: 'rejected', errors };

    let dto: ProviderCreateDto;
    try {
      dto = (await this.pipe.transform(raw, { type: 'body', metatype: ProviderCreateDto })) as ProviderCreateDto;
    } catch (err) {
      if (err instanceof AppError && err.fields) return { index, name, outcome: 'rejected', errors: err.fields };
      throw err;
    }
    if (await this.providers.existsByName(dto.name))
      return { index, name: dto.name, outcome: 'skipped', reason: 'a provider with this name exists' };
    try {
      const created = await this.providers.create(dto, sealed);
      return { index, name: dto.name, outcome: 'created', id: created.id };
    } catch (err) {
      if (err instanceof AppError && err.code === ErrorCode.ValidationFailed && err.fields?.name)
        return { index, name: dto.name, outcome: 'skipped', reason: 'a provider with this name exists' };
      if (err instanceof AppError && err.fields) return { index, name: dto.name, outcome: 'rejected', errors: err.fields };
      throw err;
    }
  }
}
