import { loggableError } from '../common/errors/loggable-error.js';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { AppConfig, type HealthConfig } from '../config/app-config.js';
import { AppError } from '../common/errors/app-error.js';
import { ProvidersService } from '../providers/providers.service.js';
import type { SendingProvider } from '../providers/sending-provider.js';
import { CLOCK, type Clock } from '../rate-limit/clock.js';
import { HealthChecksRepository, type HealthCheckRow } from './health-checks.repository.js';
import { SmtpChecker, type CheckOutcome } from './smtp-checker.js';

/**
 * A provider's health, as a small state machine:
 *
 *   unknown ──check ok──▶ healthy ──check fails──▶ unhealthy
 *      │                    │  ▲                     │  ▲
 *      │                    │  └──check ok / send ok─┘  │
 *      └──check fails───────┼───────────────────────────┘
 *                           └─N provider-side send failures in a row (HEALTH_FAILURE_THRESHOLD)
 *
 * - An active check (scheduled or POST health_check) sets healthy or unhealthy outright.
 * - Passive: each provider-side send failure counts; the N-th in a row makes it unhealthy. Any
 *   accepted send ends the streak (and heals an unhealthy provider).
 * - The sender skips unhealthy providers, except as a last-resort probe once
 *   HEALTH_PROBE_COOLDOWN_SECONDS have passed since it turned unhealthy; a probe that succeeds
 *   brings it back. New connection settings return it to unknown.
 * - `unknown` providers are used (they have not failed yet).
 */
@Injectable()
export class ProviderHealthService {
  private readonly logger = new Logger(ProviderHealthService.name);
  private readonly config: HealthConfig;

  constructor(
    private readonly providers: ProvidersService,
    private readonly checks: HealthChecksRepository,
    private readonly checker: SmtpChecker,
    @Inject(CLOCK) private readonly clock: Clock,
    config: AppConfig,
  ) {
    this.config = config.health;
  }

  /** Seed section 7: a live check now. */
  async checkNow(id: number): Promise<{ provider: SendingProvider; outcome: CheckOutcome; at: Date }> {
    const provider = await this.providers.forSending(id);
    if (!provider) throw AppError.notFound();
    return { provider, ...(await this.checkAndRecord(provider, 'manual')) };
  }

  /** Every active provider, a bounded number at a time, each bounded by its own timeout. */
  async runRound(): Promise<{ checked: number; unhealthy: number }> {
    const queue = (await this.providers.sendingOrder()).filter((p) => p.isActive);
    let unhealthy = 0;
    const total = queue.length;
    const worker = async () => {
      for (let p = queue.shift(); p; p = queue.shift()) {
        try {
          if (!(await this.checkAndRecord(p, 'scheduled')).outcome.healthy) unhealthy += 1;
        } catch (err) {
          this.logger.error({ err: loggableError(err), providerId: p.id }, 'health check could not run');
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.config.concurrency, total) }, worker));
    await this.checks.pruneBefore(new Date(this.clock.now().getTime() - this.config.retentionDays * 86_400_000));
    this.logger.log({ checked: total, unhealthy }, 'health check round done');
    return { checked: total, unhealthy };
  }

  async history(id: number, page: number, size: number): Promise<{ count: number; rows: HealthCheckRow[] }> {
    if (!(await this.providers.forSending(id))) throw AppError.notFound();
    return this.checks.history(id, size, (page - 1) * size);
  }

  /** Passive detection: called by the sender after each attempt. */
  async recordSendOutcome(provider: SendingProvider, providerFault: boolean, error: string | null): Promise<void> {
    if (!providerFault) {
      // Nothing to reset in the common case, so no write on the hot path.
      if (provider.consecutiveFailures === 0 && provider.healthStatus !== 'unhealthy') return;
      if (await this.providers.recordSendSuccess(provider.id))
        this.logger.log({ providerId: provider.id, provider: provider.name }, 'provider healthy again after a successful send');
      return;
    }
    const status = await this.providers.recordSendFailure(
      provider.id,
      this.config.failureThreshold,
      this.clock.now(),
      (error ?? 'send failed').slice(0, 300),
    );
    if (status === 'unhealthy' && provider.healthStatus !== 'unhealthy')
      this.logger.warn(
        { providerId: provider.id, provider: provider.name, error },
        `provider unhealthy after ${this.config.failureThreshold} failed sends in a row`,
      );
  }

  private async checkAndRecord(provider: SendingProvider, trigger: 'scheduled' | 'manual'): Promise<{ outcome: CheckOutcome; at: Date }> {
    const at = this.clock.now();
    const outcome = await this.checker.check(provider);
    const error = outcome.healthy
      ? null
      : [outcome.errorCode, outcome.smtpCode, outcome.reply]
          .filter((x) => x !== null)
          .join(' ')
          .slice(0, 300);
    await this.checks.insert({
      provider_id: provider.id,
      checked_at: at,
      trigger,
      healthy: outcome.healthy,
      latency_ms: outcome.latencyMs,
      error_code: outcome.errorCode,
      smtp_code: outcome.smtpCode,
      smtp_reply: outcome.reply,
    });
    await this.providers.recordCheck(provider.id, outcome.healthy, at, error);
    if (!outcome.healthy) this.logger.warn({ providerId: provider.id, provider: provider.name, error, trigger }, 'health check failed');
    return { outcome, at };
  }
}
