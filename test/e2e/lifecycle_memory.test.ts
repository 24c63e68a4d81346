import { describeLifecycle } from './lifecycle.js';

describeLifecycle('memory', async () => ({ kind: 'memory' }));
