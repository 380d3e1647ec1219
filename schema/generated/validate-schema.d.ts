/* Types of the schema validator, generated from schema/config.schema.json by `adsync types`. Do not edit: change the schema and regenerate. */
import type { ErrorObject } from "ajv";
export interface SchemaValidator {
  (data: unknown): boolean;
  errors?: ErrorObject[] | null;
}
declare const validate: SchemaValidator;
export default validate;
