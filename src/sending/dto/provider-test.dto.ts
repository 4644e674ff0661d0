import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { EmailField } from '../../common/validation/drf-fields.js';

export class ProviderTestDto {
  @EmailField({ required: true, api: { description: 'Where to send the test message.', example: 'test@example.com' } })
  test_email: string;
}

export class ProviderTestResultDto {
  @ApiProperty({ example: true }) success: boolean;
  @ApiPropertyOptional({ example: 'Test email sent successfully' }) message?: string;
  @ApiPropertyOptional({
    description:
      'What the provider answered (failure only): "SMTP Error: …" for SMTP, "SES Error: …" (the SES error name and message) for Amazon SES.',
    example: 'SMTP Error: EAUTH 535 5.7.8 Authentication failed',
  })
  error?: string;
  @ApiProperty({ example: 'Gmail SMTP' }) provider_name: string;
  @ApiProperty({ description: 'Seconds.', example: 2.5 }) response_time: number;
  @ApiPropertyOptional({ description: 'The Message-ID the test message carried.', example: '<3f1c…@mail.example.com>' })
  message_id?: string;
}
