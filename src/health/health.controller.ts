import { Controller, Get } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { HealthCheck, HealthCheckService, TypeOrmHealthIndicator, type HealthCheckResult } from '@nestjs/terminus';
import { Public } from '../common/auth/auth.decorators.js';
import { MigrationsHealthIndicator } from './migrations.health.js';

/** How long readiness waits on each check: a database that does not answer within it is down. */
const READY_CHECK_TIMEOUT_MS = 2000;

/** For orchestrators: no auth, outside the API prefix. */
@ApiTags('service health')
@Public()
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly db: TypeOrmHealthIndicator,
    private readonly migrations: MigrationsHealthIndicator,
  ) {}

  @Get('live')
  @ApiOperation({ summary: 'Liveness: the process answers' })
  @HealthCheck()
  live(): Promise<HealthCheckResult> {
    return this.health.check([]);
  }

  @Get('ready')
  @ApiOperation({ summary: 'Readiness: the database answers and every migration is applied' })
  @HealthCheck()
  ready(): Promise<HealthCheckResult> {
    return this.health.check([
      () => this.db.pingCheck('database', { timeout: READY_CHECK_TIMEOUT_MS }),
      () => this.migrations.check('migrations', READY_CHECK_TIMEOUT_MS),
    ]);
  }
}
