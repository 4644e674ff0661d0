import { Controller, Get } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ApiDetailResponse } from '../common/errors/api-error-responses.js';
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
  // Terminus's @HealthCheck would document these, but it cannot load @nestjs/swagger under ESM.
  @ApiOkResponse({ description: 'Alive.', example: { status: 'ok', info: {}, error: {}, details: {} } })
  @HealthCheck()
  live(): Promise<HealthCheckResult> {
    return this.health.check([]);
  }

  @Get('ready')
  @ApiOperation({ summary: 'Readiness: the database answers and every migration is applied' })
  @ApiOkResponse({
    description: 'Ready.',
    example: {
      status: 'ok',
      info: { database: { status: 'up' }, migrations: { status: 'up' } },
      error: {},
      details: { database: { status: 'up' }, migrations: { status: 'up' } },
    },
  })
  @ApiDetailResponse(503, 'Not ready (Retry-After says when to ask again).', {
    'database down': 'Not ready: database, migrations down.',
    'migrations pending': 'Not ready: migrations down.',
  })
  @HealthCheck()
  ready(): Promise<HealthCheckResult> {
    return this.health.check([
      () => this.db.pingCheck('database', { timeout: READY_CHECK_TIMEOUT_MS }),
      () => this.migrations.check('migrations', READY_CHECK_TIMEOUT_MS),
    ]);
  }
}
