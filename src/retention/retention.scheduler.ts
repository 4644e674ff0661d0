import { BeforeApplicationShutdown, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { LogThrottle } from '../common/logging/log-throttle.js';
import { AppConfig } from '../config/app-config.js';
import { RetentionService } from './retention.service.js';

const JOB = 'message-retention';

/**
 * Tries a retention round every MESSAGE_RETENTION_INTERVAL_SECONDS (one instance wins each
 * round). On shutdown it stops between two batches and waits for the batch in progress, before
 * the database closes.
 */
@Injectable()
export class RetentionScheduler implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(RetentionScheduler.name);
  // While the database is down every tick fails alike: log that once per interval, with a count.
  private readonly failures: LogThrottle;
  private readonly stopping = new AbortController();
  private round: Promise<void> | null = null;

  constructor(
    private readonly registry: SchedulerRegistry,
    private readonly retention: RetentionService,
    private readonly config: AppConfig,
  ) {
    this.failures = new LogThrottle(this.logger, config.logRepeatIntervalMs);
  }

  onApplicationBootstrap(): void {
    if (!this.config.retention.enabled) return;
    this.registry.addInterval(
      JOB,
      setInterval(() => this.tick(), this.config.retention.intervalSeconds * 1000),
    );
  }

  async beforeApplicationShutdown(): Promise<void> {
    if (this.registry.doesExist('interval', JOB)) this.registry.deleteInterval(JOB);
    this.stopping.abort();
    await this.round;
  }

  private tick(): void {
    if (this.round) return;
    this.round = this.retention
      .runRound(this.stopping.signal)
      .then(
        () => undefined,
        (err: unknown) => this.failures.error(err, 'message retention round failed'),
      )
      .finally(() => (this.round = null));
  }
}
