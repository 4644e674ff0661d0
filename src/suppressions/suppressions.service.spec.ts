import { describe, expect, it } from '@jest/globals';
import { AppError, ErrorCode } from '../common/errors/app-error.js';
import type { SuppressionsRepository } from './suppressions.repository.js';
import { SuppressionsService } from './suppressions.service.js';
import type { SuppressionRow } from './suppression.types.js';

/** The table in memory, unique by lower-cased address as the index is. */
class FakeSuppressions implements Pick<SuppressionsRepository, 'add' | 'remove'> {
  readonly rows: SuppressionRow[] = [];
  async add(entry: Pick<SuppressionRow, 'email' | 'reason' | 'note'>): Promise<SuppressionRow | null> {
    if (this.rows.some((r) => r.email.toLowerCase() === entry.email.toLowerCase())) return null;
    const row = { id: this.rows.length + 1, message_id: null, created_at: new Date('2025-01-07T10:30:00Z'), ...entry };
    this.rows.push(row);
    return row;
  }
  async remove(email: string): Promise<boolean> {
    const at = this.rows.findIndex((r) => r.email.toLowerCase() === email.toLowerCase());
    if (at !== -1) this.rows.splice(at, 1);
    return at !== -1;
  }
}

const serviceWith = (fake: FakeSuppressions) => new SuppressionsService(fake as unknown as SuppressionsRepository);

describe(SuppressionsService.name, () => {
  it('should answer the new entry with an empty note when none is given', async () => {
    const added = await serviceWith(new FakeSuppressions()).add({ email: 'a@example.com', reason: 'manual' });
    expect(added).toEqual({
      id: 1,
      email: 'a@example.com',
      reason: 'manual',
      note: '',
      message_id: null,
      created_at: '2025-01-07T10:30:00.000Z',
    });
  });

  it('should refuse an address already suppressed with a validation error on email, leaving the entry as it was', async () => {
    const fake = new FakeSuppressions();
    const service = serviceWith(fake);
    await service.add({ email: 'A@example.com', reason: 'complaint' });
    const error = await service.add({ email: 'a@EXAMPLE.com', reason: 'manual' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AppError);
    expect(error).toMatchObject({ code: ErrorCode.ValidationFailed, fields: { email: ['This address is already suppressed.'] } });
    expect(fake.rows).toEqual([expect.objectContaining({ email: 'A@example.com', reason: 'complaint' })]);
  });

  it('should answer not found when removing an address that is not listed', async () => {
    const error = await serviceWith(new FakeSuppressions())
      .remove('nobody@example.com')
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: ErrorCode.NotFound, detail: 'Not found.' });
  });
});
