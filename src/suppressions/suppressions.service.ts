import { pageOf } from '../common/pagination.js';
import { Injectable } from '@nestjs/common';
import { AppError } from '../common/errors/app-error.js';
import type { SuppressionCreateDto } from './dto/suppression-create.dto.js';
import type { SuppressionListQuery } from './dto/suppression-list.query.js';
import type { SuppressionPageDto, SuppressionResponseDto } from './dto/suppression-response.dto.js';
import { SuppressionsRepository } from './suppressions.repository.js';
import type { SuppressionReason, SuppressionRow } from './suppression.types.js';

/** The addresses no message is sent to. Sending asks `reasonsFor`; people manage the list through the API. */
@Injectable()
export class SuppressionsService {
  constructor(private readonly suppressions: SuppressionsRepository) {}

  async add(dto: SuppressionCreateDto): Promise<SuppressionResponseDto> {
    const row = await this.suppressions.add({ email: dto.email, reason: dto.reason, note: dto.note ?? '' });
    if (!row) throw AppError.validation({ email: ['This address is already suppressed.'] });
    return this.map(row);
  }

  async remove(email: string): Promise<void> {
    if (!(await this.suppressions.remove(email))) throw AppError.notFound();
  }

  async list(
    query: SuppressionListQuery,
    links: (page: number, size: number, count: number) => Pick<SuppressionPageDto, 'next' | 'previous'>,
  ): Promise<SuppressionPageDto> {
    const { page, size, offset } = pageOf(query);
    const { count, rows } = await this.suppressions.list({ email: query.email || undefined, reason: query.reason }, size, offset);
    return { count, ...links(page, size, count), results: rows.map((r) => this.map(r)) };
  }

  /** The suppressed ones among these addresses, keyed by the address as given, with why. */
  reasonsFor(addresses: string[]): Promise<Map<string, SuppressionReason>> {
    return this.suppressions.reasonsFor(addresses);
  }

  private map(row: SuppressionRow): SuppressionResponseDto {
    return {
      id: row.id,
      email: row.email,
      reason: row.reason,
      note: row.note,
      message_id: row.message_id === null ? null : Number(row.message_id),
      created_at: new Date(row.created_at).toISOString(),
    };
  }
}
