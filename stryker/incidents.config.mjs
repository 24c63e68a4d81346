import { strykerConfig } from './groups.mjs';

export default strykerConfig('incidents');
