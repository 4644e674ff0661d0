import { ApiProperty } from '@nestjs/swagger';
import { EmailField } from '../../common/validation/drf-fields.js';

export class ProviderTestDto {
  @EmailField({
    required: true,
    api: { description: 'Where to send the test message: a real message goes there.', example: 'test@example.com' },
  })
  test_email: string;
}

/** 200: the provider accepted the test message. */
export class ProviderTestSuccessDto {
  @ApiProperty({ description: 'Always true here.', example: true }) success: true;
  @ApiProperty({ example: 'Test email sent successfully' }) message: string;
  @ApiProperty({ example: 'Main SMTP relay' }) provider_name: string;
  @ApiProperty({ description: 'Seconds.', example: 0.84 }) response_time: number;
  @ApiProperty({
    description: 'The Message-ID the test message carried.',
    example: '<5b0e6f2a-3c4d-4e5f-8a9b-0c1d2e3f4a5b@mail.example.com>',
  })
  message_id: string;
}

/** 400: the provider refused or could not be reached; what it answered, never a secret. */
export class ProviderTestFailureDto {
  @ApiProperty({ description: 'Always false here.', example: false }) success: false;
  @ApiProperty({
    description: 'What the provider answered: "SMTP Error: …" for SMTP, "SES Error: …" (the SES error name and message) for Amazon SES.',
    example: 'SMTP Error: EAUTH 535 5.7.8 Authentication failed',
  })
  error: string;
  @ApiProperty({ example: 'Main SMTP relay' }) provider_name: string;
  @ApiProperty({ description: 'Seconds.', example: 1.2 }) response_time: number;
}

export type ProviderTestResultDto = ProviderTestSuccessDto | ProviderTestFailureDto;
