import { Body, Controller, HttpCode, Post, Res } from '@nestjs/common';
import { ApiBadRequestResponse, ApiExtraModels, ApiOkResponse, ApiOperation, ApiTags, getSchemaPath } from '@nestjs/swagger';
import type { Response } from 'express';
import { RequireScope } from '../common/auth/auth.decorators.js';
import { ApiDetailResponse, ApiNotFound } from '../common/errors/api-error-responses.js';
import { ApiIdParam, IdParam } from '../common/validation/id.param.js';
import { ProviderTestDto, ProviderTestFailureDto, ProviderTestSuccessDto, type ProviderTestResultDto } from './dto/provider-test.dto.js';
import { SendingService } from './sending.service.js';

/**
 * POST /providers/:id/test, a send, so it lives beside the sending code; a controller of its own so
 * that the OpenAPI document lists it under `providers` alone (tags add up with the class's).
 */
@ApiTags('providers')
@ApiExtraModels(ProviderTestFailureDto)
@Controller('providers')
export class ProviderTestController {
  constructor(private readonly sending: SendingService) {}

  @Post(':id/test')
  @HttpCode(200)
  @RequireScope('providers:write')
  @ApiOperation({
    summary: 'Send a real test message through this provider alone (recorded and counted like any send)',
    description: 'A failure of the provider is a 400 with `success: false` and what the provider answered.',
  })
  @ApiIdParam()
  @ApiOkResponse({
    type: ProviderTestSuccessDto,
    description: 'The provider accepted the test message.',
    examples: {
      sent: {
        summary: 'Sent',
        value: {
          success: true,
          message: 'Test email sent successfully',
          provider_name: 'Main SMTP relay',
          response_time: 0.84,
          message_id: '<5b0e6f2a-3c4d-4e5f-8a9b-0c1d2e3f4a5b@mail.example.com>',
        },
      },
    },
  })
  @ApiBadRequestResponse({
    description:
      'The provider refused the message or could not be reached (`success: false`), or the input is invalid (messages keyed by field).',
    schema: {
      oneOf: [
        { $ref: getSchemaPath(ProviderTestFailureDto) },
        { type: 'object', additionalProperties: { type: 'array', items: { type: 'string' } } },
      ],
    },
    examples: {
      'provider failed': {
        summary: 'The provider failed',
        value: {
          success: false,
          error: 'SMTP Error: EAUTH 535 5.7.8 Authentication failed',
          provider_name: 'Main SMTP relay',
          response_time: 1.2,
        },
      },
      'invalid input': { summary: 'Invalid input', value: { test_email: ['Enter a valid email address.'] } },
    },
  })
  @ApiDetailResponse(429, 'The provider is at one of its limits (Retry-After says when, if it knows).', {
    'provider at its limit': 'Provider Main SMTP relay is at its minute limit.',
  })
  @ApiNotFound('provider')
  async test(
    @IdParam() id: number,
    @Body() dto: ProviderTestDto,
    @Res({ passthrough: true }) res: Response,
  ): Promise<ProviderTestResultDto> {
    const { result, ok } = await this.sending.test(id, dto.test_email);
    if (!ok) res.status(400);
    return result;
  }
}
