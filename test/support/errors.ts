/** The FormatError a function throws; fails the test when it throws nothing or something else. */
import { FormatError } from '../../lib/errors.js';

export function formatErrorOf(run: () => unknown): FormatError {
  try {
    run();
  } catch (error) {
    if (error instanceof FormatError) return error;
    throw error;
  }
  throw new Error('expected a FormatError');
}
