import { Body, Controller, Delete, Get, HttpCode, Patch, Post, Query, Req } from '@nestjs/common';
import { ApiBody, ApiCreatedResponse, ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Request } from 'express';
import { RequireScope } from '../common/auth/auth.decorators.js';
import { ApiNotFound, ApiValidationErrors } from '../common/errors/api-error-responses.js';
import { pageLinks, pageOf, PageQuery } from '../common/pagination.js';
import { ApiIdParam, IdParam } from '../common/validation/id.param.js';
import { WebhookCreateDto } from './dto/webhook-create.dto.js';
import { DeliveryPageDto, WebhookCreatedDto, WebhookResponseDto, WebhookTestResultDto } from './dto/webhook-response.dto.js';
import { WEBHOOK_UPDATE_EXAMPLES, WebhookUpdateDto } from './dto/webhook-update.dto.js';
import { WebhooksService } from './webhooks.service.js';

@ApiTags('webhooks')
@RequireScope('webhooks')
@Controller('webhooks')
export class WebhooksController {
  constructor(private readonly webhooks: WebhooksService) {}

  @Post()
  @ApiOperation({
    summary: 'Register an endpoint for delivery events; the signing secret is in this response only',
    description:
      'Events are POSTed as JSON `{"type", "timestamp", "data"}`, signed by the Standard Webhooks scheme (`webhook-id`, ' +
      '`webhook-timestamp`, `webhook-signature`). A 2xx within WEBHOOK_TIMEOUT_SECONDS is delivered; anything else is retried for ' +
      'about a day; 410 Gone turns the endpoint off.',
  })
  @ApiCreatedResponse({ type: WebhookCreatedDto, description: 'Created; `secret` is shown this once.' })
  @ApiValidationErrors({
    url: [
      'Connections to this host are not allowed: it resolves to a private network address (an operator can allow it with OUTBOUND_ALLOW).',
    ],
    events: ['"email.opened" is not a valid choice.'],
  })
  create(@Body() dto: WebhookCreateDto): Promise<WebhookCreatedDto> {
    return this.webhooks.create(dto);
  }

  @Get()
  @ApiOperation({ summary: 'List webhook endpoints (without their secrets)' })
  @ApiOkResponse({ type: WebhookResponseDto, isArray: true, description: 'Every endpoint, oldest first, without secrets.' })
  list(): Promise<WebhookResponseDto[]> {
    return this.webhooks.list();
  }

  @Get(':id')
  @ApiOperation({ summary: 'One webhook endpoint, with its deliveries counted by status' })
  @ApiIdParam()
  @ApiOkResponse({ type: WebhookResponseDto, description: 'The endpoint, without its secret.' })
  @ApiNotFound('webhook endpoint')
  get(@IdParam() id: number): Promise<WebhookResponseDto> {
    return this.webhooks.get(id);
  }

  @Patch(':id')
  @ApiOperation({ summary: 'Change an endpoint; `is_active: true` turns it on again (its held deliveries resume)' })
  @ApiIdParam()
  @ApiBody({ type: WebhookUpdateDto, examples: WEBHOOK_UPDATE_EXAMPLES })
  @ApiOkResponse({ type: WebhookResponseDto, description: 'Changed.' })
  @ApiValidationErrors({ url: ['Enter a valid URL.'] })
  @ApiNotFound('webhook endpoint')
  update(@IdParam() id: number, @Body() dto: WebhookUpdateDto): Promise<WebhookResponseDto> {
    return this.webhooks.update(id, dto);
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiOperation({ summary: 'Delete an endpoint and its deliveries' })
  @ApiIdParam()
  @ApiNoContentResponse({ description: 'Deleted.' })
  @ApiNotFound('webhook endpoint')
  async delete(@IdParam() id: number): Promise<void> {
    await this.webhooks.delete(id);
  }

  @Post(':id/rotate_secret')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Replace the signing secret; the old one keeps signing beside the new one for 24 hours',
    description: 'During the overlap every delivery carries two signatures in `webhook-signature`, one per secret.',
  })
  @ApiIdParam()
  @ApiOkResponse({ type: WebhookCreatedDto, description: 'The new `secret`, shown this once.' })
  @ApiNotFound('webhook endpoint')
  rotateSecret(@IdParam() id: number): Promise<WebhookCreatedDto> {
    return this.webhooks.rotateSecret(id);
  }

  @Post(':id/test')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Send a `webhook.test` event to this endpoint now',
    description:
      'Delivered at once, whatever the endpoint subscribes to (and even while it is turned off), and answered with what the receiver ' +
      'said: `success` is true for a 2xx. A failed attempt is retried on the schedule like any delivery.',
  })
  @ApiIdParam()
  @ApiOkResponse({ type: WebhookTestResultDto, description: 'What the receiver answered (`success: false` when it failed).' })
  @ApiNotFound('webhook endpoint')
  async test(@IdParam() id: number): Promise<WebhookTestResultDto> {
    return (await this.webhooks.test(id)).result;
  }

  @Get(':id/deliveries')
  @ApiOperation({ summary: "An endpoint's deliveries, newest first: event, attempts, last status code and error, next retry" })
  @ApiIdParam()
  @ApiOkResponse({ type: DeliveryPageDto, description: 'One page of deliveries.' })
  @ApiNotFound('webhook endpoint')
  async deliveries(@IdParam() id: number, @Query() query: PageQuery, @Req() req: Request): Promise<DeliveryPageDto> {
    const { page, size, offset } = pageOf(query);
    const { count, results } = await this.webhooks.deliveries(id, size, offset);
    return { count, ...pageLinks(req, page, size, count), results };
  }
}
