import { Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import path from 'node:path';

/** Typed, read-only view of the validated environment; the only reader of configuration. */
@Injectable()
export class AppConfig {
  constructor(private readonly config: ConfigService) {}

  private get<T>(key: string): T {
    return this.config.get<T>(key) as T;
  }

  get nodeEnv(): 'development' | 'production' | 'test' {
    return this.get('NODE_ENV');
  }
  get isProduction(): boolean {
    return this.nodeEnv === 'production';
  }
  get port(): number {
    return this.get('PORT');
  }
  get host(): string {
    return this.get('HOST');
  }
  get databaseUrl(): string | undefined {
    return this.get('DATABASE_URL');
  }
  get databasePoolSize(): number {
    return this.get('DATABASE_POOL_SIZE');
  }
  get dataDir(): string {
    return path.resolve(this.get<string>('DATA_DIR'));
  }
  get adminApiKey(): string | undefined {
    return this.get('ADMIN_API_KEY');
  }
  get fernetKeys(): string | undefined {
    return this.get('FERNET_KEYS');
  }
  get logLevel(): string {
    return this.get('LOG_LEVEL');
  }
  get logFormat(): 'json' | 'pretty' {
    return (
      this.get<'json' | 'pretty' | undefined>('LOG_FORMAT') ?? (this.nodeEnv === 'development' && process.stdout.isTTY ? 'pretty' : 'json')
    );
  }
}
