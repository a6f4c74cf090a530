// The catalogue error a call is expected to throw, as { code, message }; anything else fails.
import { isCountersignError } from '../../src/errors.js';

export interface Refusal {
  readonly code: string;
  readonly message: string;
}

/** The refusal `run` throws (it must throw a catalogue error). */
export function refusal(run: () => unknown): Refusal {
  try {
    run();
  } catch (error) {
    return asRefusal(error);
  }
  throw new Error('expected a refusal');
}

/** The refusal `run` throws or rejects with. */
export async function refusalAsync(run: () => unknown): Promise<Refusal> {
  try {
    await run();
  } catch (error) {
    return asRefusal(error);
  }
  throw new Error('expected a refusal');
}

function asRefusal(error: unknown): Refusal {
  if (isCountersignError(error)) return { code: error.code, message: error.message };
  throw error;
}
