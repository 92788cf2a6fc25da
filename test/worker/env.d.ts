// `env` from cloudflare:test is typed as Cloudflare.Env: make it the app's bindings plus the
// migrations the vitest config passes in.
import type { D1Migration } from 'cloudflare:test';
import type { Env as AppBindings } from '../../worker/env.ts';

declare global {
  namespace Cloudflare {
    interface Env extends AppBindings {
      TEST_MIGRATIONS: D1Migration[];
    }
  }
}
