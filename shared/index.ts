export { ERROR_CATALOGUE, ERROR_CODES, type ErrorCode, type WireError, FlotillaError, isErrorCode, fromWire, toWire } from './errors.ts';
export { DEFAULT_PREFIX, assertPrefix, subjects, type Subjects } from './subjects.ts';
export { createLogger, silentLogger, type Logger, type LoggerOpts } from './logger.ts';
export { DEFAULTS, Config, type ConfigInput, loadConfig } from './config.ts';
export { encode, decode, validate } from './codec.ts';
import * as schemas from './schemas/index.ts';
export { schemas };
