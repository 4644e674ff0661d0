import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { returningRows } from '../providers/providers.repository.js';
import type { SuppressionReason, SuppressionRow } from './suppression.types.js';

export interface SuppressionFilter {
  email?: string;
  reason?: SuppressionReason;
}

/** All SQL about the suppression list. Addresses are compared by lower(email), the unique index. */
@Injectable()
export class SuppressionsRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /** The new row, or null when the address is already suppressed (atomic: the unique index decides). */
  async add(entry: { email: string; reason: SuppressionReason; note: string }): Promise<SuppressionRow | null> {
    const rows: SuppressionRow[] = await this.dataSource.query(
      `INSERT INTO suppressions (email, reason, note) VALUES ($1, $2, $3)
       ON CONFLICT ((lower(email))) DO NOTHING RETURNING *`,
      [entry.email, entry.reason, entry.note],
    );
    return rows[0] ?? null;
  }

  /** Whether a row was removed. */
  async remove(email: string): Promise<boolean> {
    const rows = returningRows(
      await this.dataSource.query(`DELETE FROM suppressions WHERE lower(email) = lower($1) RETURNING id`, [email]),
    );
    return rows.length > 0;
  }

  async list(filter: SuppressionFilter, limit: number, offset: number): Promise<{ count: number; rows: SuppressionRow[] }> {
    const where: string[] = [];
    const params: unknown[] = [];
    if (filter.email !== undefined) where.push(`lower(email) = lower($${params.push(filter.email)})`);
    if (filter.reason !== undefined) where.push(`reason = $${params.push(filter.reason)}`);
    const clause = where.length ? `WHERE ${where.join(' AND ')}` : '';
    const [{ count }] = await this.dataSource.query(`SELECT count(*)::int AS count FROM suppressions ${clause}`, params);
    const rows: SuppressionRow[] = await this.dataSource.query(
      `SELECT * FROM suppressions ${clause} ORDER BY id DESC LIMIT ${Number(limit)} OFFSET ${Number(offset)}`,
      params,
    );
    return { count, rows };
  }

  /**
   * The suppressed ones among these addresses, keyed by the address as given, with why; one query.
   * Both sides are lowered by PostgreSQL, so the comparison is the unique index's own.
   */
  async reasonsFor(addresses: string[]): Promise<Map<string, SuppressionReason>> {
    if (!addresses.length) return new Map();
    const rows: { address: string; reason: SuppressionReason }[] = await this.dataSource.query(
      `SELECT a.address, s.reason FROM unnest($1::text[]) AS a (address)
         JOIN suppressions s ON lower(s.email) = lower(a.address)`,
      [[...new Set(addresses)]],
    );
    return new Map(rows.map((r) => [r.address, r.reason]));
  }
}
