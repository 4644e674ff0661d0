import { loggableError } from '../common/errors/loggable-error.js';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { AppConfig, type HealthConfig } from '../config/app-config.js';
import { AppError } from '../common/errors/app-error.js';
import { ProvidersService } from '../providers/providers.service.js';
import type { SendingProvider } from '../providers/sending-provider.js';
import { CLOCK, type Clock } from '../rate-limit/clock.js';
import { HealthChecksRepository, type HealthCheckRow } from './health-checks.repository.js';
import type { CheckOutcome } from '../provider-types/check-outcome.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { ProviderTypeRegistry } from '../provider-types/provider-type.registry.js';

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
 * - Passive: each provider-side send failure, or outcome left unknown after DATA, counts; the
 *   N-th in a row makes it unhealthy. Failures of attempts that were already in flight when the
 *   last one was seen are the same outage and count once. Any accepted send ends the streak (and
 *   heals an unhealthy provider).
 * - Recovery probes: an unhealthy provider gets an active check HEALTH_PROBE_INITIAL_SECONDS after
 *   it turned unhealthy, then after twice as long each time, up to HEALTH_PROBE_COOLDOWN_SECONDS.
 *   When a provider comes back, messages that were waiting for any provider are due at once.
 * - The sender skips unhealthy providers, except as a last-resort attempt once
 *   HEALTH_PROBE_COOLDOWN_SECONDS have passed since it turned unhealthy; a send that succeeds
 *   brings it back. New connection settings return it to unknown.
 * - `unknown` providers are used (they have not failed yet).
 */
@Injectable()
export class ProviderHealthService {
  private readonly logger = new Logger(ProviderHealthService.name);
  private readonly config: HealthConfig;
  private readonly recoveryListeners: ((provider: SendingProvider) => Promise<void>)[] = [];

  constructor(
    private readonly providers: ProvidersService,
    private readonly checks: HealthChecksRepository,
    private readonly types: ProviderTypeRegistry,
    private readonly metrics: MetricsService,
    @Inject(CLOCK) private readonly clock: Clock,
    config: AppConfig,
  ) {
    this.config = config.health;
  }

  /** Called whenever a provider comes back from unhealthy (a check or a send proved it works). */
  onRecovered(listener: (provider: SendingProvider) => Promise<void>): void {
    this.recoveryListeners.push(listener);
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

  /** Checks the unhealthy providers whose recovery probe is due (claimed once across instances). */
  async probeDue(): Promise<number> {
    const ids = await this.providers.claimDueProbes(this.clock.now(), this.config.probeInitialSeconds, this.config.probeCooldownSeconds);
    await Promise.all(
      ids.map(async (id) => {
        const provider = await this.providers.forSending(id);
        if (provider) await this.checkAndRecord(provider, 'scheduled');
      }),
    );
    return ids.length;
  }

  async history(id: number, page: number, size: number): Promise<{ count: number; rows: HealthCheckRow[] }> {
    if (!(await this.providers.forSending(id))) throw AppError.notFound();
    return this.checks.history(id, size, (page - 1) * size);
  }

  /** Passive detection: called by the sender after each attempt, with the time the attempt started. */
  async recordSendOutcome(provider: SendingProvider, providerFault: boolean, error: string | null, startedAt: Date): Promise<void> {
    if (!providerFault) {
      // Nothing to reset in the common case, so no write on the hot path.
      if (provider.consecutiveFailures === 0 && provider.healthStatus !== 'unhealthy') return;
      if ((await this.providers.recordSendSuccess(provider.id)) && provider.healthStatus === 'unhealthy') {
        this.logger.log({ providerId: provider.id, provider: provider.name }, 'provider healthy again after a successful send');
        await this.recovered(provider);
      }
      return;
    }
    const status = await this.providers.recordSendFailure(provider.id, {
      threshold: this.config.failureThreshold,
      startedAt,
      at: this.clock.now(),
      error: (error ?? 'send failed').slice(0, 300),
      probeAfterSeconds: this.config.probeInitialSeconds,
    });
    if (status === 'unhealthy' && provider.healthStatus !== 'unhealthy')
      this.logger.warn(
        { providerId: provider.id, provider: provider.name, error },
        `provider unhealthy after ${this.config.failureThreshold} failed sends in a row`,
      );
  }

  private async recovered(provider: SendingProvider): Promise<void> {
    for (const listener of this.recoveryListeners)
      await listener(provider).catch((err: unknown) =>
        this.logger.error({ err: loggableError(err), providerId: provider.id }, 'could not act on a provider recovery'),
      );
  }

  private async checkAndRecord(provider: SendingProvider, trigger: 'scheduled' | 'manual'): Promise<{ outcome: CheckOutcome; at: Date }> {
    const at = this.clock.now();
    let outcome: CheckOutcome;
    try {
      outcome = await this.types.of(provider.providerType).check(provider, await this.providers.secretFor(provider));
    } catch (err) {
      this.metrics.healthChecked(provider.id, 'error');
      throw err;
    }
    this.metrics.healthChecked(provider.id, outcome.healthy ? 'healthy' : 'unhealthy');
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
      details: outcome.details ?? null,
    });
    const was = await this.providers.recordCheck(provider.id, outcome.healthy, at, error, this.config.probeInitialSeconds, outcome.details);
    if (outcome.healthy && was === 'unhealthy') {
      this.logger.log({ providerId: provider.id, provider: provider.name, trigger }, 'provider healthy again after a check');
      await this.recovered(provider);
    }
    if (!outcome.healthy) this.logger.warn({ providerId: provider.id, provider: provider.name, error, trigger }, 'health check failed');
    return { outcome, at };
  }
}
