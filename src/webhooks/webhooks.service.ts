import { Inject, Injectable, Logger } from '@nestjs/common';
import { AppError } from '../common/errors/app-error.js';
import { CredentialsService } from '../credentials/credentials.service.js';
import { OutboundPolicy } from '../outbound/outbound-policy.js';
import { CLOCK, type Clock } from '../rate-limit/clock.js';
import type { WebhookCreateDto } from './dto/webhook-create.dto.js';
import type {
  DeliveryPageDto,
  DeliveryResponseDto,
  WebhookCreatedDto,
  WebhookResponseDto,
  WebhookTestResultDto,
} from './dto/webhook-response.dto.js';
import type { WebhookUpdateDto } from './dto/webhook-update.dto.js';
import { WebhookDispatcher } from './webhook-dispatcher.js';
import { newWebhookSecret } from './webhook-signing.js';
import { WebhooksRepository, type DeliveryCounts, type DeliveryRow, type WebhookRow } from './webhooks.repository.js';

/** How long the previous secret keeps signing after a rotation, so receivers can switch without losing events. */
export const ROTATION_OVERLAP_MS = 24 * 3600 * 1000;

const iso = (d: Date | null) => (d ? new Date(d).toISOString() : null);

@Injectable()
export class WebhooksService {
  private readonly logger = new Logger(WebhooksService.name);

  constructor(
    private readonly repository: WebhooksRepository,
    private readonly credentials: CredentialsService,
    private readonly policy: OutboundPolicy,
    private readonly dispatcher: WebhookDispatcher,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  async create(dto: WebhookCreateDto): Promise<WebhookCreatedDto> {
    await this.checkDestination(dto.url);
    const secret = newWebhookSecret();
    const row = await this.repository.create(
      { url: dto.url, description: dto.description ?? '', events: dto.events, isActive: dto.is_active ?? true },
      this.credentials.seal(secret),
    );
    this.logger.log({ webhookId: row.id, events: row.events }, 'webhook endpoint created');
    return { ...(await this.mapOne(row)), secret };
  }

  async list(): Promise<WebhookResponseDto[]> {
    const rows = await this.repository.list();
    const counts = await this.repository.deliveryCounts(rows.map((r) => r.id));
    return rows.map((r) => this.map(r, counts.get(r.id)));
  }

  async get(id: number): Promise<WebhookResponseDto> {
    return this.mapOne(await this.found(id));
  }

  async update(id: number, dto: WebhookUpdateDto): Promise<WebhookResponseDto> {
    await this.found(id);
    if (dto.url !== undefined) await this.checkDestination(dto.url);
    const row = await this.repository.update(id, {
      url: dto.url,
      description: dto.description,
      events: dto.events,
      isActive: dto.is_active,
    });
    if (!row) throw AppError.notFound();
    return this.mapOne(row);
  }

  async delete(id: number): Promise<void> {
    if (!(await this.repository.delete(id))) throw AppError.notFound();
    this.logger.log({ webhookId: id }, 'webhook endpoint deleted, with its deliveries');
  }

  async rotateSecret(id: number): Promise<WebhookCreatedDto> {
    await this.found(id);
    const secret = newWebhookSecret();
    const row = await this.repository.rotateSecret(
      id,
      this.credentials.seal(secret),
      new Date(this.clock.now().getTime() + ROTATION_OVERLAP_MS),
    );
    if (!row) throw AppError.notFound();
    this.logger.log({ webhookId: id }, 'webhook signing secret rotated; the previous one signs beside it for 24 hours');
    return { ...(await this.mapOne(row)), secret };
  }

  /** A `webhook.test` event, delivered now; a failed attempt is retried on the schedule like any other. */
  async test(id: number): Promise<{ ok: boolean; result: WebhookTestResultDto }> {
    const webhook = await this.found(id);
    const deliveryId = await this.repository.raiseTest(id, {
      webhook_id: id,
      message: 'A test event from the email provider service.',
      url: webhook.url,
    });
    const { outcome, ms } = await this.dispatcher.deliverNow(deliveryId);
    const delivery = (await this.repository.delivery(deliveryId)) as DeliveryRow;
    const ok = outcome?.status === 'delivered';
    return {
      ok,
      result: {
        success: ok,
        status_code: outcome?.statusCode ?? null,
        error: outcome && outcome.status !== 'delivered' ? outcome.error : null,
        response_time: Math.round(ms) / 1000,
        delivery: this.mapDelivery(delivery),
      },
    };
  }

  async deliveries(id: number, limit: number, offset: number): Promise<Omit<DeliveryPageDto, 'next' | 'previous'>> {
    await this.found(id);
    const { count, rows } = await this.repository.deliveries(id, limit, offset);
    return { count, results: rows.map((r) => this.mapDelivery(r)) };
  }

  /** The outbound host policy, at save: a URL whose host it refuses is a 400 on `url`. */
  private async checkDestination(url: string): Promise<void> {
    const refusal = await this.policy.refusal(new URL(url).hostname.replace(/^\[|\]$/g, ''));
    if (refusal) throw AppError.validation({ url: [refusal] });
  }

  private async found(id: number): Promise<WebhookRow> {
    const row = await this.repository.findById(id);
    if (!row) throw AppError.notFound();
    return row;
  }

  private async mapOne(row: WebhookRow): Promise<WebhookResponseDto> {
    return this.map(row, (await this.repository.deliveryCounts([row.id])).get(row.id));
  }

  private map(r: WebhookRow, counts: DeliveryCounts = { pending: 0, delivering: 0, delivered: 0, failed: 0 }): WebhookResponseDto {
    const overlap = r.previous_secret_expires_at && new Date(r.previous_secret_expires_at) > this.clock.now();
    return {
      id: r.id,
      url: r.url,
      description: r.description,
      events: r.events,
      is_active: r.is_active,
      disabled_at: iso(r.disabled_at),
      disabled_reason: r.disabled_reason,
      previous_secret_expires_at: overlap ? iso(r.previous_secret_expires_at) : null,
      deliveries: counts,
      created_at: new Date(r.created_at).toISOString(),
      updated_at: new Date(r.updated_at).toISOString(),
    };
  }

  private mapDelivery(d: DeliveryRow): DeliveryResponseDto {
    return {
      id: Number(d.id),
      event_id: `evt_${d.event_id}`,
      event: d.event_type,
      status: d.status,
      attempts: d.attempts,
      last_status_code: d.last_status_code,
      last_error: d.last_error,
      last_attempt_at: iso(d.last_attempt_at),
      next_retry_at: d.status === 'pending' ? iso(d.next_attempt_at) : null,
      delivered_at: iso(d.delivered_at),
      created_at: new Date(d.created_at).toISOString(),
    };
  }
}
