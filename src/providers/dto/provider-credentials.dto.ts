import { ApiProperty, PickType } from '@nestjs/swagger';
import { CharField } from '../../common/validation/drf-fields.js';
import { ProviderCreateDto } from './provider-create.dto.js';

/** Everything that decides how we connect to the provider, changed together. */
export class ProviderCredentialsDto extends PickType(ProviderCreateDto, [
  'smtp_host',
  'smtp_port',
  'smtp_username',
  'smtp_use_tls',
  'smtp_use_ssl',
  'aws_region',
  'aws_access_key_id',
] as const) {
  @CharField({
    maxLength: 1024,
    allowBlank: true,
    nullable: true,
    api: {
      description: 'Write-only. Left out or blank keeps the stored password; `null` removes it (a server without AUTH).',
      example: 'new-app-password',
      writeOnly: true,
    },
  })
  smtp_password?: string | null;

  @CharField({
    maxLength: 1024,
    allowBlank: true,
    nullable: true,
    api: { description: 'Write-only AWS secret access key. Left out or blank keeps the stored one.', writeOnly: true },
  })
  aws_secret_access_key?: string | null;
}

/** The non-secret connection settings after the change. */
export class ProviderCredentialsResponseDto {
  @ApiProperty({ nullable: true, type: String, example: 'smtp.example.com' }) smtp_host: string | null;
  @ApiProperty({ nullable: true, type: 'integer', example: 587 }) smtp_port: number | null;
  @ApiProperty({ nullable: true, type: String, example: 'mailer@example.com' }) smtp_username: string | null;
  @ApiProperty({ description: 'Whether an SMTP password is stored (it is never returned).', example: true }) has_smtp_password: boolean;
  @ApiProperty({ example: true }) smtp_use_tls: boolean;
  @ApiProperty({ example: false }) smtp_use_ssl: boolean;
  @ApiProperty({ nullable: true, type: String, example: null }) aws_region: string | null;
  @ApiProperty({ nullable: true, type: String, example: null }) aws_access_key_id: string | null;
  @ApiProperty({ example: false }) has_aws_secret_access_key: boolean;
}

/**
 * Named request examples; the first (which Swagger UI fills in) changes no secret, since fields
 * left out keep their values.
 */
export const PROVIDER_CREDENTIALS_EXAMPLES = {
  'implicit TLS': { summary: 'SMTP: switch to implicit TLS on 465', value: { smtp_port: 465, smtp_use_tls: false, smtp_use_ssl: true } },
  'new SMTP server': {
    summary: 'SMTP: another server and login',
    value: {
      smtp_host: 'smtp.example.org',
      smtp_port: 587,
      smtp_username: 'mailer@example.org',
      smtp_password: 'new-app-password',
      smtp_use_tls: true,
      smtp_use_ssl: false,
    },
  },
  'new AWS keys': {
    summary: 'Amazon SES: rotate the access key',
    value: { aws_access_key_id: 'AKIAIOSFODNN7EXAMPLE', aws_secret_access_key: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' },
  },
};
