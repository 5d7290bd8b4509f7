import { ApiProperty } from '@nestjs/swagger';

export class LivenessDto {
  @ApiProperty({ example: 'ok' })
  status: 'ok';
}

export class DependencyStateDto {
  @ApiProperty({ enum: ['up', 'down'] })
  status: 'up' | 'down';
  @ApiProperty({
    example: 'postgres',
    description: 'How the dependency is provided (postgres, embedded, s3, local-files, smtp, outbox, redis, in-process, …)',
  })
  mode: string;
  @ApiProperty({ type: 'integer' })
  latencyMs: number;
  @ApiProperty({
    required: false,
    description:
      'Why it is down; under APP_ENV=PRODUCTION only "down; the server log says why" (the reason names hosts), and the log has it',
  })
  error?: string;
}

export class ReadinessDto {
  @ApiProperty({ enum: ['ok', 'error'] })
  status: 'ok' | 'error';
  @ApiProperty({ type: 'object', additionalProperties: { $ref: '#/components/schemas/DependencyStateDto' } })
  dependencies: Record<string, DependencyStateDto>;
}
