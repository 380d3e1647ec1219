// StrykerJS's TypeScript checker, and Stryker's own tsconfig handling, call TypeScript's
// JavaScript compiler API, which TypeScript 7 (the native port the project builds with) no
// longer ships. For importers inside @stryker-mutator only, this resolve hook sends
// "typescript" to typescript5 (an npm alias of TypeScript 5.9, which has that API) and
// "@typescript/native" to the project's own TypeScript 7, which the checker's native mode
// type-checks each mutant with. Everything else resolves as before.
import { registerHooks } from "node:module";

const strykerParent = /[\\/]node_modules[\\/]@stryker-mutator[\\/]/;
const typescript = /^typescript(?=\/|$)/;
const native = /^@typescript\/native(?=\/|$)/;

registerHooks({
  resolve(specifier, context, nextResolve) {
    if (strykerParent.test(decodeURI(context.parentURL ?? ""))) {
      if (typescript.test(specifier)) return nextResolve(specifier.replace(typescript, "typescript5"), context);
      if (native.test(specifier)) return nextResolve(specifier.replace(native, "typescript"), context);
    }
    return nextResolve(specifier, context);
  },
});
