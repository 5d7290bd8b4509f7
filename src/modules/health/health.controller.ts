import { Controller, Get, HttpCode, Res } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiServiceUnavailableResponse, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { Public } from '../../common/auth/public.decorator.js';
import { HealthRegistry } from '../../common/health/health-registry.js';
import { TakesAnyQuery } from '../../common/http/query-params.guard.js';
import { LivenessDto, ReadinessDto } from './dto/health.dto.js';

@ApiTags('health')
@Public()
@TakesAnyQuery()
@Controller('health')
export class HealthController {
  constructor(private readonly registry: HealthRegistry) {}

  @Get()
  @HttpCode(200)
  @ApiOperation({ operationId: 'checkLiveness', summary: 'Liveness: the process is up and serving HTTP' })
  @ApiOkResponse({ type: LivenessDto })
  live(): LivenessDto {
    return { status: 'ok' };
  }

  @Get('ready')
  @ApiOperation({ operationId: 'checkReadiness', summary: "Readiness: each configured dependency's state; 503 when one is down" })
  @ApiOkResponse({ type: ReadinessDto })
  @ApiServiceUnavailableResponse({ type: ReadinessDto, description: 'A configured dependency is down (see its status)' })
  async ready(@Res({ passthrough: true }) res: Response): Promise<ReadinessDto> {
    const dependencies = await this.registry.report();
    const down = Object.values(dependencies).some((d) => d.status === 'down');
    res.status(down ? 503 : 200);
    return { status: down ? 'error' : 'ok', dependencies };
  }
}
