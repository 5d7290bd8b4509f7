import { TransformationType } from 'class-transformer';
import { defaultMetadataStorage } from 'class-transformer/cjs/storage.js';
import { getMetadataStorage, type ValidationArguments, ValidationTypes } from 'class-validator';
import type { ValidationMetadata } from 'class-validator/types/metadata/ValidationMetadata.js';

type Check = (value: unknown, entity: object) => boolean;

interface Plan {
  /** The DTO's properties: the only keys a body may have. */
  known: Set<string>;
  /** Per property: its conditions (IsOptional, ValidateIf) and its rules. */
  properties: Array<{ name: string; conditions: Array<(entity: object, value: unknown) => boolean>; rules: Check[] }>;
}

/** Per DTO class: how to accept a body fast, or null when it always takes the full path. */
const plans = new WeakMap<object, Plan | null>();

/**
 * "Accept fast, reject slow" for the ValidationPipe: for a DTO whose properties are all plain
 * values checked by synchronous class-validator rules, a body that passes every rule becomes the
 * DTO instance directly, as class-transformer and class-validator would have made and passed it.
 * The same rule objects run (class-validator's own constraint classes), without the per-call
 * machinery around them: on a WebSocket send that machinery cost more than the send's storage.
 *
 * Anything else answers undefined and goes the full way, which also writes every error message:
 * a rule that fails, a key the DTO does not have, a nested object or array, a DTO with
 * class-transformer decorators, nested validation, `each`, groups, or an asynchronous rule.
 * Assumes the options of Parley's pipe (VALIDATION_OPTIONS in validation.pipe.ts, its only user):
 * whitelist with forbidNonWhitelisted, no groups, nothing skipped.
 */
export function fastAccept(metatype: unknown, value: unknown): object | undefined {
  if (typeof metatype !== 'function' || !isPlainObject(value)) return undefined;
  let plan = plans.get(metatype);
  if (plan === undefined) plans.set(metatype, (plan = planFor(metatype as new () => object)));
  if (!plan) return undefined;
  const entity = new (metatype as new () => Record<string, unknown>)();
  for (const key of Object.keys(value)) {
    const v = value[key];
    if (!plan.known.has(key) || (typeof v === 'object' && v !== null)) return undefined;
    entity[key] = v;
  }
  // The whitelist looks at the instance: a field the class itself sets (a declared field without
  // rules, say) is refused there too.
  for (const key of Object.keys(entity)) if (!plan.known.has(key)) return undefined;
  for (const { name, conditions, rules } of plan.properties) {
    const v = entity[name];
    if (!conditions.every((applies) => applies(entity, v))) continue;
    for (const rule of rules) if (!rule(v, entity)) return undefined;
  }
  return entity;
}

/** What JSON.parse makes of an object (in any realm): not an array, a Buffer or a class instance. */
function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const prototype = Object.getPrototypeOf(value) as object | null;
  return prototype === null || Object.getPrototypeOf(prototype) === null;
}

function planFor(metatype: new () => object): Plan | null {
  const metadatas = getMetadataStorage().getTargetValidationMetadatas(metatype, '', false, false, undefined);
  if (metadatas.length === 0 || hasTransformerMetadata(metatype, metadatas)) return null;
  const byProperty = new Map<string, Plan['properties'][number]>();
  for (const metadata of metadatas) {
    if (metadata.each || metadata.always || metadata.groups?.length) return null;
    const property = byProperty.get(metadata.propertyName) ?? { name: metadata.propertyName, conditions: [], rules: [] };
    byProperty.set(metadata.propertyName, property);
    if (metadata.type === ValidationTypes.CONDITIONAL_VALIDATION) {
      property.conditions.push(metadata.constraints[0] as (entity: object, value: unknown) => boolean);
    } else if (metadata.type === ValidationTypes.CUSTOM_VALIDATION) {
      const rules = ruleOf(metatype, metadata);
      if (!rules) return null;
      property.rules.push(...rules);
    } else {
      return null;
    }
  }
  return { known: new Set(byProperty.keys()), properties: [...byProperty.values()] };
}

function ruleOf(metatype: new () => object, metadata: ValidationMetadata): Check[] | null {
  const constraints = getMetadataStorage().getTargetValidatorConstraints(metadata.constraintCls);
  if (constraints.length === 0 || constraints.some((c) => c.async)) return null;
  return constraints.map((constraint) => {
    const validator = constraint.instance;
    return (value, entity) => {
      const args: ValidationArguments = {
        targetName: metatype.name,
        property: metadata.propertyName,
        object: entity,
        value,
        constraints: metadata.constraints,
      };
      // Strictly true: anything else (false, or a promise from a rule that turned out async) takes the full path.
      return validator.validate(value, args) === true;
    };
  });
}

function hasTransformerMetadata(metatype: new () => object, metadatas: ValidationMetadata[]): boolean {
  const storage = defaultMetadataStorage;
  // A class-level @Exclude() or @Expose() shows only as a strategy.
  if (storage.getStrategy(metatype) !== 'none') return true;
  if (storage.getExposedMetadatas(metatype).length > 0 || storage.getExcludedMetadatas(metatype).length > 0) return true;
  return metadatas.some(
    ({ propertyName }) =>
      storage.findTypeMetadata(metatype, propertyName) !== undefined ||
      storage.findTransformMetadatas(metatype, propertyName, TransformationType.PLAIN_TO_CLASS).length > 0 ||
      storage.findExposeMetadata(metatype, propertyName) !== undefined ||
      storage.findExcludeMetadata(metatype, propertyName) !== undefined,
  );
}
