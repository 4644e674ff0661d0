import { Body, Controller, HttpCode, Post } from '@nestjs/common';
import { ApiBody, ApiConsumes, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Public } from '../common/auth/auth.decorators.js';
import { ApiDetailResponse, ApiNotFound } from '../common/errors/api-error-responses.js';
import { ApiIdParam, IdParam } from '../common/validation/id.param.js';
import { SesNotificationResultDto } from './dto/ses-notification-result.dto.js';
import { SesNotificationsService } from './ses-notifications.service.js';

@ApiTags('providers')
@Controller('providers')
export class SesNotificationsController {
  constructor(private readonly notifications: SesNotificationsService) {}

  @Post(':id/ses_notifications')
  @Public()
  @HttpCode(200)
  @ApiOperation({
    summary: "Amazon SNS HTTPS endpoint for an SES provider's bounces, complaints and deliveries",
    description:
      "Subscribe this URL to the SNS topic of the configuration set's event destination. No bearer token: every message must " +
      "carry a valid SNS signature (SignatureVersion 1 or 2, certificate from Amazon SNS's own host). SNS posts JSON as text/plain.",
  })
  @ApiIdParam()
  @ApiConsumes('text/plain', 'application/json')
  @ApiBody({
    description: 'An SNS message (Notification, SubscriptionConfirmation or UnsubscribeConfirmation).',
    schema: { type: 'object' },
  })
  @ApiOkResponse({ type: SesNotificationResultDto, description: 'Accepted (SNS retries anything else).' })
  @ApiDetailResponse(403, 'Not a message signed by Amazon SNS; nothing was changed.', {
    'bad signature': 'Invalid SNS message signature.',
    'certificate elsewhere': 'SigningCertURL is not an Amazon SNS certificate URL.',
  })
  @ApiNotFound('aws_ses provider')
  async receive(@IdParam() id: number, @Body() body: unknown): Promise<SesNotificationResultDto> {
    return { result: await this.notifications.receive(id, body) };
  }
}
