import { AppLogger } from '../logging/app-logger.js';
import { asServed } from './route-prefix.js';

describe('asServed', () => {
  it("takes the API prefix off Nest's lines about the routes served outside it, and only those", () => {
    expect(asServed('HealthController {/api/v1/health}:')).toBe('HealthController {/health}:');
    expect(asServed('Mapped {/api/v1/health, GET} route')).toBe('Mapped {/health, GET} route');
    expect(asServed('Mapped {/api/v1/health/ready, GET} route')).toBe('Mapped {/health/ready, GET} route');
    for (const line of [
      'Mapped {/api/v1/healthy, GET} route',
      'Mapped {/api/v1/users/health, GET} route',
      'UsersController {/api/v1/users}:',
    ])
      expect(asServed(line)).toBe(line);
  });

  it("is what the log shows of Nest's route lines", () => {
    const out: string[] = [];
    const logger = new AppLogger('debug', 'json', (line) => out.push(line));
    logger.log('Mapped {/api/v1/health/ready, GET} route', 'RouterExplorer');
    logger.log('Mapped {/api/v1/health/ready, GET} route', 'Elsewhere');
    expect(out.map((line) => JSON.parse(line).msg)).toEqual([
      'Mapped {/health/ready, GET} route',
      'Mapped {/api/v1/health/ready, GET} route',
    ]);
  });
});
