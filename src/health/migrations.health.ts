import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { HealthIndicatorService } from '@nestjs/terminus';
import { DataSource } from 'typeorm';

@Injectable()
export class MigrationsHealthIndicator {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly indicator: HealthIndicatorService,
  ) {}

  /** Up when every migration is applied; down when some are pending, or the database fails or outlasts `timeoutMs`. */
  check(key: string, timeoutMs: number) {
    return this.indicator
      .check(key)
      .attempt(async () => {
        if (await this.dataSource.showMigrations()) throw new Error('migrations are pending');
      })
      .withTimeout(timeoutMs);
  }
}
