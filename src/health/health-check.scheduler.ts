import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { CronJob } from 'cron';
import { randomUUID } from 'node:crypto';
import { LogThrottle } from '../common/logging/log-throttle.js';
import { AppConfig } from '../config/app-config.js';
import { ScheduledRoundsRepository } from '../database/scheduled-rounds.repository.js';
import { ProviderHealthService } from './provider-health.service.js';

const JOB = 'provider-health-checks';
const PROBES = 'provider-recovery-probes';

/**
 * Runs a check round on HEALTH_CHECK_CRON, once per round across all instances, and looks every
 * second for unhealthy providers whose recovery probe is due (each probe is claimed by one instance).
 */
@Injectable()
export class HealthCheckScheduler implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(HealthCheckScheduler.name);
  private readonly owner = randomUUID();
  private probing = false;
  // While the database is down every tick fails alike: log that once per interval, with a count.
  private readonly failures: LogThrottle;

  constructor(
    private readonly registry: SchedulerRegistry,
    private readonly health: ProviderHealthService,
    private readonly rounds: ScheduledRoundsRepository,
    private readonly config: AppConfig,
  ) {
    this.failures = new LogThrottle(this.logger, config.logRepeatIntervalMs);
  }

  onApplicationBootstrap(): void {
    if (!this.config.health.enabled) return;
    const job: CronJob = CronJob.from({ cronTime: this.config.health.cron, onTick: (): Promise<void> => this.tick(job), start: true });
    this.registry.addCronJob(JOB, job as never);
    const probeEveryMs = Math.min(1000, this.config.health.probeInitialSeconds * 1000);
    this.registry.addInterval(
      PROBES,
      setInterval(() => void this.probe(), probeEveryMs),
    );
  }

  onApplicationShutdown(): void {
    if (this.registry.doesExist('cron', JOB)) this.registry.deleteCronJob(JOB);
    if (this.registry.doesExist('interval', PROBES)) this.registry.deleteInterval(PROBES);
  }

  private async probe(): Promise<void> {
    if (this.probing) return;
    this.probing = true;
    try {
      await this.health.probeDue();
    } catch (err) {
      this.failures.error(err, 'recovery probes failed');
    } finally {
      this.probing = false;
    }
  }

  private async tick(job: CronJob): Promise<void> {
    const [next, after] = job.nextDates(2).map((d) => d.toMillis());
    try {
      if (!(await this.rounds.claim(JOB, this.owner, new Date(), (after - next) / 2))) return;
      await this.health.runRound();
    } catch (err) {
      this.failures.error(err, 'health check round failed');
    }
  }
}
