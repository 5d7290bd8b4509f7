import { Module } from '@nestjs/common';
import { HealthController } from './health.controller.js';

/** GET /health and /health/ready. The checks themselves come from the global HealthRegistry. */
@Module({ controllers: [HealthController] })
export class HealthModule {}
