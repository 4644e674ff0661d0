import { Module } from '@nestjs/common';
import { ApiKeysModule } from '../api-keys/api-keys.module.js';
import { AppConfigModule } from '../config/config.module.js';
import { DatabaseModule } from '../database/database.module.js';
import { CredentialsModule } from '../credentials/credentials.module.js';
import { ProvidersModule } from '../providers/providers.module.js';
import { WebhookStoreModule } from '../webhooks/webhook-store.module.js';
import { CreateApiKeyCommand } from './create-api-key.command.js';
import { DjangoKeyCommand } from './django-key.command.js';
import { ImportProvidersCommand } from './import-providers.command.js';
import { RotateCredentialsCommand } from './rotate-credentials.command.js';
import { SesSmtpPasswordCommand } from './ses-smtp-password.command.js';

/** Commands that work on the database. */
@Module({
  imports: [AppConfigModule, DatabaseModule, ProvidersModule, ApiKeysModule, CredentialsModule, WebhookStoreModule],
  providers: [RotateCredentialsCommand, ImportProvidersCommand, CreateApiKeyCommand],
})
export class CliModule {}

/** Commands that need no database, so they also run while an embedded-mode service holds DATA_DIR. */
@Module({ providers: [DjangoKeyCommand, SesSmtpPasswordCommand] })
export class OfflineCliModule {}

export const OFFLINE_COMMANDS = ['credentials:django-key', 'credentials:ses-smtp-password'];
