/**
 * Checks a JSON Schema's shape as the user types: the keywords a schema compiler refuses
 * (wrong types of keyword values, unknown type names, bad patterns), at every key. Once the
 * text is a schema by these, the server compiles it (the editor asks after a pause, and again
 * on save); what only the compiler sees ($refs, RE2 patterns, formats) comes from there.
 */
const TYPES = new Set(['string', 'number', 'integer', 'boolean', 'object', 'array', 'null']);
const SCHEMA_MAPS = ['properties', 'patternProperties', '$defs', 'definitions', 'dependentSchemas'];
const SCHEMA_LISTS = ['allOf', 'anyOf', 'oneOf', 'prefixItems'];
const SCHEMA_ONE = ['not', 'if', 'then', 'else', 'additionalProperties', 'unevaluatedProperties', 'propertyNames', 'contains', 'additionalItems', 'unevaluatedItems'];
const NUMBERS = ['minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'multipleOf'];
const COUNTS = ['minLength', 'maxLength', 'minItems', 'maxItems', 'minProperties', 'maxProperties', 'minContains', 'maxContains'];

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export function checkSchema(schema: unknown, path = '#', errors: string[] = []): string[] {
  if (typeof schema === 'boolean') return errors;
  if (!isObj(schema)) {
    errors.push(`${path}: a schema must be an object or a boolean`);
    return errors;
  }
  const s = schema;
  if ('type' in s) {
    const t = s.type;
    const list = Array.isArray(t) ? t : [t];
    for (const x of list) if (typeof x !== 'string' || !TYPES.has(x)) errors.push(`${path}/type: ${JSON.stringify(x)} is not a JSON Schema type`);
  }
  if ('required' in s && (!Array.isArray(s.required) || s.required.some((r) => typeof r !== 'string'))) errors.push(`${path}/required: must be an array of property names`);
  if ('enum' in s && !Array.isArray(s.enum)) errors.push(`${path}/enum: must be an array`);
  if ('pattern' in s) {
    if (typeof s.pattern !== 'string') errors.push(`${path}/pattern: must be a string`);
    else
      try {
        new RegExp(s.pattern, 'u');
      } catch (e) {
        errors.push(`${path}/pattern: ${(e as Error).message}`);
      }
  }
  if ('$ref' in s && typeof s.$ref !== 'string') errors.push(`${path}/$ref: must be a string`);
  if ('format' in s && typeof s.format !== 'string') errors.push(`${path}/format: must be a string`);
  for (const k of NUMBERS) if (k in s && typeof s[k] !== 'number') errors.push(`${path}/${k}: must be a number`);
  for (const k of COUNTS) if (k in s && (typeof s[k] !== 'number' || !Number.isInteger(s[k]) || (s[k] as number) < 0)) errors.push(`${path}/${k}: must be a whole number ≥ 0`);
  for (const k of SCHEMA_MAPS) {
    if (!(k in s)) continue;
    if (!isObj(s[k])) errors.push(`${path}/${k}: must be an object of schemas`);
    else for (const [name, sub] of Object.entries(s[k] as object)) checkSchema(sub, `${path}/${k}/${name}`, errors);
  }
  for (const k of SCHEMA_LISTS) {
    if (!(k in s)) continue;
    if (!Array.isArray(s[k])) errors.push(`${path}/${k}: must be an array of schemas`);
    else (s[k] as unknown[]).forEach((sub, i) => checkSchema(sub, `${path}/${k}/${i}`, errors));
  }
  for (const k of SCHEMA_ONE) if (k in s) checkSchema(s[k], `${path}/${k}`, errors);
  if ('items' in s) {
    if (Array.isArray(s.items)) (s.items as unknown[]).forEach((sub, i) => checkSchema(sub, `${path}/items/${i}`, errors));
    else checkSchema(s.items, `${path}/items`, errors);
  }
  if ('examples' in s && !Array.isArray(s.examples)) errors.push(`${path}/examples: must be an array`);
  return errors;
}

/** The textarea's text: a JSON parse error, or the schema's problems, or none. */
export function checkSchemaText(text: string): { schema: unknown; errors: string[] } {
  if (text.trim() === '') return { schema: null, errors: [] };
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    return { schema: undefined, errors: [`JSON: ${(e as Error).message}`] };
  }
  return { schema: parsed, errors: checkSchema(parsed) };
}
