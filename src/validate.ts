/**
 * The option validators every resolver uses (the guard's options, `shed`,
 * the live page, `startOtel`, the cluster handler): each throws an
 * InvalidOptionError naming the option, what it must be, and what it got.
 * `name` is the option's full dotted name (`shed.windowMs`).
 */
import { InvalidOptionError } from './errors';

/** A plain object (not null, not an array). */
export function plainObject<T extends object>(name: string, value: unknown, expected = 'an object'): T {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new InvalidOptionError(name, expected, value);
  return value as T;
}

/** Every key of `value` is one of `known`: a misspelt option fails loudly instead of being ignored. */
export function knownKeys(prefix: string, value: object, known: readonly string[]): void {
  for (const key of Object.keys(value)) {
    if (!known.includes(key)) {
      throw new InvalidOptionError(prefix === '' ? key : `${prefix}.${key}`, `one of the known options (${known.join(', ')})`, 'an unknown option');
    }
  }
}

export function finiteNumber(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    throw new InvalidOptionError(name, `a number from ${min} to ${max}`, value);
  }
  return value;
}

export function integer(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new InvalidOptionError(name, `an integer from ${min} to ${max}`, value);
  }
  return value;
}

export function boolean(name: string, value: unknown): boolean {
  if (typeof value !== 'boolean') throw new InvalidOptionError(name, 'a boolean', value);
  return value;
}

export function optionalFunction<F>(name: string, value: unknown, expected = 'a function'): F | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'function') throw new InvalidOptionError(name, expected, value);
  return value as F;
}

/** `false` (off), `undefined` (an empty object: every default), or an object checked by `validate`; frozen. */
export function objectOrFalse<T extends object>(name: string, value: unknown, validate: (value: T) => T): Readonly<T> | false {
  if (value === false) return false;
  if (value === undefined) return Object.freeze({} as T);
  return Object.freeze(validate({ ...plainObject<T>(name, value, 'an object or false') }));
}
